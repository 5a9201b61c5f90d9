"""Record per-epoch metrics and learning rates; plot loss / PSNR / SSIM curves for train and val."""

import csv
import math
from pathlib import Path
from typing import Any

import lightning as L

from exposure_lab.callbacks.logged_images import log_images


class TrainingCurvesCallback(L.Callback):
    """Record epoch-level train/val metrics and each epoch's LR; at the end of fit, write
    `metrics_history.csv` and a PNG plot (also sent to the image loggers: TensorBoard, wandb).

    The history is part of the callback state, so curves survive resume from a checkpoint.
    """

    def __init__(
        self, metrics: tuple[str, ...] = ("loss", "psnr", "ssim"), filename: str = "training_curves.png"
    ):
        self.metrics = tuple(metrics)
        self.filename = filename
        self.history: list[dict[str, float]] = []
        self._epoch_lr: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_lr = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        row: dict[str, float] = {"epoch": float(trainer.current_epoch)}
        for stage in ("train", "val"):
            for metric in self.metrics:
                for key in (f"{stage}/{metric}_epoch", f"{stage}/{metric}"):
                    if key in trainer.callback_metrics:
                        row[f"{stage}/{metric}"] = float(trainer.callback_metrics[key])
                        break
        if self._epoch_lr is not None:
            row["lr"] = self._epoch_lr
        self.history.append(row)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.history:
            return
        out_dir = Path(trainer.default_root_dir)
        columns = sorted({key for row in self.history for key in row}, key=lambda k: (k != "epoch", k))
        with open(out_dir / "metrics_history.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.history)
        path = out_dir / self.filename
        self._plot(path)
        if path.is_file():
            log_images(trainer.loggers, {"training_curves": path.read_bytes()}, step=trainer.current_epoch)

    def _plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = [row["epoch"] for row in self.history]
        curves: dict[str, dict[str, list[float]]] = {}
        for metric in self.metrics:
            for stage in ("train", "val"):
                values = [row.get(f"{stage}/{metric}", math.nan) for row in self.history]
                if not all(math.isnan(v) for v in values):  # e.g. no PSNR for unpaired data
                    curves.setdefault(metric, {})[stage] = values
        if not curves:
            return
        figure, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.5), squeeze=False)
        for axis, (metric, by_stage) in zip(axes[0], curves.items(), strict=True):
            for stage, values in by_stage.items():
                axis.plot(epochs, values, marker="o", markersize=3, label=stage)
            axis.set_title(metric.upper() if metric != "loss" else "loss")
            axis.set_xlabel("epoch")
            axis.grid(alpha=0.3)
            axis.legend()
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
