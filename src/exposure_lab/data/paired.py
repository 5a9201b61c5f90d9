"""Paired data from any two folders: inputs and targets matched by file name (EV suffixes understood)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exposure_lab.data.datamodule import ExposureDataModule, as_path
from exposure_lab.data.layouts import paired_folder_samples
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

FOLDER_KEYS = {
    "test": ("input_dir", "target_dir"),
    "train": ("train_input_dir", "train_target_dir"),
    "val": ("val_input_dir", "val_target_dir"),
}


class PairedDataModule(ExposureDataModule):
    """Paired data from input/target folders (pairing by file stem, EV suffixes understood).

    `input_dir`/`target_dir` are the test (and predict) set. Train pairs come from `train_input_dir`/
    `train_target_dir` when given, else from the test folders; val pairs from `val_input_dir`/`val_target_dir`
    when given, else a seeded scene-level split of the train pairs. Batches are dicts `{"input": (B,3,h,w),
    "target": (B,3,h,w), "name": list[str], "ev": (B,) float64 (NaN when unknown), "subset": list[str]}`.
    """

    def __init__(
        self,
        input_dir: str | Path | None = None,
        target_dir: str | Path | None = None,
        train_input_dir: str | Path | None = None,
        train_target_dir: str | Path | None = None,
        val_input_dir: str | Path | None = None,
        val_target_dir: str | Path | None = None,
        name: str = "paired",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self.record_arguments(locals())
        self.dirs = {
            "test": (as_path(input_dir), as_path(target_dir)),
            "train": (as_path(train_input_dir), as_path(train_target_dir)),
            "val": (as_path(val_input_dir), as_path(val_target_dir)),
        }

    @property
    def test_is_training_data(self) -> bool:
        """True when no train folders are given, so train/val pairs come from the test folders."""
        return not any(self.dirs["train"])

    def find_samples(self, split: str) -> list[Sample] | None:
        if split == "val" and not any(self.dirs["val"]):
            return None
        if split == "train" and self.test_is_training_data:
            return self._folder_samples("train/val", "test")
        return self._folder_samples(split, split)

    def _folder_samples(self, label: str, split: str) -> list[Sample]:
        input_dir, target_dir = self.dirs[split]
        keys = {f"data.{key}": value for key, value in zip(FOLDER_KEYS[split], self.dirs[split], strict=True)}
        unset = [key for key, value in keys.items() if value is None]
        if unset:
            raise DataLayoutError(
                f"{self.name} {label} split: expected {' and '.join(keys)} (folders of input and target "
                f"images with matching file names), but {' and '.join(unset)} not set"
            )
        assert input_dir is not None and target_dir is not None
        return paired_folder_samples(input_dir, target_dir)
