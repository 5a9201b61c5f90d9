"""IEA40K (He et al., NeurIPS 2024): images with signed per-pixel exposure residual maps and scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from exposure_lab.data.datamodule import ExposureDataModule
from exposure_lab.data.datasets import SampleDataset, crop_corner, metadata
from exposure_lab.data.io import array_to_tensor
from exposure_lab.data.layouts import iea40k_samples, load_iea40k_label
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError


class ExposureMapDataset(SampleDataset):
    """Items `{"input": (3,h,w) in [0,1], "target": (1,h,w) residual in [−1,1] (+ under, − over), "score":
    float (NaN when unknown), "name", "ev", "subset"}`.

    With `augment`, random horizontal and vertical flips (and a random `patch_size` crop when set) are applied
    identically to image and label; without, the centre crop.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        patch_size: int | None = None,
        augment: bool = False,
        cache_images: bool = False,
    ) -> None:
        unlabelled = [s.name for s in samples if s.label is None]
        if unlabelled:
            raise DataLayoutError(
                f"{len(unlabelled)} samples have no label map: {', '.join(unlabelled[:10])}"
            )
        super().__init__(samples, cache_images)
        self.patch_size = patch_size
        self.augment = augment

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        assert sample.label is not None
        image = array_to_tensor(self.decode(sample.input))
        label = torch.from_numpy(load_iea40k_label(sample.label))[None]
        if image.shape[-2:] != label.shape[-2:]:
            raise DataLayoutError(
                f"image {sample.input} is {image.shape[-1]}×{image.shape[-2]} but its label {sample.label} "
                f"is {label.shape[-1]}×{label.shape[-2]}; they must have the same size"
            )
        if self.patch_size is not None:
            image, label = self._crop(image, label, sample)
        if self.augment:
            dims = [d for d, flip in ((-1, torch.rand(()) < 0.5), (-2, torch.rand(()) < 0.5)) if flip]
            if dims:
                image, label = image.flip(dims), label.flip(dims)
        score = math.nan if sample.score is None else sample.score
        return {"input": image.contiguous(), "target": label.contiguous(), "score": score, **metadata(sample)}

    def _crop(
        self, image: torch.Tensor, label: torch.Tensor, sample: Sample
    ) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.patch_size
        assert size is not None
        top, left = crop_corner(sample.input, *image.shape[-2:], size, self.augment)
        window = (..., slice(top, top + size), slice(left, left + size))
        return image[window], label[window]


class IEA40KDataModule(ExposureDataModule):
    """`root/IEA_img/<img_id>`, `root/label/exposure_condition/<img_id stem>.npy` and the split CSVs
    (`img_id, ref_id, score`; relative paths resolve against `root`).

    The released code validates and tests on the same `valid_256_2ev.csv`; that is the default here too, and
    any CSV can be given per split. A missing `val_csv` splits val off the training references.
    """

    target_kind = "exposure_map"

    def __init__(
        self,
        root: str | Path,
        train_csv: str | Path | None = "train_256.csv",
        val_csv: str | Path | None = "valid_256_2ev.csv",
        test_csv: str | Path | None = "valid_256_2ev.csv",
        name: str = "iea40k",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self.record_arguments(locals())
        if self.patches["mode"] != "random":
            raise DataLayoutError(
                f"{name}: only patches=random applies to exposure maps (got {self.patches['mode']})"
            )
        self.root = Path(root).expanduser()
        self.csvs = {"train": train_csv, "val": val_csv, "test": test_csv}

    def find_samples(self, split: str) -> list[Sample] | None:
        csv = self.csvs[split]
        if csv is None or str(csv) == "":
            if split == "val":
                return None
            raise DataLayoutError(
                f"{self.name} {split} split: expected data.{split}_csv (img_id,ref_id,score), not set"
            )
        return iea40k_samples(self.root, csv)

    def make_dataset(self, samples: list[Sample], training: bool) -> Dataset:
        if training:
            return ExposureMapDataset(samples, self.patch_size, self.augment, self.cache_images)
        return ExposureMapDataset(samples, self.val_patch_size, False, self.cache_images)
