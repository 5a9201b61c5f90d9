"""Stop a training run loudly when its loss stops being a finite number."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from exposure_lab.errors import TrainingDivergedError


class StopOnDivergence(L.Callback):
    """Raise TrainingDivergedError, naming the epoch, the loss and the learning-rate option `lr_option`,
    as soon as a training step's loss (its return value, or for manually optimised tasks any logged
    `train/*loss*` value) is NaN or infinite."""

    def __init__(self, lr_option: str = "model.optimizer.lr") -> None:
        self.lr_option = lr_option

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        losses = {"train/loss": outputs.get("loss") if isinstance(outputs, Mapping) else outputs}
        losses.update(
            (key, value)
            for key, value in trainer.callback_metrics.items()
            if key.startswith("train/") and "loss" in key
        )
        for key, value in losses.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1 and not torch.isfinite(value):
                raise TrainingDivergedError(self._message(trainer, key, float(value)))

    def _message(self, trainer: L.Trainer, key: str, value: float) -> str:
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else math.nan
        return (
            f"training diverged in epoch {trainer.current_epoch} (step {trainer.global_step}): "
            f"{key.removesuffix('_step')} is {value}; lower the learning rate ({self.lr_option}={lr:g})"
        )
