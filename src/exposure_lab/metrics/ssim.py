"""SSIM with a Gaussian window (11, sigma 1.5, K1 0.01, K2 0.03, no down-sampling), per image."""

import kornia
import torch.nn.functional as F
from torch import Tensor

from exposure_lab.errors import ExposureLabError

WINDOW_SIZE = 11  # sigma 1.5: MATLAB 2 * ceil(3 * sigma) + 1, scikit-image 2 * int(3.5 * sigma + 0.5) + 1
SSIM_BORDERS = ("valid", "matlab")


def ssim_per_image(pred: Tensor, target: Tensor, data_range: float = 255.0, border: str = "valid") -> Tensor:
    """Mean SSIM of each image pair: (B,C,H,W) in [0, data_range] → (B,), over channels and positions.

    `border="valid"`: only positions whose window lies inside the image, as Wang et al.'s reference
    `ssim_index.m` (and scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`, BasicSR's `calculate_ssim`) compute it. `border="matlab"`: MATLAB's own
    `ssim` (R2014a+): local statistics filtered with replicated borders and the map averaged over every pixel.
    The two differ by up to a few 1e-3 on real photos.
    """
    if border not in SSIM_BORDERS:
        raise ExposureLabError(f"SSIM border {border!r} is not one of {', '.join(SSIM_BORDERS)}")
    height, width = pred.shape[-2:]
    if min(height, width) < WINDOW_SIZE:
        raise ExposureLabError(
            f"SSIM needs images of at least {WINDOW_SIZE}x{WINDOW_SIZE} pixels (after the border crop); "
            f"got {height}x{width}"
        )
    if border == "matlab":
        pad = (WINDOW_SIZE // 2,) * 4
        pred, target = F.pad(pred, pad, mode="replicate"), F.pad(target, pad, mode="replicate")
    ssim_map = kornia.metrics.ssim(pred, target, WINDOW_SIZE, max_val=data_range, eps=0.0, padding="valid")
    return ssim_map.flatten(1).mean(dim=1)
