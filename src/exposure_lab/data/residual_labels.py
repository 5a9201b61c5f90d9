"""Exposure residual labels from any paired exposure set: gray(ideal) − gray(test), + under / − over."""

from __future__ import annotations

import math
from typing import Any

from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from exposure_lab.data.datamodule import ExposureDataModule

# ITU-R BT.601 luma, as torchvision's Grayscale (the released IEA40K loader's grey conversion).
LUMA = (0.299, 0.587, 0.114)


def to_gray(image: Tensor) -> Tensor:
    """(…,3,H,W) RGB in [0,1] → (…,1,H,W) BT.601 luma."""
    weights = image.new_tensor(LUMA).view(3, 1, 1)
    return (image * weights).sum(-3, keepdim=True)


def residual_label(test: Tensor, ideal: Tensor) -> Tensor:
    """Signed exposure residual of `test` against the well-exposed `ideal` ((…,3,H,W) in [0,1]):
    gray(ideal) − gray(test), (…,1,H,W) in [−1, 1]; positive where under-exposed, negative where over."""
    return to_gray(ideal) - to_gray(test)


class ResidualLabelDataset(Dataset):
    """Items of a paired dataset with `target` replaced by the residual label (1,h,w) in [−1, 1], expert
    references dropped and `score` NaN (no holistic scores); crops and flips are the paired dataset's own,
    so image and label always match."""

    def __init__(self, paired: Dataset) -> None:
        self.paired = paired

    def __len__(self) -> int:
        return len(self.paired)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.paired[index])
        item.pop("experts", None)
        item["target"] = residual_label(item["input"], item["target"])
        item["score"] = math.nan
        return item


class ResidualLabelDataModule(LightningDataModule):
    """The splits of a paired exposure DataModule (`source`: synthetic, afifi, paired, lol, …) as exposure-map
    data: batches `{"input": (B,3,h,w), "target": (B,1,h,w) residual in [−1, 1], "score": NaN, ...}`."""

    target_kind = "exposure_map"

    def __init__(self, source: ExposureDataModule, name: str | None = None) -> None:
        super().__init__()
        self.source = source
        self.name = name or f"{source.name}_residual"

    @property
    def test_is_training_data(self) -> bool:
        """As the source: whether the test images are also its training images."""
        return self.source.test_is_training_data

    def prepare_data(self) -> None:
        self.source.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.source.trainer = self.trainer  # its loaders shard and seed by the trainer's rank and epoch
        self.source.setup(stage)

    def train_dataloader(self) -> DataLoader:
        return self._relabelled(self.source.train_dataloader())

    def val_dataloader(self) -> DataLoader:
        return self._relabelled(self.source.val_dataloader())

    def test_dataloader(self) -> DataLoader:
        return self._relabelled(self.source.test_dataloader())

    @staticmethod
    def _relabelled(loader: DataLoader) -> DataLoader:
        return DataLoader(
            ResidualLabelDataset(loader.dataset),
            batch_size=loader.batch_size,
            sampler=loader.sampler,
            drop_last=loader.drop_last,
            num_workers=loader.num_workers,
            persistent_workers=loader.persistent_workers,
            pin_memory=loader.pin_memory,
            generator=loader.generator,
        )
