"""Lightness order error (Wang et al., NPE, TIP 2013): how much an enhancement breaks the lightness order.

Lightness L = round(255 · max(R, G, B)) as the authors' code computes it. Both images are sub-sampled on the
same regular grid whose shorter side has ``side`` pixels (100 by default; smaller images are used whole); for
each grid pixel x, RD(x) counts the grid pixels y with [L_in(y) ≥ L_in(x)] ≠ [L_out(y) ≥ L_out(x)], and LOE
is the mean of RD (lower is better). Picking pixels instead of averaging them keeps LOE 0 for every map that
preserves the order of the input's levels. The authors' code also takes a 15×15 local maximum first and steps
by floor(min side / 50); this module follows the paper's definition at the usual 100-pixel side.
"""

import torch
from torch import Tensor

from exposure_lab.errors import ExposureLabError

SIDE = 100
LEVELS = 256


def lightness_grid(images: Tensor, side: int = SIDE) -> Tensor:
    """(B,3,H,W) in [0,1] → (B, n) integer lightness round(255·max(R,G,B)) on the sub-sampling grid."""
    height, width = images.shape[-2:]
    step = max(min(height, width) / side, 1.0)
    rows = ((torch.arange(round(height / step)) + 0.5) * step).long().clamp_max(height - 1).to(images.device)
    cols = ((torch.arange(round(width / step)) + 0.5) * step).long().clamp_max(width - 1).to(images.device)
    lightness = (images.detach().float().clamp(0, 1).amax(1) * 255).round().long()
    return lightness[:, rows][:, :, cols].flatten(1)


def _at_least(counts: Tensor) -> Tensor:
    """Suffix sums along the last dim: out[..., v] = Σ_{u ≥ v} counts[..., u]."""
    return counts.flip(-1).cumsum(-1).flip(-1)


def loe(enhanced: Tensor, input: Tensor, side: int = SIDE) -> Tensor:
    """LOE of `enhanced` against the low-light `input`, both (B,3,H,W) in [0,1] → (B,) float64.

    RD(x) = A + B − 2C with A = #{y: L_in(y) ≥ L_in(x)}, B the same for the output and C = #{y: both}, counted
    from the joint 256×256 histogram of (L_in, L_out), so the cost is linear in the pixels. 0 for any
    order-preserving map of the input; n − 1 at most (an order-reversing map of n distinct levels).
    """
    if enhanced.shape != input.shape:
        raise ExposureLabError(
            f"LOE needs the enhanced image and its input at the same size; got {tuple(enhanced.shape)} and "
            f"{tuple(input.shape)}"
        )
    before, after = lightness_grid(input, side), lightness_grid(enhanced, side)
    batch = before.shape[0]
    offset = torch.arange(batch, device=before.device)[:, None] * LEVELS * LEVELS
    joint = torch.bincount((offset + before * LEVELS + after).flatten(), minlength=batch * LEVELS * LEVELS)
    joint = joint.view(batch, LEVELS, LEVELS).double()
    both = _at_least(_at_least(joint).transpose(1, 2)).transpose(1, 2)  # [b, i, e] = #{L_in ≥ i, L_out ≥ e}
    at_least_before, at_least_after = both[:, :, 0], both[:, 0, :]
    flips = (
        at_least_before.gather(1, before)
        + at_least_after.gather(1, after)
        - 2 * both.flatten(1).gather(1, before * LEVELS + after)
    )
    return flips.mean(1)
