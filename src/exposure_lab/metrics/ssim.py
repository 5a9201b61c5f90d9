"""SSIM equal to scikit-image's ``structural_similarity`` with Gaussian weights (the reported protocol)."""

import kornia
from torch import Tensor

from exposure_lab.errors import ExposureLabError

WINDOW_SIZE = 11  # sigma 1.5: scikit-image 2 * int(3.5 * sigma + 0.5) + 1, MATLAB 2 * ceil(3 * sigma) + 1


def ssim_per_image(pred: Tensor, target: Tensor, data_range: float = 255.0) -> Tensor:
    """Mean SSIM of each image pair: (B,C,H,W) in [0, data_range] → (B,), over channels and positions.

    Equals ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=255)``: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, no down-sampling, map averaged over
    the positions whose window lies inside the image.
    """
    height, width = pred.shape[-2:]
    if min(height, width) < WINDOW_SIZE:
        raise ExposureLabError(
            f"SSIM needs images of at least {WINDOW_SIZE}x{WINDOW_SIZE} pixels (after the border crop); "
            f"got {height}x{width}"
        )
    ssim_map = kornia.metrics.ssim(pred, target, WINDOW_SIZE, max_val=data_range, eps=0.0, padding="valid")
    return ssim_map.flatten(1).mean(dim=1)
