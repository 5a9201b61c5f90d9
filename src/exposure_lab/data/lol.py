"""LOL low-light pairs: LOL-v1, LOL-v2 real and synthetic, and the flat train_val|test layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exposure_lab.data.datamodule import ExposureDataModule
from exposure_lab.data.layouts import lol_samples
from exposure_lab.data.samples import Sample

FLAT_VAL_COUNT = 239  # the flat layout's train_val folder is split 500 train / 239 val


class LOLDataModule(ExposureDataModule):
    """LOL in one of its layouts (`variant`: v1, v2_real, v2_synthetic, flat); see `layouts.lol`.

    LOL has no validation folder: val is a seeded scene split of the training pairs (`val_count` pairs,
    default 239 for the flat layout's 500/239 split, else `val_fraction`), saved next to the run.
    """

    def __init__(self, root: str | Path, variant: str = "v1", name: str = "lol", **options: Any) -> None:
        if variant == "flat" and options.get("val_count") is None:
            options["val_count"] = FLAT_VAL_COUNT
        super().__init__(name=name, **options)
        self.record_arguments(locals())
        self.root = Path(root).expanduser()
        self.variant = variant

    def find_samples(self, split: str) -> list[Sample] | None:
        if split == "val":
            return None
        return lol_samples(self.root, self.variant, split)
