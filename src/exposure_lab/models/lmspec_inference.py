"""LMSPEC's inference protocol and the options of its release: working resolution, pyramid scaling, guided
upsampling of the result to full resolution, exposure fusion and contrast stretch."""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import kornia
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import enhance, primary_output

PROTOCOLS = ("resize", "full")
UPSAMPLINGS = ("local_affine", "resize")


def local_affine_upsample(
    low_input: Tensor, low_output: Tensor, full_input: Tensor, radius: int = 8, eps: float = 1e-4
) -> Tensor:
    """Apply the low-resolution mapping low_input → low_output to full_input as per-pixel colour affines.

    A 3×3 colour matrix and offset are fitted by regularised least squares in every (2·radius+1)² window of
    the low-resolution pair (guided-filter statistics), averaged over the same window, bilinearly upsampled
    and applied to `full_input`. This is our local-affine substitute for the release's bilateral guided
    upsampling (Chen et al. 2016), which fits affines on a bilateral grid instead. All (B,3,·,·) in [0,1].
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: Tensor) -> Tensor:
        return kornia.filters.box_blur(x, size, border_type="reflect")

    batch, _, height, width = low_input.shape
    mean_in, mean_out = box(low_input), box(low_output)
    pairs_in = (low_input.unsqueeze(2) * low_input.unsqueeze(1)).flatten(1, 2)
    pairs_io = (low_input.unsqueeze(2) * low_output.unsqueeze(1)).flatten(1, 2)
    cov_in = box(pairs_in).view(batch, 3, 3, height, width) - mean_in.unsqueeze(2) * mean_in.unsqueeze(1)
    cov_io = box(pairs_io).view(batch, 3, 3, height, width) - mean_in.unsqueeze(2) * mean_out.unsqueeze(1)
    cov_in = cov_in + eps * torch.eye(3, device=cov_in.device, dtype=cov_in.dtype)[..., None, None]
    matrix = torch.linalg.solve(
        cov_in.permute(0, 3, 4, 1, 2), cov_io.permute(0, 3, 4, 1, 2)
    )  # (B,h,w,in,out)
    offset = mean_out - torch.einsum("bhwio,bihw->bohw", matrix, mean_in)
    coefficients = box(torch.cat([matrix.permute(0, 3, 4, 1, 2).flatten(1, 2), offset], dim=1))
    coefficients = F.interpolate(
        coefficients, size=full_input.shape[-2:], mode="bilinear", align_corners=False
    )
    matrix, offset = coefficients[:, :9].unflatten(1, (3, 3)), coefficients[:, 9:]
    return torch.einsum("biohw,bihw->bohw", matrix, full_input) + offset


def exposure_fusion(input: Tensor, output: Tensor) -> Tensor:
    """Mertens et al. exposure fusion (OpenCV MergeMertens) of input and output, (B,3,H,W) in [0,1]."""
    merge = cv2.createMergeMertens()
    fused = []
    for pair in zip(input, output, strict=True):
        frames = [
            np.ascontiguousarray((t.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy())
            for t in pair
        ]
        fused.append(torch.from_numpy(merge.process(frames)).permute(2, 0, 1))
    return torch.stack(fused).to(output).clamp(0, 1)


def contrast_stretch(images: Tensor, clip: float = 0.01) -> Tensor:
    """Per image and channel, clip the `clip` share of darkest and brightest values and stretch to [0,1]."""
    flat = images.flatten(2)
    count = flat.shape[-1]
    low = flat.kthvalue(max(1, round(clip * count)), dim=-1).values[..., None, None]
    high = flat.kthvalue(max(1, round((1 - clip) * count)), dim=-1).values[..., None, None]
    return ((images - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)


class _ScaledNet(nn.Module):
    """The net with fixed pyramid scales, as `enhance` needs a one-argument net (it pads itself)."""

    def __init__(self, net: nn.Module, pyramid_scales: Sequence[float] | None) -> None:
        super().__init__()
        self.net = net
        self.pyramid_scales = pyramid_scales

    def forward(self, x: Tensor) -> Tensor:
        return primary_output(self.net(x, pyramid_scales=self.pyramid_scales))


@dataclass(frozen=True)
class LMSPECInference:
    """How an LMSPEC net enhances whole images.

    `protocol`: `resize` (official demo: resize so the long side is `long_side`, pad by replication at the top
    and left to a `long_side` square, run, crop; images no larger than `long_side` are resized back
    bicubically, larger ones with `upsampling`) or `full` (full resolution, padded to the net's size
    multiple, tiled as the task's tile size says). `upsampling`: `local_affine` (see `local_affine_upsample`)
    or `resize` (bicubic).
    `pyramid_scales`: per-level multipliers, finest first (the release uses [1.5, 1.5, 1.5, 1.05] above 512).
    `fusion`: Mertens fusion of input and output; `pp`: 1 % contrast stretch (both off for the paper).
    """

    protocol: str = "resize"
    long_side: int = 512
    upsampling: str = "local_affine"
    pyramid_scales: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    fusion: bool = False
    pp: bool = False

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ExposureLabError(f"LMSPEC protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.upsampling not in UPSAMPLINGS:
            raise ExposureLabError(f"LMSPEC upsampling must be one of {UPSAMPLINGS}, got {self.upsampling!r}")
        if len(self.pyramid_scales) != 4:
            raise ExposureLabError(
                f"pyramid_scales needs 4 values (finest level first), got {list(self.pyramid_scales)}"
            )
        object.__setattr__(self, "pyramid_scales", tuple(float(s) for s in self.pyramid_scales))

    def describe(self) -> str:
        """One line for results tables."""
        if self.protocol == "resize":
            text = (
                f"long side resized to {self.long_side} + replicate pad, {self.upsampling} upsampling above"
            )
        else:
            text = "full resolution + reflect pad to the net's multiple"
        if self.pyramid_scales != (1.0, 1.0, 1.0, 1.0):
            text += f", pyramid scales {list(self.pyramid_scales)}"
        return text + "".join(f", {name} on" for name in ("fusion", "pp") if getattr(self, name))

    def __call__(
        self, net: nn.Module, x: Tensor, tile_size: int | None = None, tile_overlap: int = 32
    ) -> Tensor:
        """(B,3,H,W) in [0,1] → the enhanced (B,3,H,W) in [0,1], under `torch.inference_mode()`."""
        scaled = _ScaledNet(net, None if self.pyramid_scales == (1.0, 1.0, 1.0, 1.0) else self.pyramid_scales)
        with torch.inference_mode():
            if self.protocol == "full":
                out = enhance(scaled, x, tile_size=tile_size, tile_overlap=tile_overlap)
            else:
                out = self._resized(scaled, x)
            out = out.clamp(0, 1)
            if self.fusion:
                out = exposure_fusion(x, out)
            if self.pp:
                out = contrast_stretch(out)
        return out

    def _resized(self, net: _ScaledNet, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        side = self.long_side
        scale = side / max(height, width)
        small_size = (max(1, round(height * scale)), max(1, round(width * scale)))
        small = F.interpolate(x, size=small_size, mode="bicubic", align_corners=False, antialias=True).clamp(
            0, 1
        )
        pad_h, pad_w = side - small_size[0], side - small_size[1]
        out = net(F.pad(small, (pad_w, 0, pad_h, 0), mode="replicate"))[..., pad_h:, pad_w:].clamp(0, 1)
        if max(height, width) > side and self.upsampling == "local_affine":
            return local_affine_upsample(small, out, x)
        return F.interpolate(out, size=(height, width), mode="bicubic", align_corners=False)
