"""Endo4IE (García-Vega et al., MICAI 2022): endoscopic frames with synthetic over- and under-exposure.

Two layouts are in use, both accepted per split folder:
- A (Endo-LMSPEC training code): `<split>/{exp_images,gt_images}` with identical file names;
- B (the released set, Endo-LMSPEC test code): `<split>/{Overexposed,Underexposed,Normal_frames}`, where
  Normal_frames holds the ground truth under the same file names and either exposure folder may be absent
  (e.g. Real-Underexp copies).
Split folders: train → training|train, val → validation|val, test → test|testing.
"""

from __future__ import annotations

from pathlib import Path

from exposure_lab.data.layouts._common import (
    as_root,
    check_split,
    first_dir,
    holds,
    images_in,
    match_by_stem,
)
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

ENDO4IE_SPLIT_FOLDERS: dict[str, tuple[str, ...]] = {
    "train": ("training", "train"),
    "val": ("validation", "val"),
    "test": ("test", "testing"),
}
ENDO4IE_EXPOSURE_FOLDERS: dict[str, str] = {"Overexposed": "over", "Underexposed": "under"}
_LAYOUT_A = ("exp_images", "gt_images")
_LAYOUT_B_TARGETS = "Normal_frames"
_SAME_NAME = "ground truth with the same name"


def endo4ie_splits(root: str | Path) -> set[str]:
    """The canonical splits whose folder (under any of its accepted names) exists."""
    root = as_root(root)
    return {
        split
        for split, names in ENDO4IE_SPLIT_FOLDERS.items()
        if any((root / name).is_dir() for name in names)
    }


def endo4ie_samples(root: str | Path, split: str) -> list[Sample]:
    """The samples of `split` ("train", "val", "test") in layout A or B, sorted by name.

    Layout A: `name` is the file name, `subset` "". Layout B: `name` is "Overexposed/<file>" or
    "Underexposed/<file>" (a frame may appear in both), `subset` "over"/"under". `scene` is the ground
    truth's stem, so both exposures of a frame share a scene; `ev` is None. Raises DataLayoutError for a
    missing split or exposure folder, an empty folder, or frames without a ground truth of the same name.
    """
    check_split(split)
    root = as_root(root)
    context = f"endo4ie {split} split"
    split_dir = first_dir(root, ENDO4IE_SPLIT_FOLDERS[split], context, "folder")
    if any((split_dir / name).is_dir() for name in _LAYOUT_A):
        samples = _layout_a(split_dir, context)
    elif any((split_dir / name).is_dir() for name in (*ENDO4IE_EXPOSURE_FOLDERS, _LAYOUT_B_TARGETS)):
        samples = _layout_b(split_dir, context)
    else:
        raise DataLayoutError(
            f"{context}: expected exp_images/ and gt_images/ (or Overexposed/ and/or Underexposed/ with "
            f"Normal_frames/) in {split_dir}, found neither ({holds(split_dir)})"
        )
    return sorted(samples, key=lambda sample: sample.name)


def _layout_a(split_dir: Path, context: str) -> list[Sample]:
    inputs = images_in(split_dir / "exp_images", context, "exposed frames")
    gt = images_in(split_dir / "gt_images", context, "ground-truth frames")
    targets = match_by_stem(inputs, gt, context, _SAME_NAME)
    return [
        Sample(input=path, name=path.name, scene=target.stem, target=target)
        for path, target in zip(inputs, targets, strict=True)
    ]


def _layout_b(split_dir: Path, context: str) -> list[Sample]:
    present = [name for name in ENDO4IE_EXPOSURE_FOLDERS if (split_dir / name).is_dir()]
    if not present:
        raise DataLayoutError(
            f"{context}: expected Overexposed/ and/or Underexposed/ beside Normal_frames/ in {split_dir}, "
            f"found neither ({holds(split_dir)})"
        )
    gt = images_in(split_dir / _LAYOUT_B_TARGETS, context, "ground-truth frames")
    samples: list[Sample] = []
    for folder in present:
        inputs = images_in(split_dir / folder, context, f"{folder.lower()} frames")
        targets = match_by_stem(inputs, gt, context, _SAME_NAME)
        samples += [
            Sample(
                input=path,
                name=f"{folder}/{path.name}",
                scene=target.stem,
                target=target,
                subset=ENDO4IE_EXPOSURE_FOLDERS[folder],
            )
            for path, target in zip(inputs, targets, strict=True)
        ]
    return samples
