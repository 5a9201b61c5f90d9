"""Zero-DCE, Zero-DCE++ and SGZ: a 7-layer curve-estimation net and its iterated quadratic light curve."""

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import crop_to, pad_to_multiple

CONV_TYPES = ("plain", "dsc")


class DepthwiseSeparableConv(nn.Module):
    """3×3 depthwise conv (groups = in_channels, with bias) followed by a 1×1 pointwise conv (with bias)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


def _curve_maps(curves: Tensor, iterations: int) -> tuple[Tensor, ...]:
    maps = curves.split(3, dim=1) if curves.shape[1] > 3 else (curves,) * iterations
    if len(maps) != iterations:
        raise ValueError(f"apply_curve: {curves.shape[1]} curve channels do not give {iterations} maps of 3")
    return maps


def apply_curve(x: Tensor, curves: Tensor, iterations: int) -> Tensor:
    """Iterate ``x ← x + A·(x² − x)`` ``iterations`` times (A = −α of the paper's LE curve; A < 0 brightens).

    x: (B,3,H,W) in [0,1]; curves: (B,3·iterations,H,W) (one map per step) or (B,3,H,W) (shared by all steps),
    values in [−1,1]. The result is not clamped.
    """
    for curve in _curve_maps(curves, iterations):
        x = x + curve * (x.pow(2) - x)
    return x


def apply_curve_fused(x: Tensor, curves: Tensor, iterations: int) -> Tensor:
    """`apply_curve` without autograd in two buffers: three in-place passes per step and no allocation, the
    same values up to float rounding (the eight steps are memory-bound; fresh buffers per step cost more
    than the arithmetic)."""
    out = x.clone()
    step = torch.empty_like(out)
    for curve in _curve_maps(curves, iterations):
        torch.mul(out, out, out=step)
        step.sub_(out)
        out.addcmul_(curve, step)
    return out


class ZeroDCE(nn.Module):
    """Curve-estimation net of Zero-DCE (``conv="plain"``, ``shared_curve=False``) and of Zero-DCE++/SGZ
    (``conv="dsc"``, ``shared_curve=True``).

    Seven 3×3 layers of ``channels`` features, ReLU after the first six, symmetric concatenation skips
    (x5 = L5[x3,x4], x6 = L6[x2,x5], A = tanh L7[x1,x6]); the output is 3·iterations curve channels (one map
    per step) or 3 channels shared by every step. With ``scale_factor`` s > 1 the curves are estimated on the
    input down-scaled by 1/s (bilinear) and up-scaled ×s (bilinear, align_corners=True), as the official
    Zero-DCE++ test script does; any H×W works: the image is reflect-padded to a multiple of s and the
    results cropped back, so sizes that are multiples of s give exactly the official output.
    The attribute `fused` (default True) applies the curve with `apply_curve_fused` when no gradient is
    needed. Parameters: 79,416 for Zero-DCE, 10,561 for Zero-DCE++/SGZ.

    Args:
        conv: "plain" (3×3 conv) or "dsc" (depthwise-separable).
        shared_curve: estimate one 3-channel map applied at every iteration.
        iterations: number of curve applications (8).
        channels: feature width (32).
        scale_factor: integer down-scaling of the curve estimation (1 in training, 12 in the official test).
        init_std: N(0, init_std) initialisation of the conv weights (0.02 in Zero-DCE); None: PyTorch default.
    """

    def __init__(
        self,
        conv: str = "dsc",
        shared_curve: bool = True,
        iterations: int = 8,
        channels: int = 32,
        scale_factor: int = 1,
        init_std: float | None = None,
    ) -> None:
        super().__init__()
        if conv not in CONV_TYPES:
            raise ExposureLabError(f"ZeroDCE: conv must be one of {CONV_TYPES}, got {conv!r}")
        if scale_factor < 1 or int(scale_factor) != scale_factor:
            raise ExposureLabError(f"ZeroDCE: scale_factor must be a positive integer, got {scale_factor}")
        self.iterations = iterations
        self.scale_factor = int(scale_factor)
        self.size_multiple = self.scale_factor
        self.fused = True
        layer = DepthwiseSeparableConv if conv == "dsc" else _plain_conv
        out_channels = 3 if shared_curve else 3 * iterations
        shapes = [(3, channels), *[(channels, channels)] * 3, *[(2 * channels, channels)] * 2]
        self.convs = nn.ModuleList([layer(i, o) for i, o in shapes] + [layer(2 * channels, out_channels)])
        if init_std is not None:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.normal_(module.weight, 0.0, init_std)

    def estimate_curves(self, x: Tensor) -> Tensor:
        """(B,3,H,W) in [0,1] → curve maps (B,C,H,W) in [−1,1] at the input size (H, W multiples of s)."""
        s = self.scale_factor
        # The official script's exact resampling calls (scale_factor=1/s; align_corners=True up-sampling).
        small = x if s == 1 else F.interpolate(x, scale_factor=1 / s, mode="bilinear")
        x1 = F.relu(self.convs[0](small))
        x2 = F.relu(self.convs[1](x1))
        x3 = F.relu(self.convs[2](x2))
        x4 = F.relu(self.convs[3](x3))
        x5 = F.relu(self.convs[4](torch.cat([x3, x4], 1)))
        x6 = F.relu(self.convs[5](torch.cat([x2, x5], 1)))
        curves = torch.tanh(self.convs[6](torch.cat([x1, x6], 1)))
        if s == 1:
            return curves
        return F.interpolate(curves, scale_factor=s, mode="bilinear", align_corners=True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B,3,H,W) in [0,1] → (enhanced (B,3,H,W), not clamped; curve maps (B,C,H,W) in [−1,1])."""
        padded, hw = pad_to_multiple(x, self.scale_factor)
        curves = self.estimate_curves(padded)
        if padded.shape[-2:] != x.shape[-2:]:
            curves = crop_to(curves, hw)
        curve = apply_curve_fused if self.fused and not torch.is_grad_enabled() else apply_curve
        return curve(x, curves, self.iterations), curves

    def convert_official_state_dict(self, official: dict[str, Tensor]) -> dict[str, Tensor]:
        """Official `e_conv<k>[.depth_conv|.point_conv].<param>` keys → this net's `convs.<k−1>.…` keys."""
        converted = {}
        for key, value in official.items():
            key = re.sub(r"^e_conv(\d+)\.", lambda m: f"convs.{int(m.group(1)) - 1}.", key)
            key = key.replace(".depth_conv.", ".depthwise.").replace(".point_conv.", ".pointwise.")
            converted[key] = value
        return converted


def _plain_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)
