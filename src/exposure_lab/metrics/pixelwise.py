"""Per-image PSNR and MAE (one value per image, never one global MSE over a batch)."""

import torch
from torch import Tensor


def psnr_per_image(pred: Tensor, target: Tensor, data_range: float = 255.0) -> Tensor:
    """PSNR in dB of each image pair: (B,C,H,W) in [0, data_range] → (B,); ``inf`` for identical images.

    A constant offset of k grey levels gives exactly 20·log10(255/k) dB:

    >>> import math
    >>> target = torch.full((1, 3, 4, 4), 100.0)
    >>> round(float(psnr_per_image(target + 5, target)), 4), round(20 * math.log10(255 / 5), 4)
    (34.1514, 34.1514)
    """
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def mae_per_image(pred: Tensor, target: Tensor, data_range: float = 255.0) -> Tensor:
    """Mean absolute error of each image pair, as a fraction of ``data_range``: (B,C,H,W) → (B,)."""
    return (pred - target).abs().flatten(1).mean(dim=1) / data_range
