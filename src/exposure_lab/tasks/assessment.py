"""Exposure assessment objective: regress a signed per-pixel residual map (P-IEANet, He et al. 2024)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import PearsonCorrCoef, SpearmanCorrCoef
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import crop_to, pad_to_multiple, resize
from exposure_lab.metrics.no_reference import exposure_score
from exposure_lab.tasks.base import ExposureTask, OptimizerFactory, SchedulerFactory

MAP_RANGE = 2.0  # residual maps span [−1, 1]


def map_metrics(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Per-image MAE, PSNR and SSIM of residual maps (B,1,H,W) in [−1, 1] (data range 2) → {name: (B,)}."""
    pred = pred.clamp(-1.0, 1.0)
    return {
        "mae": (pred - target).abs().flatten(1).mean(1),
        "psnr": peak_signal_noise_ratio(pred, target, data_range=MAP_RANGE, reduction="none", dim=(1, 2, 3)),
        "ssim": structural_similarity_index_measure(pred, target, data_range=MAP_RANGE, reduction="none"),
    }


class ExposureAssessment(ExposureTask):
    """Trains `net` (B,3,H,W) in [0,1] → residual map (B,1,H,W) (+ under / − over) with L1 on the maps.

    Batches are dicts with `input`, `target` (B,1,H,W) in [−1, 1] and optionally `score` (B,), the holistic
    score (NaN when unknown). Logs MAE/PSNR/SSIM of the maps (data range 2) and, when the data has scores,
    Pearson (`plcc`) and Spearman (`srcc`) correlation between `exposure_score` of the predicted map and the
    score. `input_size` is the square size `residual_map` resizes images to (the official protocol: 256);
    None runs the net at the image's own size.
    """

    output_kind = "exposure_map"

    def __init__(
        self,
        net: nn.Module,
        input_size: int | None = 256,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/mae",
        scheduler_interval: str = "epoch",
    ) -> None:
        super().__init__(net, optimizer, scheduler, scheduler_monitor, scheduler_interval)
        self.input_size = input_size
        with warnings.catch_warnings():  # Spearman's buffer warning: one float pair per image here
            warnings.filterwarnings("ignore", message=".*will save all targets and predictions")
            self.correlations = nn.ModuleDict(
                {
                    f"{stage}_{name}": metric()
                    for stage in ("val", "test")
                    for name, metric in (("plcc", PearsonCorrCoef), ("srcc", SpearmanCorrCoef))
                }
            )
        self.scored = {"val": 0, "test": 0}

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        kind = getattr(datamodule, "target_kind", None)
        if kind != "exposure_map":
            name = getattr(datamodule, "name", "?")
            raise ExposureLabError(
                f"{type(self).__name__} is trained on residual maps, but data {name!r} has {kind or 'no'} "
                "targets; use data=iea40k or a residual-label set (e.g. data=synthetic_residual)"
            )

    def predict_map(self, images: Tensor) -> Tensor:
        """The net's raw map at the images' own size (padded to its size multiple): (B,3,H,W) → (B,1,H,W)."""
        padded, hw = pad_to_multiple(images, int(getattr(self.net, "size_multiple", 1)))
        return crop_to(self.net(padded), hw)

    def residual_map(self, images: Tensor) -> Tensor:
        """(B,3,H,W) in [0,1] → (B,1,H,W) in [−1,1] (+ under / − over) at the input size: resized to
        `input_size`² for the net, the map resized back (bilinear, antialias) and clamped."""
        size = tuple(images.shape[-2:])
        if self.input_size is None:
            return self.predict_map(images).clamp(-1.0, 1.0)
        square = (self.input_size, self.input_size)
        return resize(self.predict_map(resize(images, square)), size).clamp(-1.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        """The residual map of `x` (see `residual_map`)."""
        return self.residual_map(x)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        pred = self.predict_map(batch["input"])
        loss = F.l1_loss(pred, batch["target"])
        self.log_terms("train", loss, {}, pred.shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._score("val", batch)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._score("test", batch)

    def on_test_start(self) -> None:
        self.test_records = []

    def on_validation_epoch_end(self) -> None:
        self._log_correlations("val")

    def on_test_epoch_end(self) -> None:
        self._log_correlations("test")

    def _score(self, stage: str, batch: dict[str, Any]) -> None:
        pred = self.predict_map(batch["input"]).clamp(-1.0, 1.0)
        scores = map_metrics(pred, batch["target"])
        batch_size = pred.shape[0]
        for name, values in scores.items():
            self.log(
                f"{stage}/{name}",
                values.mean(),
                prog_bar=name == "mae",
                batch_size=batch_size,
                sync_dist=True,
            )
        predicted = exposure_score(pred)
        reference = batch.get("score")
        if reference is not None:
            reference = torch.as_tensor(reference, dtype=predicted.dtype, device=predicted.device)
            known = torch.isfinite(reference)
            if known.any():
                self.scored[stage] += int(known.sum())
                for name in ("plcc", "srcc"):
                    self.correlations[f"{stage}_{name}"].update(predicted[known], reference[known])
        if stage == "test":
            for i in range(batch_size):
                record = {"name": batch["name"][i], **{k: float(v[i]) for k, v in scores.items()}}
                record["mean_residual"] = float(pred[i].mean())
                record["score"] = float(predicted[i])
                record["reference_score"] = None if reference is None else float(reference[i])
                self.test_records.append(record)

    def _log_correlations(self, stage: str) -> None:
        for name in ("plcc", "srcc"):
            metric = self.correlations[f"{stage}_{name}"]
            if self.scored[stage] >= 2:
                value = metric.compute()
                if not math.isnan(float(value)):
                    self.log(f"{stage}/{name}", value, sync_dist=True)
            metric.reset()
        self.scored[stage] = 0
