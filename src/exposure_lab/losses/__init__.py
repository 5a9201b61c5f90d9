"""Pixel losses for paired objectives, combined by name with weights from config."""

from collections.abc import Callable, Mapping, Sequence

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.losses.fourier import amplitude_l1, phase_l1


def charbonnier(pred: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """Mean of sqrt((pred − target)² + eps²) (MIRNet's form; kornia's variant fixes eps = 1 instead)."""
    return torch.sqrt((pred - target) ** 2 + eps**2).mean()


def ssim_loss(pred: Tensor, target: Tensor, window_size: int = 11) -> Tensor:
    """(1 − SSIM) / 2 averaged over the map; inputs (B,C,H,W) in [0, 1]."""
    return kornia.losses.ssim_loss(pred, target, window_size=window_size, max_val=1.0)


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "l1": F.l1_loss,
    "mse": F.mse_loss,
    "charbonnier": charbonnier,
    "ssim": ssim_loss,
    "fft_amplitude": amplitude_l1,
    "fft_phase": phase_l1,
}


def active_weights(weights: Mapping[str, float], known: Sequence[str], kind: str = "") -> dict[str, float]:
    """The non-zero `weights` as floats; one-line error naming any name that is not in `known`."""
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ExposureLabError(
            f"unknown {kind + ' ' if kind else ''}loss name(s) {unknown}; known: {list(known)}"
        )
    return {name: float(w) for name, w in weights.items() if float(w) != 0.0}


class WeightedLoss(nn.Module):
    """Sum of named pixel losses, each with its weight; returns the total and every term for logging."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        self.weights = active_weights(weights, sorted(LOSSES))

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """pred, target: (B,3,H,W) in [0,1] → (weighted total, {name: unweighted term})."""
        terms = {name: LOSSES[name](pred, target) for name in self.weights}
        total = sum((self.weights[name] * value for name, value in terms.items()), pred.new_zeros(()))
        return total, terms
