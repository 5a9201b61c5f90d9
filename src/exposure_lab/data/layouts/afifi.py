"""The exposure set of Afifi et al. (CVPR 2021, "MSEC"): FiveK scenes rendered at five relative EVs.

Layout: `training|validation/{INPUT_IMAGES,GT_IMAGES}` and `testing/INPUT_IMAGES` with
`testing/expert_{a..e}_testing_set`. Inputs are `<scene>_{N1.5,N1,0,P1,P1.5}.JPG`, ground truths `<scene>.jpg`
(matched by stem, so the extension and its case may differ). Training and validation ground truth is
expert C; the test set has one rendition per FiveK expert.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from exposure_lab.data.layouts._common import (
    as_root,
    check_split,
    images_in,
    match_by_stem,
    require_dir,
    shown,
)
from exposure_lab.data.pairing import EV_SUFFIXES, split_ev_suffix, subset_of_ev
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

AFIFI_SPLIT_FOLDERS: dict[str, str] = {"train": "training", "val": "validation", "test": "testing"}
AFIFI_EXPERTS: tuple[str, ...] = ("a", "b", "c", "d", "e")
_SUFFIXES = "/".join(f"_{suffix}" for suffix in EV_SUFFIXES)


def afifi_splits(root: str | Path) -> set[str]:
    """The canonical splits ("train", "val", "test") whose folder (training, validation, testing) exists."""
    root = as_root(root)
    return {split for split, folder in AFIFI_SPLIT_FOLDERS.items() if (root / folder).is_dir()}


def afifi_expert_folder(expert: str) -> str:
    """Test-set folder of one FiveK expert's renditions: "c" → "expert_c_testing_set"."""
    return f"expert_{expert}_testing_set"


def afifi_samples(
    root: str | Path,
    split: str,
    gt_expert: str = "c",
    experts: Sequence[str] = AFIFI_EXPERTS,
) -> list[Sample]:
    """The samples of `split` ("train", "val", "test"), sorted by name, with EV and subset from the suffix.

    train/val: `target` is the GT_IMAGES file of the scene (expert C), `experts` is empty. test: `target` is
    the `gt_expert` rendition and `experts` holds ((letter, path), ...) for each of `experts`, in that order.
    A test folder without any expert_*_testing_set folder but with GT_IMAGES (e.g. the synthetic set) uses
    GT_IMAGES as target and leaves `experts` empty. `name` is the input file name, `scene` the EV-stripped
    stem, `subset` "under" (−1.5, −1 EV) or "over" (0, +1, +1.5 EV). Raises DataLayoutError for a missing
    folder, an empty split, inputs without an EV suffix, or inputs without a ground truth or expert rendition.
    """
    check_split(split)
    experts = tuple(experts)
    unknown = [letter for letter in (*experts, gt_expert) if letter not in AFIFI_EXPERTS]
    if unknown:
        raise ValueError(f"afifi experts are {', '.join(AFIFI_EXPERTS)}; got {', '.join(map(repr, unknown))}")
    root = as_root(root)
    context = f"afifi {split} split"
    split_dir = require_dir(root / AFIFI_SPLIT_FOLDERS[split], context, "folder")
    input_dir = split_dir / "INPUT_IMAGES"
    inputs = images_in(input_dir, context, "input images")
    parsed = [split_ev_suffix(path.stem) for path in inputs]
    no_ev = [path.name for path, (_, ev) in zip(inputs, parsed, strict=True) if ev is None]
    if no_ev:
        raise DataLayoutError(
            f"{context}: {len(no_ev)} of {len(inputs)} input images in {input_dir} lack an exposure suffix "
            f"({_SUFFIXES}, e.g. a0001-jmac_DSC1459_N1.5.JPG): {shown(no_ev)}"
        )

    def scene_of(stem: str) -> str:
        return split_ev_suffix(stem)[0]

    expert_dirs = {
        letter: split_dir / afifi_expert_folder(letter) for letter in dict.fromkeys((*experts, gt_expert))
    }
    single_gt = split != "test" or (
        not any(folder.is_dir() for folder in expert_dirs.values()) and (split_dir / "GT_IMAGES").is_dir()
    )
    if single_gt:
        rule = "ground truth named by its scene (the input name without the EV suffix, any image extension)"
        gt = images_in(split_dir / "GT_IMAGES", context, "ground-truth images")
        targets = match_by_stem(inputs, gt, context, rule, scene_of)
        renditions: dict[str, list[Path]] = {}
    else:
        renditions = {
            letter: match_by_stem(
                inputs,
                images_in(folder, context, f"expert {letter.upper()} renditions"),
                context,
                f"expert {letter.upper()} rendition named by its scene (the input name without EV suffix)",
                scene_of,
            )
            for letter, folder in expert_dirs.items()
        }
        targets = renditions[gt_expert]
    samples = [
        Sample(
            input=path,
            name=path.name,
            scene=scene,
            target=targets[i],
            ev=ev,
            subset=subset_of_ev(ev),
            experts=tuple((letter, renditions[letter][i]) for letter in experts) if renditions else (),
        )
        for i, (path, (scene, ev)) in enumerate(zip(inputs, parsed, strict=True))
    ]
    return sorted(samples, key=lambda sample: sample.name)
