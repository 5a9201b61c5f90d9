"""Colour conversions of the metric protocol, on RGB tensors (B,3,H,W) in the 0–255 range."""

import torch
from torch import Tensor

# MATLAB rgb2gray: first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703]).
MATLAB_RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
BT601_GRAY = (0.299, 0.587, 0.114)
# BT.601 luma as (offset, RGB weights) for inputs and outputs in 0–255; studio range maps 0–255 to 16–235.
BT601_Y = {
    "full": (0.0, BT601_GRAY),
    "studio": (16.0, (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)),
}


def _weighted_sum(rgb: Tensor, weights: tuple[float, float, float], dtype: torch.dtype) -> Tensor:
    w = torch.tensor(weights, dtype=dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb.to(dtype) * w).sum(dim=1, keepdim=True)


def matlab_rgb2gray(rgb: Tensor, round_uint8: bool = True) -> Tensor:
    """MATLAB ``rgb2gray`` of (B,3,H,W) 0–255 → (B,1,H,W) 0–255.

    With ``round_uint8`` the luma is rounded half away from zero as MATLAB's uint8 cast does, computed in
    float64 so that the rounding is exact.
    """
    if not round_uint8:
        return _weighted_sum(rgb, MATLAB_RGB2GRAY, rgb.dtype)
    return torch.floor(_weighted_sum(rgb, MATLAB_RGB2GRAY, torch.float64) + 0.5).to(rgb.dtype)


def bt601_y(rgb: Tensor, y_range: str) -> Tensor:
    """BT.601 luma Y of (B,3,H,W) 0–255 → (B,1,H,W); ``full`` range 0–255 or ``studio`` 16–235, not rounded.

    kornia's ``rgb_to_ycbcr`` has only the full range, so both ranges use the same explicit weights.

    >>> white, red = torch.full((1, 3, 1, 1), 255.0), torch.tensor([255.0, 0, 0]).view(1, 3, 1, 1)
    >>> [round(float(bt601_y(white, y_range)), 3) for y_range in ("full", "studio")]
    [255.0, 235.0]
    >>> round(float(bt601_y(red, "full")), 3)
    76.245
    """
    offset, weights = BT601_Y[y_range]
    return _weighted_sum(rgb, weights, rgb.dtype) + offset


def gt_mean_adjust(pred: Tensor, target: Tensor) -> Tensor:
    """The LLIE "GT-mean" adjustment of (B,3,H,W) [0,1] images (KinD / LLFlow / Retinexformer test code).

    Each prediction is multiplied by mean_gray(target) / mean_gray(pred), gray = BT.601 0.299/0.587/0.114
    (OpenCV's BGR2GRAY), then clipped to [0,1]. A black prediction stays black.
    """
    mean_pred = _weighted_sum(pred, BT601_GRAY, pred.dtype).mean(dim=(1, 2, 3), keepdim=True)
    mean_target = _weighted_sum(target, BT601_GRAY, target.dtype).mean(dim=(1, 2, 3), keepdim=True)
    scale = torch.where(mean_pred > 0, mean_target / mean_pred.clamp_min(1e-12), torch.ones_like(mean_pred))
    return (pred * scale).clamp(0.0, 1.0)
