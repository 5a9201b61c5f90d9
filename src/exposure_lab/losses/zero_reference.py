"""Zero-reference losses of Zero-DCE, Zero-DCE++ and SGZ (no target image), combined by name with weights."""

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.losses import active_weights

# (dy, dx, weight) of each neighbour compared by the spatial-consistency loss.
_DIRECT = ((0, -1, 1.0), (0, 1, 1.0), (-1, 0, 1.0), (1, 0, 1.0))
_DIAGONAL = ((-1, -1, 0.5), (-1, 1, 0.5), (1, -1, 0.5), (1, 1, 0.5))


def _neighbour_kernels(diagonals: bool) -> tuple[Tensor, Tensor]:
    """(N,1,3,3) kernels "centre − neighbour" and their (N,) weights."""
    offsets = _DIRECT + (_DIAGONAL if diagonals else ())
    kernels = torch.zeros(len(offsets), 1, 3, 3)
    for index, (dy, dx, _) in enumerate(offsets):
        kernels[index, 0, 1, 1] = 1.0
        kernels[index, 0, 1 + dy, 1 + dx] = -1.0
    return kernels, torch.tensor([w for _, _, w in offsets])


def spatial_consistency(
    input: Tensor, enhanced: Tensor, patch_size: int = 4, diagonals: bool = False
) -> Tensor:
    """Spatial-consistency loss L_spa: keep the differences between neighbouring regions of the input.

    Channel means of `input` and `enhanced` (B,3,H,W) are average-pooled over `patch_size`² regions; for each
    region the difference to each neighbour (4 direct, weight 1; with `diagonals` also 4 diagonal, weight
    0.5; zero padding at the border) must stay the same: mean over regions of Σ w·(Δ_input − Δ_enhanced)².
    """
    difference = F.avg_pool2d((input - enhanced).mean(1, keepdim=True), patch_size)
    kernels, weights = _neighbour_kernels(diagonals)
    per_direction = F.conv2d(difference, kernels.to(difference), padding=1).pow(2)
    return (per_direction * weights.to(difference).view(1, -1, 1, 1)).sum(1).mean()


def exposure_control_per_image(enhanced: Tensor, patch_size: int = 16, level: float = 0.6) -> Tensor:
    """(B,3,H,W) → (B,) L_exp per image: mean over its `patch_size`² regions of (mean intensity − level)²."""
    return (F.avg_pool2d(enhanced.mean(1, keepdim=True), patch_size) - level).pow(2).mean((1, 2, 3))


def exposure_control(enhanced: Tensor, patch_size: int = 16, level: float = 0.6) -> Tensor:
    """Exposure-control loss L_exp: mean over the `patch_size`² regions of (mean intensity − `level`)²."""
    return exposure_control_per_image(enhanced, patch_size, level).mean()


def color_constancy(enhanced: Tensor) -> Tensor:
    """Colour-constancy loss L_col: mean over images of sqrt(D_rg² + D_rb² + D_gb²), D_xy = (m_x − m_y)².

    m_x are the spatial channel means (the official code squares the squared difference; kept). The sqrt
    argument is clamped at 1e-12 so a grey image has a finite gradient.
    """
    red, green, blue = enhanced.mean((2, 3)).unbind(1)
    squared = torch.stack([(red - green) ** 2, (red - blue) ** 2, (blue - green) ** 2], 1)
    return squared.pow(2).sum(1).clamp_min(1e-12).sqrt().mean()


def illumination_smoothness(curves: Tensor) -> Tensor:
    """Illumination-smoothness loss L_tvA on curve maps (B,C,H,W): 2·(Σ Δh²/((H−1)W) + Σ Δw²/(H(W−1)))/B."""
    batch, _, height, width = curves.shape
    vertical = (curves[:, :, 1:] - curves[:, :, :-1]).pow(2).sum() / ((height - 1) * width)
    horizontal = (curves[..., 1:] - curves[..., :-1]).pow(2).sum() / (height * (width - 1))
    return 2 * (vertical + horizontal) / batch


def confidence_focal(logits: Tensor, gamma: float = 2.0, eps: float = 1e-7) -> Tensor:
    """SGZ's semantic loss: focal loss of segmentation logits (B,K,h,w) against their own arg-max labels.

    With p = the largest softmax probability (clamped to [eps, 1 − eps]): mean of −(1 − p)^γ·log p, a
    confidence (entropy-minimising) term; the pseudo-labels carry no gradient.
    """
    probability = logits.softmax(1).max(1).values.clamp(eps, 1 - eps)
    return (-((1 - probability) ** gamma) * probability.log()).mean()


TERMS = ("spatial", "exposure", "color", "illumination", "semantic")


class ZeroReferenceLoss(nn.Module):
    """Weighted sum of the zero-reference terms, named as in `TERMS`; zero-weight terms are skipped.

    `semantic_logits` (enhanced (B,3,H,W) → logits (B,K,h,w)) is required when the semantic weight is not 0.
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        spatial_patch: int = 4,
        spatial_diagonals: bool = False,
        exposure_patch: int = 16,
        exposure_level: float = 0.6,
        focal_gamma: float = 2.0,
    ) -> None:
        super().__init__()
        self.weights = active_weights(weights, TERMS, "zero-reference")
        self.spatial_patch = spatial_patch
        self.spatial_diagonals = spatial_diagonals
        self.exposure_patch = exposure_patch
        self.exposure_level = exposure_level
        self.focal_gamma = focal_gamma

    def forward(
        self,
        input: Tensor,
        enhanced: Tensor,
        curves: Tensor,
        semantic_logits: Callable[[Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """input, enhanced: (B,3,H,W); curves: (B,C,H,W) → (weighted total, {name: unweighted term})."""
        compute = {
            "spatial": lambda: spatial_consistency(
                input, enhanced, self.spatial_patch, self.spatial_diagonals
            ),
            "exposure": lambda: exposure_control(enhanced, self.exposure_patch, self.exposure_level),
            "color": lambda: color_constancy(enhanced),
            "illumination": lambda: illumination_smoothness(curves),
            "semantic": lambda: confidence_focal(_required(semantic_logits)(enhanced), self.focal_gamma),
        }
        terms = {name: compute[name]() for name in self.weights}
        total = sum((self.weights[name] * value for name, value in terms.items()), enhanced.new_zeros(()))
        return total, terms


def _required(semantic_logits: Callable[[Tensor], Tensor] | None) -> Callable[[Tensor], Tensor]:
    if semantic_logits is None:
        raise ExposureLabError("the semantic loss weight is not 0 but no segmentation net was given")
    return semantic_logits
