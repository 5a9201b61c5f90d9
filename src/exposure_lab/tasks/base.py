"""The base of every objective: what the tasks share and the contract the commands rely on."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightning as L
import torch
from torch import Tensor, nn

from exposure_lab import __version__
from exposure_lab.checkpoints import CHECKPOINT_CONFIG_KEY
from exposure_lab.errors import ExposureLabError

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]
OutputKind = Literal["image", "exposure_map"]


def optimizer_config(
    net: nn.Module,
    optimizer: OptimizerFactory | None,
    scheduler: SchedulerFactory | None,
    monitor: str,
    interval: str,
) -> Any:
    """What `configure_optimizers` returns for one optimizer over `net`'s trainable parameters and an
    optional LR scheduler stepped every `interval` on `monitor`; None when there is nothing to optimise."""
    params = [p for p in net.parameters() if p.requires_grad]
    if optimizer is None or not params:
        return None
    built = optimizer(params=params)
    if scheduler is None:
        return built
    return {
        "optimizer": built,
        "lr_scheduler": {
            "scheduler": scheduler(optimizer=built),
            "monitor": monitor,
            "interval": interval,
            "frequency": 1,
        },
    }


class ExposureTask(L.LightningModule):
    """A LightningModule around `net` with the contract that train, eval, benchmark, predict and assess use.

    - `output_kind`: "image" for enhancers (forward: (B,3,H,W) → (B,3,H,W) in [0,1]), "exposure_map" for
      assessors (forward: (B,3,H,W) → signed residual (B,1,H,W) in [−1,1]); only assessors implement
      `residual_map` and `predict_map`, which raise a one-line error on enhancers.
    - `trainable`, `set_metric_suite(suite)`, `describe_inference()` (one line for results tables, "" when
      the net has no inference options).
    - `tile_size`, `tile_overlap`: the tiled path of `forward`; `prediction_dir`: where `test_step` saves
      outputs (None: nowhere); `test_records`: one dict of scores per test image; `run_config`: the resolved
      config that `on_save_checkpoint` stores, so a checkpoint rebuilds the task alone.
    """

    output_kind: ClassVar[OutputKind] = "image"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/psnr",
        scheduler_interval: str = "epoch",
        tile_size: int | None = None,
        tile_overlap: int = 32,
    ) -> None:
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_monitor = scheduler_monitor
        self.scheduler_interval = scheduler_interval
        self.tile_size = tile_size
        self.tile_overlap = tile_overlap
        self.run_config: dict[str, Any] | None = None
        self.test_records: list[dict[str, Any]] = []
        self.prediction_dir: Path | None = None

    @property
    def trainable(self) -> bool:
        """Whether the net has parameters to optimise (classical baselines have none)."""
        return any(p.requires_grad for p in self.net.parameters())

    def set_metric_suite(self, suite: nn.Module) -> None:
        """Score val/test with `suite` (a `MetricSuite`); tasks that score their own outputs ignore it."""

    def describe_inference(self) -> str:
        """The inference settings that change outputs, as one line for results tables ("" when none)."""
        return ""

    def residual_map(self, images: Tensor) -> Tensor:
        """Assessors: (B,3,H,W) in [0,1] → signed residual (B,1,H,W) in [−1,1] at the input size."""
        raise ExposureLabError(f"{type(self).__name__} enhances images; it is not an exposure assessor")

    def predict_map(self, images: Tensor) -> Tensor:
        """Assessors: the net's raw (B,1,H,W) map at the images' own size, differentiable."""
        raise ExposureLabError(f"{type(self).__name__} enhances images; it is not an exposure assessor")

    def log_terms(self, stage: str, total: Tensor, terms: Mapping[str, Tensor], batch_size: int) -> None:
        """Log `<stage>/loss` (per step and epoch in training) and every `<stage>/<term>` per epoch."""
        training = stage == "train"
        for name, value in {"loss": total, **terms}.items():
            self.log(
                f"{stage}/{name}",
                value.detach(),
                on_step=training and name == "loss",
                on_epoch=True,
                prog_bar=name == "loss",
                batch_size=batch_size,
                sync_dist=not training,
            )

    def configure_optimizers(self) -> Any:
        return optimizer_config(
            self.net,
            self.optimizer_factory,
            self.scheduler_factory,
            self.scheduler_monitor,
            self.scheduler_interval,
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_CONFIG_KEY] = {"version": __version__, **(self.run_config or {})}
