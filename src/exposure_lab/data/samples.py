"""The record every data-set layout produces: one input image with its references and metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exposure_lab.errors import DataLayoutError


@dataclass(frozen=True)
class Sample:
    """One input image of a data set.

    `name` is the input's path relative to its split folder (unique within a split; used for output file
    names); `scene` groups the exposures of one scene (the target's stem, or the EV-stripped input stem for
    unpaired sets); `target` is the reference image (None for unpaired data); `experts` maps expert letters
    to their renditions when a test set has several (Afifi et al.: a–e); `label` is a per-pixel label file
    (IEA40K residual map, .npy) and `score` an image-level score; `subset` is "under", "over" or "".
    """

    input: Path
    name: str
    scene: str
    target: Path | None = None
    ev: float | None = None
    subset: str = ""
    experts: tuple[tuple[str, Path], ...] = field(default=())
    label: Path | None = None
    score: float | None = None


def split_by_scene(
    samples: Sequence[Sample], seed: int, val_fraction: float | None = None, val_count: int | None = None
) -> tuple[list[Sample], list[Sample]]:
    """Split samples into (train, val) by scene, so all exposures of a scene land on one side.

    The val scenes are a seeded random choice of `val_count` scenes, or of `val_fraction` of them (at least
    one, and at least one scene left for training); sample order is kept within each side.
    """
    scenes = sorted({sample.scene for sample in samples})
    if len(scenes) < 2:
        where = samples[0].input.parent if samples else "an empty split"
        raise DataLayoutError(
            f"val split: expected at least 2 scenes to split a validation set from, found {len(scenes)} "
            f"in {where}"
        )
    wanted = val_count if val_count is not None else round((val_fraction or 0.0) * len(scenes))
    if val_count is not None and not 0 < val_count < len(scenes):
        raise DataLayoutError(
            f"val split: val_count={val_count} must be between 1 and {len(scenes) - 1} "
            f"(the split has {len(scenes)} scenes)"
        )
    n_val = min(max(1, wanted), len(scenes) - 1)
    order = np.random.default_rng(seed).permutation(len(scenes))
    val_scenes = {scenes[i] for i in order[:n_val]}
    train = [sample for sample in samples if sample.scene not in val_scenes]
    val = [sample for sample in samples if sample.scene in val_scenes]
    return train, val
