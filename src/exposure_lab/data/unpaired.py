"""Unpaired low-light images (no target): zero-reference training sets and no-reference test sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from exposure_lab.data.datamodule import ExposureDataModule, as_path
from exposure_lab.data.datasets import UnpairedImageDataset
from exposure_lab.data.layouts import unpaired_samples
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError


class UnpairedDataModule(ExposureDataModule):
    """Folder trees of images without references: `root` trains, `val_root` validates (else a seeded split
    of `root`), `test_root` is the evaluation set (DICM, LIME, MEF, NPE, VV, …).

    Training images are brought to `patch_size`×`patch_size` by `mode` ("resize", as Zero-DCE's 512×512
    training images, or random "crop"); val/test images are resized to `eval_size` when set, else kept at
    full size. Batches are dicts `{"input": (B,3,h,w), "name": list[str], "ev": (B,), "subset": list[str]}`
    (no `target`).
    """

    target_kind = None

    def __init__(
        self,
        root: str | Path | None = None,
        val_root: str | Path | None = None,
        test_root: str | Path | None = None,
        mode: str = "resize",
        eval_size: int | None = None,
        recursive: bool = True,
        name: str = "unpaired",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self.record_arguments(locals())
        if self.patches["mode"] == "online":
            raise DataLayoutError(
                f"{name}: patches=online screens crops against a reference image, which unpaired data does "
                "not have; use patches=random or extract patches offline (patches=offline)"
            )
        self.roots = {"train": as_path(root), "val": as_path(val_root), "test": as_path(test_root)}
        self.mode = mode
        self.eval_size = eval_size
        self.recursive = recursive

    def find_samples(self, split: str) -> list[Sample] | None:
        folder = self.roots[split]
        if folder is None:
            if split == "val":
                return None
            key = "data.root" if split == "train" else "data.test_root"
            raise DataLayoutError(f"{self.name} {split} split: expected a folder of images in {key}, not set")
        return unpaired_samples(folder, recursive=self.recursive)

    def make_dataset(self, samples: list[Sample], training: bool) -> Dataset:
        if training:
            mode = "crop" if self.patches["mode"] == "offline" else self.mode
            return UnpairedImageDataset(samples, self.patch_size, mode, self.augment, self.cache_images)
        return UnpairedImageDataset(samples, self.eval_size, "resize", False, self.cache_images)

    def patch_samples(self, input_dir: Path, target_dir: Path) -> list[Sample]:
        return unpaired_samples(input_dir, recursive=True)
