"""The exposure set of Afifi et al. (CVPR 2021): FiveK scenes rendered at five EVs, five expert references."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exposure_lab.data.datamodule import ExposureDataModule
from exposure_lab.data.layouts import afifi_samples
from exposure_lab.data.samples import Sample


class AfifiDataModule(ExposureDataModule):
    """`root/{training,validation}/{INPUT_IMAGES,GT_IMAGES}`, `root/testing/INPUT_IMAGES` and
    `root/testing/expert_{a..e}_testing_set`.

    Train/val targets are expert `gt_expert` (C, as the paper); test batches also carry `experts`
    ({letter: (B,3,H,W)}) so every test image is scored against each of `experts` and their mean. Batches
    carry `ev` (−1.5 … +1.5) and `subset` ("under" for −1.5/−1 EV, "over" for 0/+1/+1.5 EV).
    """

    def __init__(
        self,
        root: str | Path,
        gt_expert: str = "c",
        experts: Sequence[str] = ("a", "b", "c", "d", "e"),
        name: str = "afifi",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self.record_arguments(locals())
        self.root = Path(root).expanduser()
        self.gt_expert = gt_expert
        self.experts = tuple(experts)

    def find_samples(self, split: str) -> list[Sample] | None:
        return afifi_samples(self.root, split, gt_expert=self.gt_expert, experts=self.experts)
