"""Paired restoration objective: a plain net trained with named, weighted pixel losses against a target."""

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from exposure_lab.data.io import write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import enhance, primary_output
from exposure_lab.losses import WeightedLoss
from exposure_lab.losses.exposure_assessment import ExposureAssessmentLoss
from exposure_lab.tasks.base import ExposureTask, OptimizerFactory, SchedulerFactory


class PairedRestoration(ExposureTask):
    """Trains `net` (B,3,H,W)→(B,3,H,W) in [0,1] on dict batches with `input` and `target`.

    Metrics come from a `MetricSuite` set with `set_metric_suite` (the run's protocol, not the model's), so a
    checkpoint can be scored under any protocol. Every test image's scores are kept in `test_records`, and
    its output is saved as `<prediction_dir>/<input stem>.png` when `prediction_dir` is set. With
    `assessor_ckpt` and a non-zero `assessor_weight`, training adds `assessor_weight` · mean |R| of the output
    by that frozen exposure assessor (`losses.exposure_assessment`). `auxiliary_losses` (same names) score the
    net's second output against the target too (FECNet's amplitude result), logged as `auxiliary_<name>`.
    """

    def __init__(
        self,
        net: nn.Module,
        losses: Mapping[str, float] | None = None,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/psnr",
        scheduler_interval: str = "epoch",
        train_metrics: Sequence[str] = ("psnr", "ssim"),
        tile_size: int | None = None,
        tile_overlap: int = 32,
        assessor_ckpt: str | None = None,
        assessor_weight: float = 0.0,
        auxiliary_losses: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(
            net, optimizer, scheduler, scheduler_monitor, scheduler_interval, tile_size, tile_overlap
        )
        self.loss = WeightedLoss(losses or {})
        self.auxiliary_loss = WeightedLoss(auxiliary_losses or {})
        self.assessor_weight = float(assessor_weight)
        self.exposure_assessment = (
            ExposureAssessmentLoss(assessor_ckpt) if assessor_ckpt and self.assessor_weight else None
        )
        self.train_metric_names = tuple(train_metrics)
        # Kept outside the module tree so metric weights (LPIPS) never enter checkpoints.
        self.__dict__["metric_suite"] = None
        self.__dict__["train_metric_suite"] = None

    def set_metric_suite(self, suite: nn.Module) -> None:
        """Score val/test with `suite` (a `MetricSuite`) and train batches with its cheap subset."""
        from exposure_lab.metrics import MetricSuite

        self.__dict__["metric_suite"] = suite
        train_names = [name for name in self.train_metric_names if name in suite.names]
        self.__dict__["train_metric_suite"] = MetricSuite(names=train_names, protocol=suite.protocol)

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        kind = getattr(datamodule, "target_kind", "image")
        if kind != "image":
            what = "no reference images" if kind is None else f"{kind} targets, not reference images"
            raise ExposureLabError(
                f"{type(self).__name__} is trained and scored against reference images, but data "
                f"{getattr(datamodule, 'name', '?')!r} has {what}; choose a paired data set"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Full-image enhancement (B,3,H,W)→(B,3,H,W) in [0,1], padded/tiled as the net needs."""
        return enhance(self.net, x, tile_size=self.tile_size, tile_overlap=self.tile_overlap).clamp(0, 1)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        out = self.net(batch["input"])
        pred = primary_output(out)
        total, terms = self.loss(pred, batch["target"])
        if self.auxiliary_loss.weights:
            extra, extra_terms = self.auxiliary_loss(_auxiliary_output(out), batch["target"])
            total = total + extra
            terms.update({f"auxiliary_{name}": value for name, value in extra_terms.items()})
        if self.exposure_assessment is not None:
            terms["exposure_assessment"] = self.exposure_assessment(pred)
            total = total + self.assessor_weight * terms["exposure_assessment"]
        self.log_terms("train", total, terms, pred.shape[0])
        self.log_train_metrics(pred, batch["target"])
        return total

    def log_train_metrics(self, pred: Tensor, target: Tensor) -> None:
        """Log the cheap train metrics (`train_metrics`) of the raw training output against `target`."""
        if self.train_metric_suite is None or not self.train_metric_suite.names:
            return
        with torch.no_grad():
            scores = self.train_metric_suite(pred.detach().clamp(0, 1), target)
        for name, values in scores.items():
            self.log(f"train/{name}", values.mean(), on_step=False, on_epoch=True, batch_size=pred.shape[0])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        pred = self._score_and_log("val", batch)
        if self.loss.weights:  # val/loss of the clamped full-image output, for the training curves
            total, _ = self.loss(pred, batch["target"])
            self.log("val/loss", total, batch_size=pred.shape[0], sync_dist=True)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._score_and_log("test", batch, keep_records=True)

    def on_validation_start(self) -> None:
        self._require_metric_suite()

    def on_test_start(self) -> None:
        self._require_metric_suite()
        self.test_records = []

    def _require_metric_suite(self) -> None:
        if self.metric_suite is None:
            raise RuntimeError("set_metric_suite() must be called before validation or test")
        self.metric_suite.to(self.device)

    def _score_and_log(self, stage: str, batch: dict[str, Any], keep_records: bool = False) -> Tensor:
        start = time.perf_counter()
        pred = self(batch["input"])
        if pred.is_cuda:
            torch.cuda.synchronize(pred.device)
        seconds = time.perf_counter() - start
        experts = batch.get("experts")
        by_expert = {}
        try:
            if experts:
                by_expert = {f"expert_{k}": self.metric_suite(pred, experts[k]) for k in sorted(experts)}
                scores = {
                    n: torch.stack([s[n] for s in by_expert.values()]).mean(0)
                    for n in self.metric_suite.names
                }
            else:
                scores = self.metric_suite(pred, batch["target"])
        except ExposureLabError as exc:  # a metric refused these images: say which ones
            raise type(exc)(f"{', '.join(batch['name'])}: {exc}") from exc
        batch_size = pred.shape[0]
        subsets = batch.get("subset") or [""] * batch_size
        for subset, index in self._subset_indices(subsets, pred.device):
            prefix = f"{stage}/" if subset is None else f"{stage}/{subset}/"
            for name, values in scores.items():
                self.log(
                    prefix + name,
                    values[index].mean(),
                    prog_bar=subset is None and name == "psnr",
                    batch_size=len(index),
                    sync_dist=True,
                )
            if by_expert:
                group = f"{stage}/{self._data_name()}/{subset or 'all'}"
                for expert, values_by_name in {**by_expert, "mean": scores}.items():
                    for name, values in values_by_name.items():
                        self.log(
                            f"{group}/{expert}/{name}",
                            values[index].mean(),
                            batch_size=len(index),
                            sync_dist=True,
                        )
        if keep_records:
            flat = {f"{expert}/{name}": v for expert, named in by_expert.items() for name, v in named.items()}
            self._keep_records(batch, {**scores, **flat}, pred, seconds)
        return pred

    @staticmethod
    def _subset_indices(subsets: Sequence[str], device: torch.device) -> list[tuple[str | None, Tensor]]:
        """(None, every index) then (subset, its indices) for each named subset in the batch."""
        groups: list[tuple[str | None, Tensor]] = [(None, torch.arange(len(subsets), device=device))]
        for subset in sorted(set(subsets) - {""}):
            groups.append(
                (subset, torch.tensor([i for i, s in enumerate(subsets) if s == subset], device=device))
            )
        return groups

    def _data_name(self) -> str:
        datamodule = getattr(self.trainer, "datamodule", None)
        return getattr(datamodule, "name", None) or "data"

    def _keep_records(
        self, batch: dict[str, Any], scores: dict[str, Tensor], pred: Tensor, seconds: float
    ) -> None:
        batch_size, _, height, width = pred.shape
        evs = batch.get("ev")
        for i in range(batch_size):
            record: dict[str, Any] = {"name": batch["name"][i]}
            if evs is not None:
                ev = float(evs[i])
                record["ev"] = None if math.isnan(ev) else ev
            record["subset"] = (batch.get("subset") or [""] * batch_size)[i]
            record.update({name: float(values[i]) for name, values in scores.items()})
            record["megapixels"] = height * width / 1e6
            record["seconds"] = seconds / batch_size
            self.test_records.append(record)
            if self.prediction_dir is not None:
                write_image(self.prediction_dir / Path(record["name"]).with_suffix(".png"), pred[i])


def _auxiliary_output(out: Any) -> Tensor:
    """The second tensor a net returned, which `auxiliary_losses` score."""
    if not isinstance(out, Sequence) or len(out) < 2 or not isinstance(out[1], Tensor):
        raise ExposureLabError("auxiliary_losses need a net that returns (output, auxiliary output)")
    return out[1]
