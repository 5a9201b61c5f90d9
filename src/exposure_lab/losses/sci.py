"""SCI's unsupervised objective (Ma et al., CVPR 2022): illumination fidelity + edge-aware smoothness."""

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from exposure_lab.losses import active_weights

# BT.601 studio-range RGB → YCbCr of the official loss (rows: Y, Cb, Cr), offsets on [0, 1].
YCBCR = ((0.257, 0.564, 0.098), (-0.148, -0.291, 0.439), (0.439, -0.368, -0.071))
YCBCR_OFFSET = (16.0 / 255.0, 128.0 / 255.0, 128.0 / 255.0)
TERMS = ("fidelity", "smoothness")
DEFAULT_WEIGHTS = {"fidelity": 1.5, "smoothness": 1.0}
# (dy, dx) of the 12 neighbours of the official 5×5 smoothness term; each appears twice there (both signs).
OFFSETS = ((1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1), (2, -1), (1, 2), (1, -2), (2, 2), (2, -2))


def rgb_to_ycbcr(x: Tensor) -> Tensor:
    """(B,3,H,W) RGB in [0,1] → (B,3,H,W) BT.601 studio-range YCbCr in [0,1] (per pixel)."""
    matrix = torch.tensor(YCBCR, dtype=x.dtype, device=x.device)
    offset = torch.tensor(YCBCR_OFFSET, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.einsum("oc,bchw->bohw", matrix, x) + offset


def _pairs(x: Tensor, dy: int, dx: int) -> tuple[Tensor, Tensor]:
    """x at (y + dy, x + dx) and at (y, x) over the positions where both exist (dy ≥ 0)."""
    height, width = x.shape[-2:]
    left, right = max(0, -dx), width - max(0, dx)
    return x[..., dy:, left + dx : right + dx], x[..., : height - dy, left:right]


def smoothness(illumination: Tensor, guide: Tensor, sigma: float = 10.0) -> Tensor:
    """Edge-aware smoothness of `illumination` (B,3,H,W) guided by `guide` (B,3,H,W) in [0,1]: for each of the
    12 neighbour offsets in a 5×5 window, the mean over valid positions of
    exp(−‖ΔYCbCr(guide)‖² / 2σ²)·‖Δ illumination‖₁, summed and doubled (the official 24 terms)."""
    ycbcr = rgb_to_ycbcr(guide)
    total = illumination.new_zeros(())
    for dy, dx in OFFSETS:
        shifted, centre = _pairs(ycbcr, dy, dx)
        weight = torch.exp((shifted - centre).pow(2).sum(1, keepdim=True) / (-2 * sigma**2))
        shifted, centre = _pairs(illumination, dy, dx)
        total = total + (weight * (shifted - centre).abs().sum(1, keepdim=True)).mean()
    return 2 * total


def sci_loss(
    inputs: Sequence[Tensor],
    illuminations: Sequence[Tensor],
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    sigma: float = 10.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Σ over stages of w_fidelity·MSE(i_t, input_t) + w_smoothness·smoothness(i_t guided by input_t).

    `inputs`/`illuminations`: the stages of `SCI.unroll`; `weights` by name (`TERMS`; the release: 1.5 and 1).
    Returns the weighted total and the unweighted sum over stages of each term with a non-zero weight.
    """
    active = active_weights(weights, TERMS, "SCI")
    compute = {"fidelity": lambda x, i: F.mse_loss(i, x), "smoothness": lambda x, i: smoothness(i, x, sigma)}
    terms = {
        name: sum(compute[name](x, i) for x, i in zip(inputs, illuminations, strict=True)) for name in active
    }
    total = sum((active[name] * value for name, value in terms.items()), inputs[0].new_zeros(()))
    return total, terms
