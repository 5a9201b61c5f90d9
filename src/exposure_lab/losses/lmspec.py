"""LMSPEC / Endo-LMSPEC objective: reconstruction, pyramid, SSIM, adversarial and RGB-uv histogram terms,
combined by name with weights from config."""

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.losses import active_weights, ssim_loss
from exposure_lab.models.lmspec import LaplacianPyramid

TERMS = ("reconstruction", "pyramid", "ssim", "adversarial", "histogram")
PYRAMID_LEVEL_WEIGHTS = (1.0, 2.0, 4.0)  # levels 2, 3, 4


def pyramid_loss(
    upsampled: Sequence[Tensor],
    target: Tensor,
    pyramid: LaplacianPyramid,
    mean_over: Literal["image", "level"] = "image",
) -> Tensor:
    """Σ_k w_k·|up(Y_k) − up(G_k(T))|, k = 2..4 with w = 1, 2, 4, each at level k−1's resolution.

    `upsampled`: the net's [up(Y2), up(Y3), up(Y4)]; target (B,3,H,W) in [0,1]; G_k is the target's Gaussian
    pyramid, brought to level k−1 by the fixed pyramid upsampler. `image`: every level's absolute error summed
    and divided by the full-resolution element count (the official sum-L1, scaled like the reconstruction);
    `level`: the mean error of each level (Endo-LMSPEC's mean-reduced L1).
    """
    gaussian = pyramid.gaussian(target)
    total = target.new_zeros(())
    for weight, pred, coarse, fine in zip(
        PYRAMID_LEVEL_WEIGHTS, upsampled, gaussian[1:], gaussian[:-1], strict=True
    ):
        error = (pred - pyramid.up(coarse, fine.shape[-2:])).abs()
        total = total + weight * (error.sum() / target.numel() if mean_over == "image" else error.mean())
    return total


def rgb_uv_histogram(images: Tensor, bins: int = 128, sigma: float = 0.02, limit: float = 3.0) -> Tensor:
    """HistoGAN RGB-uv histogram (B,3,bins,bins), each image's summing to 1.

    images (B,3,H,W) in [0,1]. For channel c, the log-chroma pair (log I_c − log I_a, log I_c − log I_b) is
    soft-binned over [−limit, limit] with the kernel 1/(1+(d/σ)²), each pixel weighted by √(R²+G²+B²).
    """
    eps = 1e-6
    flat = images.clamp(0, 1).flatten(2)
    log = torch.log(flat + eps)
    weight = flat.norm(dim=1).unsqueeze(-1)
    centers = torch.linspace(-limit, limit, bins, device=images.device, dtype=images.dtype)

    def kernel(chroma: Tensor) -> Tensor:
        return 1.0 / (1.0 + ((chroma.unsqueeze(-1) - centers) / sigma) ** 2)

    channels = []
    for c, (a, b) in enumerate(((1, 2), (0, 2), (0, 1))):
        u = kernel(log[:, c] - log[:, a]) * weight
        v = kernel(log[:, c] - log[:, b])
        channels.append(u.transpose(1, 2) @ v)
    histogram = torch.stack(channels, dim=1)
    return histogram / histogram.sum(dim=(1, 2, 3), keepdim=True).clamp_min(eps)


def histogram_loss(pred: Tensor, target: Tensor, bins: int = 128, max_size: int = 128) -> Tensor:
    """Mean over the batch of the Hellinger distance between RGB-uv histograms; (B,3,H,W) in [0,1].

    Images with a side above `max_size` are resized (area) first: the soft binning holds B·H·W·bins values.
    """
    if max(pred.shape[-2:]) > max_size:
        scale = max_size / max(pred.shape[-2:])
        size = [max(1, round(side * scale)) for side in pred.shape[-2:]]
        pred, target = (F.interpolate(t, size=size, mode="area") for t in (pred, target))
    eps = 1e-10
    difference = torch.sqrt(rgb_uv_histogram(pred, bins) + eps) - torch.sqrt(
        rgb_uv_histogram(target, bins) + eps
    )
    return torch.linalg.vector_norm(difference.flatten(1), dim=1).mean() / math.sqrt(2)


def random_flips(images: Tensor) -> Tensor:
    """Each image of (B,C,H,W) flipped up-down, left-right or not at all, uniformly at random."""
    choice = torch.randint(0, 3, (images.shape[0], 1, 1, 1), device=images.device)
    return torch.where(choice == 1, images.flip(-1), torch.where(choice == 2, images.flip(-2), images))


def generator_adversarial_loss(discriminator: nn.Module, fake: Tensor) -> Tensor:
    """Non-saturating BCE −log σ(D(fake)) of (B,3,H,W) outputs in [0,1], randomly flipped as officially."""
    logits = discriminator(random_flips(fake))
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def discriminator_loss(discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """BCE of D on targets (label 1) plus on detached outputs (label 0), both (B,3,H,W) in [0,1]."""
    real_logits = discriminator(random_flips(real))
    fake_logits = discriminator(random_flips(fake.detach()))
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


class LMSPECLoss(nn.Module):
    """Generator objective: Σ weight·term over `TERMS` with non-zero weight; returns the total and each term.

    `reconstruction` mean L1 of the output; `pyramid` see `pyramid_loss`; `ssim` (1 − SSIM)/2 of the output
    (the existing Gaussian-window SSIM loss); `adversarial` non-saturating BCE through the discriminator;
    `histogram` RGB-uv Hellinger distance. With `adversarial_gradient=False` the adversarial term is computed
    on the detached output (the official MATLAB behaviour: it trains D but gives G no gradient).
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        pyramid_mean_over: Literal["image", "level"] = "image",
        adversarial_gradient: bool = True,
        histogram_bins: int = 128,
    ) -> None:
        super().__init__()
        if pyramid_mean_over not in ("image", "level"):
            raise ExposureLabError(f"pyramid_mean_over must be image or level, got {pyramid_mean_over!r}")
        self.weights = active_weights(weights, TERMS, "LMSPEC")
        self.pyramid_mean_over = pyramid_mean_over
        self.adversarial_gradient = adversarial_gradient
        self.histogram_bins = histogram_bins

    @property
    def uses_adversarial(self) -> bool:
        return "adversarial" in self.weights

    def forward(
        self,
        outputs: Mapping[str, Tensor | list[Tensor]],
        target: Tensor,
        pyramid: LaplacianPyramid,
        discriminator: nn.Module | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """outputs: the LMSPEC net's dict; target (B,3,H,W) in [0,1]. The adversarial term is skipped when
        `discriminator` is None (not yet active)."""
        pred = outputs["output"]
        terms: dict[str, Tensor] = {}
        for name in self.weights:
            if name == "reconstruction":
                terms[name] = F.l1_loss(pred, target)
            elif name == "pyramid":
                terms[name] = pyramid_loss(outputs["upsampled"], target, pyramid, self.pyramid_mean_over)
            elif name == "ssim":
                terms[name] = ssim_loss(pred, target)
            elif name == "histogram":
                terms[name] = histogram_loss(pred, target, self.histogram_bins)
            elif discriminator is not None:
                fake = pred if self.adversarial_gradient else pred.detach()
                terms[name] = generator_adversarial_loss(discriminator, fake)
        total = sum((self.weights[name] * value for name, value in terms.items()), pred.new_zeros(()))
        return total, terms
