"""The metric protocol: how predictions and targets are turned into the numbers printed in results tables."""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from exposure_lab.errors import ExposureLabError
from exposure_lab.metrics.color import bt601_y, gt_mean_adjust, matlab_rgb2gray
from exposure_lab.metrics.ssim import SSIM_BORDERS

_CHOICES = {
    "color_space": ("rgb", "y"),
    "y_range": ("full", "studio"),
    "ssim_space": ("gray", "rgb"),
    "ssim_border": SSIM_BORDERS,
}


_SSIM_BORDER_TEXT = {
    "matlab": "replicated borders, whole map (MATLAB ssim)",
    "valid": "valid windows only (Wang et al. ssim_index.m)",
}


@dataclass(frozen=True)
class MetricProtocol:
    """Options of the metric protocol; the defaults are the protocol of reported tables.

    - ``color_space``: PSNR on ``rgb`` or on BT.601 luma ``y`` (``y_range`` ``full`` 0–255 or ``studio``
      16–235; unrounded, peak 255).
    - ``crop_border``: pixels removed from every side before all metrics.
    - ``round_uint8``: round prediction and target to uint8 levels first (papers score saved 8-bit files);
      also rounds the SSIM luma as MATLAB's ``rgb2gray`` of uint8 images does.
    - ``gt_mean``: scale each prediction so its mean gray level equals the target's (LLIE "GT-mean"), before
      rounding and cropping.
    - ``ssim_space``: ``gray`` = MATLAB ``ssim(rgb2gray(A), rgb2gray(B))``; ``rgb`` = per-channel SSIM mean.
    - ``ssim_border``: ``valid`` = only windows inside the image (Wang et al.'s reference ``ssim_index.m``,
      scikit-image, BasicSR); ``matlab`` = replicated borders, whole map averaged (MATLAB's own ``ssim``).
    """

    color_space: str = "rgb"
    y_range: str = "studio"
    crop_border: int = 0
    round_uint8: bool = True
    gt_mean: bool = False
    ssim_space: str = "gray"
    ssim_border: str = "valid"

    def __post_init__(self) -> None:
        for field, allowed in _CHOICES.items():
            if getattr(self, field) not in allowed:
                raise ExposureLabError(
                    f"metric protocol: {field}={getattr(self, field)!r} is not one of {', '.join(allowed)}"
                )
        crop = self.crop_border
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 0:
            raise ExposureLabError(f"metric protocol: crop_border={crop!r} must be a non-negative integer")

    @classmethod
    def from_config(cls, value: "MetricProtocol | Mapping[str, Any] | None") -> "MetricProtocol":
        """Build from a protocol, a mapping (e.g. a Hydra DictConfig) of its fields, or None (defaults)."""
        if isinstance(value, MetricProtocol):
            return value
        options = dict(value or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ExposureLabError(
                f"metric protocol: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**options)

    def describe(self) -> str:
        """One line stating the protocol, printed above every results table."""
        if self.color_space == "rgb":
            psnr = "PSNR on RGB"
        else:
            psnr = f"PSNR on Y (BT.601 {'studio range 16-235' if self.y_range == 'studio' else 'full range'})"
        if self.ssim_space == "gray":
            luma = "uint8 " if self.round_uint8 else ""
            ssim = f"SSIM on MATLAB rgb2gray {luma}luma"
        else:
            ssim = "SSIM per RGB channel, averaged"
        parts = [
            "per-image mean",
            "images rounded to uint8" if self.round_uint8 else "float images (no uint8 rounding)",
            psnr,
            f"{ssim}, Gaussian 11, sigma 1.5, {_SSIM_BORDER_TEXT[self.ssim_border]}",
            f"border crop {self.crop_border} px" if self.crop_border else "no border crop",
        ]
        if self.gt_mean:
            parts.append("GT-mean (prediction scaled to the target's mean gray level)")
        return "; ".join(parts)

    def prepare(self, pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Clamp, GT-mean, uint8 rounding and border crop: (B,3,H,W) [0,1] → (B,3,H',W') in 0–255, float32."""
        pred = pred.float().clamp(0.0, 1.0)
        target = target.float().clamp(0.0, 1.0)
        if self.gt_mean:
            pred = gt_mean_adjust(pred, target)
        pred, target = pred * 255.0, target * 255.0
        if self.round_uint8:
            pred, target = pred.round(), target.round()
        if self.crop_border:
            c = self.crop_border
            if 2 * c >= min(pred.shape[-2:]):
                raise ExposureLabError(
                    f"metric protocol: crop_border={c} leaves nothing of a "
                    f"{pred.shape[-2]}x{pred.shape[-1]} image"
                )
            pred, target = pred[..., c:-c, c:-c], target[..., c:-c, c:-c]
        return pred, target

    def psnr_view(self, image: Tensor) -> Tensor:
        """The image PSNR compares: (B,3,H,W) 0–255 → itself (rgb) or its luma (B,1,H,W)."""
        return image if self.color_space == "rgb" else bt601_y(image, self.y_range)

    def ssim_view(self, image: Tensor) -> Tensor:
        """The image SSIM compares: (B,3,H,W) 0–255 → MATLAB rgb2gray luma (B,1,H,W) or itself (rgb)."""
        return matlab_rgb2gray(image, self.round_uint8) if self.ssim_space == "gray" else image
