"""Images to the active experiment loggers: TensorBoard (`add_image`) and wandb (`log_image`); loggers that
take no images (CSV) are skipped, since their run directory already holds the PNG files."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from PIL import Image


def as_uint8_hwc(image: torch.Tensor | np.ndarray | bytes) -> np.ndarray:
    """(3,H,W) float in [0,1], (H,W,3) uint8 or encoded PNG/JPEG bytes → (H,W,3) uint8."""
    if isinstance(image, bytes):
        with Image.open(io.BytesIO(image)) as decoded:
            return np.asarray(decoded.convert("RGB"))
    if isinstance(image, torch.Tensor):
        return (
            (image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        )
    return image


def takes_images(logger: Logger) -> bool:
    """Whether `log_images` sends anything to `logger`."""
    return isinstance(logger, TensorBoardLogger | WandbLogger)


def log_images(loggers: Iterable[Logger], images: dict[str, Any], step: int | None = None) -> int:
    """Send every `tag → image` (see `as_uint8_hwc`) to each logger that takes images; returns how many
    (logger, image) pairs were sent."""
    sent = 0
    for logger in loggers:
        if not takes_images(logger):
            continue
        for tag, image in images.items():
            array = as_uint8_hwc(image)
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(tag, array, global_step=step or 0, dataformats="HWC")
            else:
                logger.log_image(key=tag, images=[array], step=step)
            sent += 1
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.flush()
    return sent
