"""Endo4IE (García-Vega et al., 2022): endoscopic frames with synthetic over- and under-exposure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exposure_lab.data.datamodule import ExposureDataModule
from exposure_lab.data.layouts import endo4ie_samples, endo4ie_splits
from exposure_lab.data.samples import Sample


class Endo4IEDataModule(ExposureDataModule):
    """Either `root/{training,validation,test}/{exp_images,gt_images}` (identical file names) or
    `root/<split>/{Overexposed,Underexposed,Normal_frames}` (subsets "over"/"under" from the folder).

    Without a validation folder, val is a seeded scene split of the training frames.
    """

    def __init__(self, root: str | Path, name: str = "endo4ie", **options: Any) -> None:
        super().__init__(name=name, **options)
        self.record_arguments(locals())
        self.root = Path(root).expanduser()

    def find_samples(self, split: str) -> list[Sample] | None:
        if split == "val" and "val" not in endo4ie_splits(self.root):
            return None
        return endo4ie_samples(self.root, split)
