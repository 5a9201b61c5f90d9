"""LOL low-light pairs (Wei et al., BMVC 2018) and LOL-v2 (Yang et al., TIP 2021) in their released layouts.

- "v1": `our485/{low,high}` (train, 485 pairs) and `eval15/{low,high}` (test, 15 pairs), identical names;
- "v2_real": `Real_captured/{Train,Test}/{Low,Normal}`, `low00001.png` ↔ `normal00001.png`;
- "v2_synthetic": `Synthetic/{Train,Test}/{Low,Normal}`, identical names;
- "flat": `train_val/{low,high}` (train) and `test/{low,high}` (test), identical names.
For v2 the root may be the variant folder itself or its parent (`LOL-v2`). LOL has no validation split.
"""

from __future__ import annotations

from pathlib import Path

from exposure_lab.data.layouts._common import (
    as_root,
    check_split,
    holds,
    images_in,
    match_by_stem,
    nearest_holds,
    require_dir,
)
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

LOL_VARIANTS: tuple[str, ...] = ("v1", "v2_real", "v2_synthetic", "flat")
# variant → split → (split folder, input folder, target folder)
LOL_FOLDERS: dict[str, dict[str, tuple[str, str, str]]] = {
    "v1": {"train": ("our485", "low", "high"), "test": ("eval15", "low", "high")},
    "v2_real": {"train": ("Train", "Low", "Normal"), "test": ("Test", "Low", "Normal")},
    "v2_synthetic": {"train": ("Train", "Low", "Normal"), "test": ("Test", "Low", "Normal")},
    "flat": {"train": ("train_val", "low", "high"), "test": ("test", "low", "high")},
}
LOL_V2_FOLDERS: dict[str, str] = {"v2_real": "Real_captured", "v2_synthetic": "Synthetic"}


def lol_samples(root: str | Path, variant: str, split: str) -> list[Sample]:
    """The (low, normal-light) samples of `split` ("train" or "test"), sorted by name.

    `name` is the low-light file name, `scene` the target's stem; `ev`, `subset` and `experts` are unset.
    Asking for "val" raises DataLayoutError: validation is split from train by the DataModule. Raises
    DataLayoutError for a missing folder, an empty folder, or low-light images without a target.
    """
    if variant not in LOL_VARIANTS:
        raise ValueError(f"LOL variant must be one of {', '.join(LOL_VARIANTS)}, got {variant!r}")
    check_split(split)
    context = f"lol {variant} {split} split"
    folders = LOL_FOLDERS[variant]
    if split not in folders:
        raise DataLayoutError(
            f"{context}: LOL {variant} has no validation folder (only {folders['train'][0]}/ for train and "
            f"{folders['test'][0]}/ for test); the validation set is split from train by the DataModule"
        )
    root = as_root(root)
    base = _v2_folder(root, variant, context) if variant in LOL_V2_FOLDERS else root
    split_folder, low, high = folders[split]
    split_dir = require_dir(base / split_folder, context, "folder")
    inputs = images_in(split_dir / low, context, "low-light images")
    targets_found = images_in(split_dir / high, context, "normal-light images")
    if variant == "v2_real":
        rule = "normal-light image named normal<number> for low<number>"
        targets = match_by_stem(inputs, targets_found, context, rule, _v2_real_target_stem)
    else:
        targets = match_by_stem(inputs, targets_found, context, "normal-light image with the same name")
    samples = [
        Sample(input=path, name=path.name, scene=target.stem, target=target)
        for path, target in zip(inputs, targets, strict=True)
    ]
    return sorted(samples, key=lambda sample: sample.name)


def _v2_real_target_stem(stem: str) -> str | None:
    return "normal" + stem[3:] if stem.startswith("low") else None


def _v2_folder(root: Path, variant: str, context: str) -> Path:
    """The LOL-v2 variant folder: `root` itself when it holds Train/ or Test/, else `root/<variant>`."""
    wanted = LOL_V2_FOLDERS[variant]
    if (root / "Train").is_dir() or (root / "Test").is_dir():
        other = [name for name in LOL_V2_FOLDERS.values() if name != wanted and name == root.name]
        if other:
            raise DataLayoutError(
                f"{context}: {root} is the LOL-v2 {other[0]} folder, expected {wanted}/ for variant {variant}"
            )
        return root
    if (root / wanted).is_dir():
        return root / wanted
    found = holds(root) if root.is_dir() else nearest_holds(root)
    raise DataLayoutError(
        f"{context}: expected {root / wanted} (root = LOL-v2) or Train/ and Test/ in {root} "
        f"(root = {wanted}), found neither ({found})"
    )
