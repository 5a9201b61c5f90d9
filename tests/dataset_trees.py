"""Writers of tiny copies of the real data sets, with their exact folder and file names.

Each writer puts a small tree under `root` and returns the path to hand to the matching layout parser
(exposure_lab.data.layouts). Images are small (24×32 by default), smooth but structured (never flat), and
JPEG wherever the real set uses .jpg/.JPG names. Inputs are darker/brighter renditions of their ground truth,
so paired losses and metrics behave sensibly. Every writer is deterministic for a given `seed`. Pass an
empty sequence to leave a split (or expert, or exposure folder) out.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from exposure_lab.data.io import write_image

Size = tuple[int, int]  # (height, width)
SIZE: Size = (24, 32)

# Afifi et al. (MSEC): FiveK scene ids; the test ids are those of real test inputs (msec_examples).
AFIFI_TRAIN_SCENES = ("a0001-jmac_DSC1459", "a0002-dgw_005", "a0003-NKIM_MG_8178")
AFIFI_VAL_SCENES = ("a0004-jmac_MG_1384",)
AFIFI_TEST_SCENES = ("a4608-Duggan_080413_6147", "a4875-DSC_0382")
AFIFI_EV_SUFFIXES = ("N1.5", "N1", "0", "P1", "P1.5")
AFIFI_EXPERTS = ("a", "b", "c", "d", "e")

# Endo4IE frames come from Kvasir (UUID file names) and EAD2020.
ENDO4IE_TRAIN_FRAMES = (
    "0a7bdce4-ac0d-44ef-93ee-92dfc8fe0b81.jpg",
    "0b1f4e3c-9a4d-4c8e-8f5e-5b8e0b8f5d6a.jpg",
    "0cdb8bd8-1a64-49ab-9b52-24a8dbb05b8c.jpg",
)
ENDO4IE_VAL_FRAMES = ("1d35a2a9-8f31-4c5e-9a2f-6f0e6b1e3a47.jpg",)
ENDO4IE_TEST_FRAMES = ("2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg", "3e9b0c4d-2f6a-4e1b-9c8d-7b5a3f1e0d2c.jpg")
ENDO4IE_SPLIT_FOLDERS = {"train": "training", "val": "validation", "test": "test"}
ENDO4IE_EXPOSURES = ("Overexposed", "Underexposed")

# LOL: our485/eval15 use numeric names (eval15 = 1, 22, 23, 55, ...); LOL-v2 real uses low00001 ↔ normal00001
# (Train 00001–00689, Test 00690–00789); LOL-v2 synthetic uses identical RAISE-style names.
LOL_V1_TRAIN = ("2.png", "5.png", "10.png")
LOL_V1_TEST = ("1.png", "22.png")
LOL_V2_REAL_TRAIN = ("00001", "00002", "00003")
LOL_V2_REAL_TEST = ("00690", "00691")
LOL_V2_SYNTHETIC_TRAIN = ("r000da4f1t.png", "r00f2f9f0t.png", "r01bd0b93t.png")
LOL_V2_SYNTHETIC_TEST = ("r02a4a4f5t.png", "r03c1bc5dt.png")

# IEA40K: FiveK references at the exposures of the *_2ev.csv lists.
IEA40K_REFERENCES = ("a0001-jmac_DSC1459", "a0002-dgw_005")
IEA40K_SUFFIXES = ("N2", "N1", "P0", "P1", "P2")
IEA40K_IDS = tuple(f"{ref}_{suffix}.png" for ref in IEA40K_REFERENCES for suffix in IEA40K_SUFFIXES)


def tree_image(generator: torch.Generator, size: Size = SIZE) -> torch.Tensor:
    """A (3, H, W) float image in [0.1, 0.9]: a smooth colour field with gradients and fine texture."""
    height, width = size
    coarse = torch.rand(1, 3, 4, 5, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=size, mode="bicubic", align_corners=False)[0]
    ramp = torch.linspace(0, 1, width).expand(height, width)
    fine = torch.rand(3, height, width, generator=generator)
    return (0.1 + 0.8 * (0.6 * smooth + 0.25 * ramp + 0.15 * fine)).clamp(0.1, 0.9)


def exposed(image: torch.Tensor, ev: float) -> torch.Tensor:
    """`image` rendered at a relative exposure of `ev` stops (linearised with gamma 2.2, clipped at 1)."""
    return (image.pow(2.2) * 2.0**ev).clamp(0, 1).pow(1 / 2.2)


def write_afifi_tree(
    root: str | Path,
    train_scenes: Sequence[str] = AFIFI_TRAIN_SCENES,
    val_scenes: Sequence[str] = AFIFI_VAL_SCENES,
    test_scenes: Sequence[str] = AFIFI_TEST_SCENES,
    ev_suffixes: Sequence[str] = AFIFI_EV_SUFFIXES,
    experts: Sequence[str] = AFIFI_EXPERTS,
    size: Size = SIZE,
    seed: int = 0,
) -> Path:
    """The Afifi et al. exposure set: `training|validation/{INPUT_IMAGES,GT_IMAGES}` and
    `testing/INPUT_IMAGES` with `testing/expert_{a..e}_testing_set`.

    Inputs are `<scene>_<suffix>.JPG` (suffix N1.5, N1, 0, P1, P1.5 → EV −1.5 … +1.5), the ground truth
    `GT_IMAGES/<scene>.jpg` (expert C); expert X's test rendition `expert_x_testing_set/<scene>.jpg` is the
    scene at gamma 0.8, 0.9, 1.0 (= C), 1.1, 1.2 for A–E. A split with no scenes is not written.
    """
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    ev_of = {"N1.5": -1.5, "N1": -1.0, "0": 0.0, "P1": 1.0, "P1.5": 1.5}
    for folder, scenes in (("training", train_scenes), ("validation", val_scenes), ("testing", test_scenes)):
        for scene in scenes:
            gt = tree_image(generator, size)
            for suffix in ev_suffixes:
                write_image(
                    root / folder / "INPUT_IMAGES" / f"{scene}_{suffix}.JPG", exposed(gt, ev_of[suffix])
                )
            if folder != "testing":
                write_image(root / folder / "GT_IMAGES" / f"{scene}.jpg", gt)
                continue
            for expert in experts:
                gamma = 1.0 + 0.1 * (AFIFI_EXPERTS.index(expert) - 2)
                write_image(root / folder / f"expert_{expert}_testing_set" / f"{scene}.jpg", gt.pow(gamma))
    return root


def write_endo4ie_tree(
    root: str | Path,
    layout: str = "A",
    train_frames: Sequence[str] = ENDO4IE_TRAIN_FRAMES,
    val_frames: Sequence[str] = ENDO4IE_VAL_FRAMES,
    test_frames: Sequence[str] = ENDO4IE_TEST_FRAMES,
    split_folders: dict[str, str] = ENDO4IE_SPLIT_FOLDERS,
    exposures: Sequence[str] = ENDO4IE_EXPOSURES,
    size: Size = SIZE,
    seed: int = 0,
) -> Path:
    """Endo4IE in layout "A" (`<split>/{exp_images,gt_images}/<frame>`, each frame over- or under-exposed in
    turn) or "B" (`<split>/{Overexposed,Underexposed,Normal_frames}/<frame>`, every frame in each of
    `exposures`). Split folders are named by `split_folders` (canonical split → folder name).
    """
    if layout not in ("A", "B"):
        raise ValueError(f"layout must be 'A' or 'B', got {layout!r}")
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    frames_of = {"train": train_frames, "val": val_frames, "test": test_frames}
    for split, frames in frames_of.items():
        split_dir = root / split_folders[split]
        for index, frame in enumerate(frames):
            gt = tree_image(generator, size)
            if layout == "A":
                write_image(split_dir / "gt_images" / frame, gt)
                write_image(split_dir / "exp_images" / frame, exposed(gt, 1.5 if index % 2 else -1.5))
                continue
            write_image(split_dir / "Normal_frames" / frame, gt)
            for folder in exposures:
                write_image(split_dir / folder / frame, exposed(gt, 1.5 if folder == "Overexposed" else -1.5))
    return root


def write_lol_tree(
    root: str | Path,
    variant: str = "v1",
    train_ids: Sequence[str] | None = None,
    test_ids: Sequence[str] | None = None,
    size: Size = SIZE,
    seed: int = 0,
) -> Path:
    """LOL in one of its released layouts; returns the root to give `lol_samples(root, variant, split)`.

    - "v1": `our485/{low,high}/<id>` (train) and `eval15/{low,high}/<id>` (test), ids like "2.png";
    - "v2_real": `Real_captured/{Train,Test}/Low/low<id>.png` ↔ `.../Normal/normal<id>.png`, ids like "00001";
    - "v2_synthetic": `Synthetic/{Train,Test}/{Low,Normal}/<id>`, ids like "r000da4f1t.png";
    - "flat": `train_val/{low,high}/<id>` (train) and `test/{low,high}/<id>` (test), ids like "2.png".
    For the v2 variants the returned root is the `LOL-v2` parent (the variant folder works as root too).
    """
    defaults = {
        "v1": (LOL_V1_TRAIN, LOL_V1_TEST, "our485", "eval15", "low", "high"),
        "v2_real": (
            LOL_V2_REAL_TRAIN,
            LOL_V2_REAL_TEST,
            "Real_captured/Train",
            "Real_captured/Test",
            "Low",
            "Normal",
        ),
        "v2_synthetic": (
            LOL_V2_SYNTHETIC_TRAIN,
            LOL_V2_SYNTHETIC_TEST,
            "Synthetic/Train",
            "Synthetic/Test",
            "Low",
            "Normal",
        ),
        "flat": (LOL_V1_TRAIN, LOL_V1_TEST, "train_val", "test", "low", "high"),
    }
    if variant not in defaults:
        raise ValueError(f"variant must be one of {', '.join(defaults)}, got {variant!r}")
    default_train, default_test, train_folder, test_folder, low, high = defaults[variant]
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    for folder, ids in (
        (train_folder, default_train if train_ids is None else train_ids),
        (test_folder, default_test if test_ids is None else test_ids),
    ):
        for image_id in ids:
            low_name, high_name = (
                (f"low{image_id}.png", f"normal{image_id}.png")
                if variant == "v2_real"
                else (image_id, image_id)
            )
            normal = tree_image(generator, size)
            write_image(root / folder / high / high_name, normal)
            write_image(root / folder / low / low_name, exposed(normal, -3.0))
    return root


def write_iea40k_tree(
    root: str | Path,
    img_ids: Sequence[str] = IEA40K_IDS,
    csv_name: str | None = "train_256_2ev.csv",
    size: Size = SIZE,
    seed: int = 0,
) -> Path:
    """IEA40K: `IEA_img/<img_id>`, `label/exposure_condition/<img_id stem>.npy`, `label/global_best/<ref_id>`,
    and (unless `csv_name` is None) the split list `<root>/<csv_name>` with header img_id,ref_id,score.

    Ids look like `a0001-jmac_DSC1459_N1.png` (suffix N1..N4 → −1..−4 EV, P0..P4 → 0..+4); the reference
    `ref_id` is the id without suffix. Labels are float32 (H, W) residuals (gray(reference) − gray(image))
    × 255 in [−255, 255] (+ under-exposed, − over-exposed); scores fall with |EV| (8.0 − 1.5·|EV|).
    """
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    references: dict[str, torch.Tensor] = {}
    rows = []
    for img_id in img_ids:
        stem = Path(img_id).stem
        ref, _, suffix = stem.rpartition("_")
        ev = (-1.0 if suffix[0] == "N" else 1.0) * float(suffix[1:])
        ref_id = f"{ref}.png"
        if ref_id not in references:
            references[ref_id] = tree_image(generator, size)
            write_image(root / "label" / "global_best" / ref_id, references[ref_id])
        image = exposed(references[ref_id], 0.5 * ev)
        write_image(root / "IEA_img" / img_id, image)
        residual = ((references[ref_id] - image) * luma).sum(0) * 255.0
        label_path = root / "label" / "exposure_condition" / f"{stem}.npy"
        label_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(label_path, residual.numpy().astype(np.float32))
        rows.append((img_id, ref_id, f"{8.0 - 1.5 * abs(ev):.2f}"))
    if csv_name is not None:
        with (root / csv_name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("img_id", "ref_id", "score"))
            writer.writerows(rows)
    return root
