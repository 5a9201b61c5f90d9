"""Save an image grid (input | output | target | error) of fixed validation samples every few epochs."""

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.utils import make_grid

from exposure_lab.callbacks.logged_images import log_images
from exposure_lab.data.io import write_image


class ImageGridCallback(L.Callback):
    """After each validation epoch, save input | output | target | |error| rows for fixed val samples as PNG
    (input | output for data without targets), also sent to the image loggers (TensorBoard, wandb).

    The samples are `num_samples` validation images spread evenly over the set (fixed across epochs, so
    several scenes and exposures show); every panel is resized
    to `panel_height` pixels high; the error panel is |output − target| × `error_gain`, clipped to [0, 1].
    """

    def __init__(
        self, num_samples: int = 4, panel_height: int = 128, error_gain: float = 2.0, every_n_epochs: int = 1
    ) -> None:
        self.num_samples = num_samples
        self.panel_height = panel_height
        self.error_gain = error_gain
        self.every_n_epochs = every_n_epochs

    def _fixed_samples(self, trainer: L.Trainer) -> list[dict[str, Any]]:
        loaders = trainer.val_dataloaders
        dataset = (loaders[0] if isinstance(loaders, list | tuple) else loaders).dataset
        if not len(dataset):
            return []
        indices = torch.linspace(0, len(dataset) - 1, min(self.num_samples, len(dataset))).round().long()
        return [dataset[int(i)] for i in indices]

    def _panel(self, image: Tensor) -> Tensor:
        height, width = image.shape[-2:]
        size = (self.panel_height, max(1, round(width * self.panel_height / height)))
        return F.interpolate(image[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or not trainer.val_dataloaders:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        rows = []
        with torch.inference_mode():
            for sample in self._fixed_samples(trainer):
                image = sample["input"].to(pl_module.device)[None]
                output = pl_module(image)[0]
                panels = [image[0], output]
                if "target" in sample:
                    target = sample["target"].to(pl_module.device)
                    panels += [target, ((output - target).abs() * self.error_gain).clamp(0, 1)]
                rows.append(torch.cat([self._panel(t.float().cpu()) for t in panels], -1))
        if not rows:
            return
        width = max(row.shape[-1] for row in rows)
        rows = [F.pad(row, (0, width - row.shape[-1])) for row in rows]
        grid = make_grid(torch.stack(rows), nrow=1, padding=2, pad_value=1.0)
        path = Path(trainer.default_root_dir) / "image_grids" / f"epoch_{trainer.current_epoch:03d}.png"
        write_image(path, grid)
        log_images(trainer.loggers, {"val/image_grid": grid}, step=trainer.current_epoch)
