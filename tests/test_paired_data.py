"""PairedImageDataset and PairedDataModule on tiny folders in the Afifi et al. layout."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from tests.helpers import compose_data

from exposure_lab.data.datasets import PairedImageDataset, dihedral
from exposure_lab.data.io import write_array
from exposure_lab.data.layouts import paired_folder_samples
from exposure_lab.data.paired import PairedDataModule
from exposure_lab.data.samples import Sample, split_by_scene
from exposure_lab.errors import DataLayoutError

SUFFIXES = ("N1.5", "N1", "0", "P1", "P1.5")


def write_afifi_folder(root: Path, scenes: int, height: int = 40, width: int = 48, seed: int = 0) -> Path:
    """`root/INPUT_IMAGES/<scene>_<EV>.png` and `root/GT_IMAGES/<scene>.png`; every input is 255 − target
    (pixelwise), so any misaligned crop or transform breaks `input + target == 1`."""
    rng = np.random.default_rng(seed)
    for s in range(scenes):
        target = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        write_array(root / "GT_IMAGES" / f"scene{s:02d}.png", target)
        for suffix in SUFFIXES:
            write_array(root / "INPUT_IMAGES" / f"scene{s:02d}_{suffix}.png", 255 - target)
    return root


@pytest.fixture(scope="module")
def afifi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_afifi_folder(tmp_path_factory.mktemp("afifi"), scenes=6)


def samples_of(root: Path) -> list[Sample]:
    return paired_folder_samples(root / "INPUT_IMAGES", root / "GT_IMAGES")


def pair_sample(source: Path, target: Path) -> Sample:
    return Sample(input=source, name=source.name, scene=target.stem, target=target)


def test_random_crops_and_dihedral_transforms_stay_aligned(afifi):
    dataset = PairedImageDataset(samples_of(afifi), patch_size=16, augment=True)
    torch.manual_seed(0)
    seen = set()
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["input"].shape == item["target"].shape == (3, 16, 16)
        assert torch.allclose(item["input"] + item["target"], torch.ones(3, 16, 16), atol=1e-6)
        seen.add(item["target"][:, 0, 0].numpy().tobytes())
    assert len(seen) > len(dataset) // 2  # crops differ between items (the data is random noise)


@pytest.mark.parametrize("index", range(8))
def test_dihedral_transforms_are_the_8_symmetries(index):
    image = torch.arange(2 * 3, dtype=torch.float32).reshape(1, 2, 3)
    outputs = {dihedral(image, k).numpy().tobytes() for k in range(8)}
    assert len(outputs) == 8
    assert dihedral(image, index).shape[-2:] in ((2, 3), (3, 2))


def test_eval_items_are_full_images_or_centre_crops(afifi):
    samples = samples_of(afifi)
    full = PairedImageDataset(samples)[0]
    assert full["input"].shape == (3, 40, 48)
    assert full["name"] == "scene00_0.png" and full["ev"] == 0.0 and full["subset"] == "over"
    centre = PairedImageDataset(samples, patch_size=16)[0]
    assert torch.equal(centre["target"], full["target"][:, 12:28, 16:32])
    by_name = {item["name"]: item for item in PairedImageDataset(samples[:5])}
    assert set(by_name) == {f"scene00_{suffix}.png" for suffix in SUFFIXES}
    assert [(by_name[f"scene00_{s}.png"]["ev"], by_name[f"scene00_{s}.png"]["subset"]) for s in SUFFIXES] == [
        (-1.5, "under"),
        (-1.0, "under"),
        (0.0, "over"),
        (1.0, "over"),
        (1.5, "over"),
    ]


def test_item_without_ev_suffix_has_nan_ev(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    pair = (write_array(tmp_path / "in" / "x.png", image), write_array(tmp_path / "gt" / "x.png", image))
    item = PairedImageDataset([pair_sample(*pair)])[0]
    assert math.isnan(item["ev"]) and item["subset"] == ""


def test_size_mismatch_names_both_files(tmp_path):
    source = write_array(tmp_path / "in" / "a_P1.png", np.zeros((8, 10, 3), np.uint8))
    target = write_array(tmp_path / "gt" / "a.png", np.zeros((8, 12, 3), np.uint8))
    with pytest.raises(DataLayoutError) as info:
        PairedImageDataset([pair_sample(source, target)])[0]
    assert str(source) in str(info.value) and str(target) in str(info.value)
    assert "10×8" in str(info.value) and "12×8" in str(info.value)


def test_patch_larger_than_image_is_a_clear_error(afifi):
    with pytest.raises(DataLayoutError, match=r"scene00_0\.png: image is 48×40, smaller than patch_size 64"):
        PairedImageDataset(samples_of(afifi), patch_size=64, augment=True)[0]


def test_cache_decodes_each_file_once(tmp_path):
    root = write_afifi_folder(tmp_path, scenes=1, height=8, width=8)
    dataset = PairedImageDataset(samples_of(root)[:1], cache_images=True)
    first = dataset[0]
    for path in (dataset.samples[0].input, dataset.samples[0].target):
        path.unlink()
    assert torch.equal(dataset[0]["input"], first["input"])


def test_scene_split_keeps_exposures_together_and_is_deterministic(afifi):
    samples = samples_of(afifi)
    train, val = split_by_scene(samples, seed=3, val_fraction=0.34)
    assert len(val) == 2 * 5 and len(train) == 4 * 5
    assert not {s.scene for s in train} & {s.scene for s in val}
    assert split_by_scene(samples, 3, 0.34) == (train, val)
    other_seeds = {frozenset(s.scene for s in split_by_scene(samples, seed, 0.34)[1]) for seed in range(10)}
    assert len(other_seeds) > 1
    by_count = split_by_scene(samples, seed=3, val_count=4)[1]
    assert len({s.scene for s in by_count}) == 4


def test_scene_split_needs_two_scenes(tmp_path):
    root = write_afifi_folder(tmp_path, scenes=1, height=8, width=8)
    with pytest.raises(DataLayoutError, match="at least 2 scenes"):
        split_by_scene(samples_of(root), 0, 0.1)


def test_datamodule_from_one_folder_pair(afifi):
    module = PairedDataModule(
        input_dir=afifi / "INPUT_IMAGES",
        target_dir=afifi / "GT_IMAGES",
        patch_size=16,
        batch_size=4,
        val_fraction=0.2,
        num_workers=0,
    )
    module.setup("fit")
    assert len(module.split_samples("train")) == 25 and len(module.split_samples("val")) == 5
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"input", "target", "name", "ev", "subset"}
    assert batch["input"].shape == batch["target"].shape == (4, 3, 16, 16)
    assert batch["input"].dtype == torch.float32 and batch["ev"].shape == (4,)
    assert len(batch["name"]) == len(batch["subset"]) == 4
    assert len(module.train_dataloader()) == 25 // 4  # drop_last
    val_batch = next(iter(module.val_dataloader()))
    assert val_batch["input"].shape == (1, 3, 40, 48)
    module.setup("test")
    assert len(module.test_dataloader()) == 30 and len(module.predict_dataloader()) == 30
    assert module.name == "paired"
    again = PairedDataModule(
        input_dir=afifi / "INPUT_IMAGES", target_dir=afifi / "GT_IMAGES", val_fraction=0.2
    )
    again.setup("fit")
    assert again.split_samples("val") == module.split_samples("val")


def test_datamodule_with_worker_processes(afifi):
    module = PairedDataModule(
        input_dir=afifi / "INPUT_IMAGES",
        target_dir=afifi / "GT_IMAGES",
        patch_size=16,
        batch_size=2,
        num_workers=1,
        pin_memory=None,
    )
    module.setup("fit")
    loader = module.train_dataloader()
    assert loader.persistent_workers and not loader.pin_memory
    batch = next(iter(loader))
    assert torch.allclose(batch["input"] + batch["target"], torch.ones_like(batch["input"]), atol=1e-6)


def test_datamodule_with_separate_train_and_val_folders(tmp_path):
    train = write_afifi_folder(tmp_path / "train", scenes=2, height=16, width=16)
    val = write_afifi_folder(tmp_path / "val", scenes=1, height=16, width=16, seed=1)
    module = PairedDataModule(
        train_input_dir=train / "INPUT_IMAGES",
        train_target_dir=train / "GT_IMAGES",
        val_input_dir=val / "INPUT_IMAGES",
        val_target_dir=val / "GT_IMAGES",
        patch_size=8,
        num_workers=0,
    )
    module.setup("fit")
    assert len(module.split_samples("train")) == 10 and len(module.split_samples("val")) == 5
    with pytest.raises(
        DataLayoutError, match=r"paired test split: expected data\.input_dir and data\.target_dir"
    ):
        module.setup("test")


def test_datamodule_layout_errors_are_one_line(tmp_path, afifi):
    cases = [
        (
            PairedDataModule(),
            "fit",
            r"train/val split: expected data\.input_dir and data\.target_dir .* not set",
        ),
        (
            PairedDataModule(input_dir=tmp_path / "missing", target_dir=afifi / "GT_IMAGES"),
            "test",
            r"expected a folder of input images .*missing, found nothing",
        ),
        (
            PairedDataModule(input_dir=tmp_path, target_dir=afifi / "GT_IMAGES"),
            "test",
            r"expected input images .* found none",
        ),
        (
            PairedDataModule(input_dir=afifi / "INPUT_IMAGES", target_dir=tmp_path / "gt"),
            "test",
            r"30 of 30 input images .* have no target",
        ),
    ]
    write_array(tmp_path / "gt" / "unrelated.png", np.zeros((4, 4, 3), np.uint8))
    for module, stage, pattern in cases:
        with pytest.raises(DataLayoutError, match=pattern) as info:
            module.setup(stage)
        assert "\n" not in str(info.value)


def test_hyperparameters_survive_a_weights_only_checkpoint(tmp_path, afifi):
    module = PairedDataModule(input_dir=afifi / "INPUT_IMAGES", target_dir=afifi / "GT_IMAGES")
    torch.save({"datamodule_hyper_parameters": dict(module.hparams_initial)}, tmp_path / "c.ckpt")
    loaded = torch.load(tmp_path / "c.ckpt", weights_only=True)["datamodule_hyper_parameters"]
    assert loaded["input_dir"] == str(afifi / "INPUT_IMAGES") and loaded["patch_size"] == 128


def test_paired_config_instantiates(afifi, tmp_path):
    overrides = [f"data.input_dir={afifi / 'INPUT_IMAGES'}", f"data.target_dir={afifi / 'GT_IMAGES'}"]
    cfg = compose_data("paired", [*overrides, "data.num_workers=0"], tmp_path)
    module = instantiate(cfg.data)
    assert isinstance(module, PairedDataModule) and module.name == "paired"
    module.setup("fit")
    assert module.hparams.num_workers == 0 and len(module.split_samples("val")) == 5
    assert module.patches == {"mode": "random"}
    assert compose_data("paired", overrides, tmp_path).data.num_workers == 2
