"""Classical, parameter-free exposure-correction baselines usable wherever a trainable net is.

Every baseline maps (B,3,H,W) RGB in [0,1] to (B,3,H,W) RGB in [0,1], works on any size
(``size_multiple = 1``) and processes the whole batch at once. Inputs are clamped to [0,1] first, so a power
or a histogram never sees out-of-range values. Luma is ITU-R BT.601 (0.299, 0.587, 0.114), the Y of kornia's
full-range YCbCr.
"""

import math

import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale, rgb_to_ycbcr, ycbcr_to_rgb
from kornia.enhance import adjust_gamma, equalize, equalize_clahe
from torch import Tensor, nn


class Identity(nn.Module):
    """Returns the input unchanged (clamped to [0,1]): the "do nothing" reference row of every table."""

    size_multiple = 1

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] → (B,3,H,W) in [0,1]."""
        return x.clamp(0.0, 1.0)


class Gamma(nn.Module):
    """Fixed gamma curve ``out = x ** (1 / gamma)`` on every RGB channel.

    Convention: ``gamma`` is the display gamma being *encoded*, so ``gamma > 1`` brightens (the default 2.2
    lifts mid-grey 0.2 to 0.48) and ``gamma < 1`` darkens; ``gamma = 1`` is the identity.
    """

    size_multiple = 1

    def __init__(self, gamma: float = 2.2) -> None:
        super().__init__()
        if not gamma > 0:
            raise ValueError(f"Gamma: gamma must be > 0, got {gamma}")
        self.gamma = float(gamma)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] → (B,3,H,W) in [0,1]."""
        return adjust_gamma(x.clamp(0.0, 1.0), 1.0 / self.gamma)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"


class AutoGamma(nn.Module):
    """Per-image gamma that maps the image's mean luma ``m`` to ``target_mean``.

    The exponent ``g = log(target_mean) / log(m)`` is applied directly as ``out = x ** g`` to every RGB
    channel (so ``g < 1`` brightens a dark image). This is the classical closed form: a uniform image lands
    exactly on the target, others close to it (a dark photo slightly below: ``x ** g`` is concave for
    ``g < 1``). ``m`` is clamped to ``[eps, 1 - eps]`` so black or white images give a finite exponent.
    """

    size_multiple = 1

    def __init__(self, target_mean: float = 0.5, eps: float = 1e-3) -> None:
        super().__init__()
        if not 0.0 < target_mean < 1.0:
            raise ValueError(f"AutoGamma: target_mean must lie in (0, 1), got {target_mean}")
        if not 0.0 < eps < 0.5:
            raise ValueError(f"AutoGamma: eps must lie in (0, 0.5), got {eps}")
        self.target_mean = float(target_mean)
        self.eps = float(eps)

    def exponent(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] → (B,) exponents ``g`` with ``mean_luma ** g == target_mean``."""
        mean_luma = rgb_to_grayscale(x.clamp(0.0, 1.0)).mean(dim=(-3, -2, -1))
        mean_luma = mean_luma.clamp(self.eps, 1.0 - self.eps)
        return math.log(self.target_mean) / torch.log(mean_luma)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] → (B,3,H,W) in [0,1]."""
        return adjust_gamma(x.clamp(0.0, 1.0), self.exponent(x))

    def extra_repr(self) -> str:
        return f"target_mean={self.target_mean}, eps={self.eps}"


def _on_luma(x: Tensor, transform) -> Tensor:
    """Apply ``transform`` ((B,1,H,W) → (B,1,H,W)) to the Y of full-range YCbCr, keeping Cb and Cr."""
    ycbcr = rgb_to_ycbcr(x.clamp(0.0, 1.0))
    y = transform(ycbcr[:, :1].clamp(0.0, 1.0))
    return ycbcr_to_rgb(torch.cat([y, ycbcr[:, 1:]], dim=1))


class HistogramEqualization(nn.Module):
    """Global histogram equalisation of luma (256 levels, PIL's ``ImageOps.equalize`` via kornia).

    Colour-preserving: the image is converted to full-range YCbCr, only Y is equalised, Cb and Cr are kept,
    and the result is converted back to RGB (clamped to [0,1]). Equalising R, G and B separately shifts hues.
    """

    size_multiple = 1

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] → (B,3,H,W) in [0,1]."""
        return _on_luma(x, equalize)


class CLAHE(nn.Module):
    """Contrast-limited adaptive histogram equalisation of luma (kornia's OpenCV-style CLAHE).

    Like :class:`HistogramEqualization`, only the Y channel of full-range YCbCr is equalised (Cb, Cr kept).
    ``grid_size`` is the number of tiles along (H, W); on images too small for it (an axis of at most
    ``grid_size`` pixels) the grid shrinks to ``size - 1`` tiles along that axis. ``clip_limit`` follows
    OpenCV (2.0 is OpenCV's usual choice; 0 disables clipping).
    """

    size_multiple = 1

    def __init__(self, clip_limit: float = 2.0, grid_size: tuple[int, int] | list[int] = (8, 8)) -> None:
        super().__init__()
        if clip_limit < 0:
            raise ValueError(f"CLAHE: clip_limit must be >= 0, got {clip_limit}")
        grid = tuple(int(g) for g in grid_size)
        if len(grid) != 2 or min(grid) < 1:
            raise ValueError(f"CLAHE: grid_size must be two positive integers, got {grid_size}")
        self.clip_limit = float(clip_limit)
        self.grid_size = grid

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,3,H,W) in [0,1] → (B,3,H,W) in [0,1]; an axis of one pixel is equalised as two replicas."""
        height, width = x.shape[-2:]
        if height < 2 or width < 2:  # kornia's CLAHE needs two pixels per axis
            padded = F.pad(x, (0, max(0, 2 - width), 0, max(0, 2 - height)), mode="replicate")
            return self(padded)[..., :height, :width]
        grid = (max(1, min(self.grid_size[0], height - 1)), max(1, min(self.grid_size[1], width - 1)))
        return _on_luma(x, lambda y: equalize_clahe(y, self.clip_limit, grid))

    def extra_repr(self) -> str:
        return f"clip_limit={self.clip_limit}, grid_size={self.grid_size}"
