"""NIQE (Mittal, Soundararajan & Bovik 2013) as the official MATLAB release computes it, vectorised in torch.

Gray = MATLAB ``rgb2gray`` of the uint8 image; the image is cropped to whole 96×96 patches; at each of two
scales (the second from MATLAB's bicubic, antialiased ``imresize(im, 0.5)``) the MSCN coefficients (7×7
Gaussian, σ 7/6, replicated borders, C = 1) of every patch give 18 AGGD features; the distance between the
multivariate Gaussian of the patches and the LIVE pristine model is the score (lower is better). The pristine
model is ``basicsr/metrics/niqe_pris_params.npz`` of the ``basicsr==1.4.2`` source archive, read in place.
"""

from __future__ import annotations

import functools
import io
import math
import tarfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from exposure_lab.errors import ExposureLabError, WeightsNotFoundError
from exposure_lab.metrics.color import matlab_rgb2gray

BASICSR_SDIST = "basicsr-1.4.2.tar.gz"
PARAMS_MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"
DEFAULT_PARAMS_PATH = Path(__file__).resolve().parents[3] / ".cache" / "niqe" / BASICSR_SDIST
GET_PARAMS = (
    "run `make install`, or `pip download --no-deps --no-binary :all: --no-build-isolation "
    f"-d {DEFAULT_PARAMS_PATH.parent} basicsr==1.4.2`"
)
PATCH = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _read_npz(source: Path | io.BytesIO, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(source, allow_pickle=False) as arrays:
            mu, cov = arrays["mu_pris_param"].reshape(-1), arrays["cov_pris_param"]
    except (OSError, KeyError, ValueError) as exc:
        raise WeightsNotFoundError(f"{where}: not a NIQE parameter file ({exc})".replace("\n", " ")) from exc
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise WeightsNotFoundError(
            f"{where}: NIQE parameters of shape {mu.shape}, {cov.shape}; expected 36, 36x36"
        )
    return mu, cov


@functools.cache
def load_pristine_model(path: Path | None = None) -> tuple[Tensor, Tensor]:
    """The LIVE pristine model: mean (36,) and covariance (36,36), float64.

    ``path`` is the basicsr source archive (``.tar.gz``) or the ``.npz`` itself; None looks in
    ``DEFAULT_PARAMS_PATH``. A missing or unreadable file raises WeightsNotFoundError naming it and how to
    get it.
    """
    path = Path(path).expanduser() if path is not None else DEFAULT_PARAMS_PATH
    if not path.is_file():
        raise WeightsNotFoundError(
            f"NIQE parameters not found: missing {path} ({PARAMS_MEMBER.split('/', 1)[1]} of the "
            f"basicsr==1.4.2 source archive); {GET_PARAMS}"
        )
    if path.suffix == ".npz":
        mu, cov = _read_npz(path, str(path))
    else:
        try:
            with tarfile.open(path) as archive:
                member = archive.extractfile(PARAMS_MEMBER)
                data = io.BytesIO(member.read()) if member is not None else None
        except (OSError, KeyError, tarfile.TarError) as exc:
            raise WeightsNotFoundError(f"{path}: no {PARAMS_MEMBER} in it ({exc}); {GET_PARAMS}") from exc
        if data is None:
            raise WeightsNotFoundError(f"{path}: {PARAMS_MEMBER} is not a file; {GET_PARAMS}")
        mu, cov = _read_npz(data, f"{path}:{PARAMS_MEMBER}")
    return torch.from_numpy(mu.astype(np.float64)), torch.from_numpy(cov.astype(np.float64))


def _gaussian_taps(size: int = 7, sigma: float = 7.0 / 6.0) -> Tensor:
    axis = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-(axis**2) / (2 * sigma**2))
    return taps / taps.sum()


def _separable(image: Tensor, taps: Tensor) -> Tensor:
    """(N,1,H+k−1,W+k−1) ⊛ outer(taps, taps) at valid positions → (N,1,H,W); MATLAB's normalised
    ``fspecial`` Gaussian is this outer product."""
    taps = taps.to(image)
    return F.conv2d(F.conv2d(image, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))


def mscn(gray: Tensor) -> Tensor:
    """Mean-subtracted contrast-normalised coefficients of (B,1,H,W) 0–255 float64: MATLAB
    ``(im − μ) ./ (σ + 1)``, μ and σ² the 7×7 Gaussian (σ 7/6) weighted mean and variance, replicated borders.

    A flat window gives exactly 0, as in exact arithmetic: the sign of filter rounding noise would otherwise
    pick the AGGD tail of every pixel of a flat region and move NIQE by up to 0.5 on images with flat areas.
    """
    padded = F.pad(gray, (3, 3, 3, 3), mode="replicate")
    mean, mean_sq = _separable(torch.cat([padded, padded * padded]), _gaussian_taps()).chunk(2)
    coefficients = (gray - mean) / ((mean_sq - mean * mean).abs().sqrt() + 1.0)
    high = F.max_pool2d(F.max_pool2d(padded, (7, 1), stride=1), (1, 7), stride=1)
    low = -F.max_pool2d(F.max_pool2d(-padded, (7, 1), stride=1), (1, 7), stride=1)
    return coefficients.masked_fill(high == low, 0.0)


@functools.cache
def _aggd_table(device: torch.device) -> tuple[Tensor, Tensor]:
    shapes = torch.arange(9801, dtype=torch.float64, device=device) * 0.001 + 0.2  # MATLAB 0.2:0.001:10
    ratio = (2 * torch.lgamma(2 / shapes) - torch.lgamma(1 / shapes) - torch.lgamma(3 / shapes)).exp()
    return shapes, ratio


def aggd_fit(values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Moment-matching AGGD fit (the official ``estimateaggdparam``) along the last dim of (..., N):
    shape α, left scale β_l, right scale β_r, each (...). Zeros count in neither tail; NaN for empty tails."""
    shapes, ratio = _aggd_table(values.device)
    left, right = values < 0, values > 0
    left_std = (values.pow(2) * left).sum(-1).div(left.sum(-1)).sqrt()
    right_std = (values.pow(2) * right).sum(-1).div(right.sum(-1)).sqrt()
    gamma_hat = left_std / right_std
    r_hat = values.abs().mean(-1).pow(2) / values.pow(2).mean(-1)
    r_norm = r_hat * (gamma_hat.pow(3) + 1) * (gamma_hat + 1) / (gamma_hat.pow(2) + 1).pow(2)
    # MATLAB's min over an all-NaN column returns its first index, as argmin does here.
    alpha = shapes[(ratio - r_norm[..., None]).pow(2).argmin(-1)]
    spread = (torch.lgamma(1 / alpha) - torch.lgamma(3 / alpha)).exp().sqrt()
    return alpha, left_std * spread, right_std * spread


def patch_features(coefficients: Tensor, patch: int) -> Tensor:
    """(B,1,H,W) MSCN coefficients, H and W multiples of ``patch`` → (B, patches, 18) NIQE features."""
    batch = coefficients.shape[0]
    blocks = coefficients.unfold(2, patch, patch).unfold(3, patch, patch).reshape(batch, -1, patch, patch)
    alpha, beta_l, beta_r = aggd_fit(blocks.flatten(2))
    features = [alpha, (beta_l + beta_r) / 2]
    for shift in _SHIFTS:
        pairs = (blocks * torch.roll(blocks, shift, dims=(2, 3))).flatten(2)
        alpha, beta_l, beta_r = aggd_fit(pairs)
        mean = (beta_r - beta_l) * (torch.lgamma(2 / alpha) - torch.lgamma(1 / alpha)).exp()
        features += [alpha, mean, beta_l, beta_r]
    return torch.stack(features, dim=-1)


@functools.cache
def _imresize_half_taps(length: int) -> tuple[Tensor, Tensor]:
    """Source indices and weights (ceil(length/2), 10) of MATLAB ``imresize(·, 0.5)`` along one axis:
    bicubic kernel widened for antialiasing, normalised, indices mirrored at the borders."""
    scale, width = 0.5, 8.0
    out = np.arange(1, math.ceil(length * scale) + 1, dtype=np.float64)
    centre = out / scale + 0.5 * (1 - 1 / scale)
    index = np.floor(centre - width / 2)[:, None] + np.arange(math.ceil(width) + 2)[None]
    distance = np.abs(scale * (centre[:, None] - index))
    cubic = np.where(
        distance <= 1,
        1.5 * distance**3 - 2.5 * distance**2 + 1,
        np.where(distance <= 2, -0.5 * distance**3 + 2.5 * distance**2 - 4 * distance + 2, 0.0),
    )
    mirror = np.concatenate([np.arange(length), np.arange(length)[::-1]])
    source = mirror[(index.astype(np.int64) - 1) % (2 * length)]
    return torch.from_numpy(source), torch.from_numpy(cubic / cubic.sum(axis=1, keepdims=True))


def _resize_half_axis(image: Tensor, dim: int) -> Tensor:
    source, weights = _imresize_half_taps(image.shape[dim])
    moved = image.movedim(dim, -1)
    taps = moved[..., source.to(image.device)]  # (..., out, 10)
    # Weighted differences to the centre tap: a flat support stays exactly flat (see `mscn`).
    centre = taps[..., 4:5]
    resized = centre[..., 0] + ((taps - centre) * weights.to(image)).sum(-1)
    return resized.movedim(-1, dim)


def imresize_half(image: Tensor) -> Tensor:
    """MATLAB ``imresize(image, 0.5)`` of a double image (B,C,H,W): bicubic with antialiasing, no clamp;
    rows first, then columns, as MATLAB."""
    return _resize_half_axis(_resize_half_axis(image, -2), -1)


def _nan_mean_cov(features: Tensor) -> tuple[Tensor, Tensor]:
    """MATLAB ``nanmean`` (per column) and ``nancov`` (rows with a NaN dropped) of (N, F) → (F,), (F,F)."""
    mean = features.nanmean(0)
    complete = features[~features.isnan().any(1)]
    return mean, torch.cov(complete.T).reshape(features.shape[1], features.shape[1])


def niqe(images: Tensor, params: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """NIQE of (B,3,H,W) images in [0,1] (rounded to uint8 first) → (B,) float64; lower is better.

    Needs at least two whole 96×96 patches. Example on the first TID2013 image of pyiqa's calibration set:
    15.75 as the official MATLAB code (15.7536).
    """
    mu_pristine, cov_pristine = params if params is not None else load_pristine_model()
    height, width = images.shape[-2:]
    rows, cols = height // PATCH, width // PATCH
    if rows * cols < 2:
        raise ExposureLabError(
            f"NIQE needs at least two whole {PATCH}x{PATCH} patches; got a {height}x{width} image"
        )
    rgb = (images.detach().double().clamp(0, 1) * 255).round()
    gray = matlab_rgb2gray(rgb)[..., : rows * PATCH, : cols * PATCH]
    full = patch_features(mscn(gray), PATCH)
    half = patch_features(mscn(imresize_half(gray)), PATCH // 2)
    features = torch.cat([full, half], dim=-1)
    mu_pristine, cov_pristine = mu_pristine.to(features), cov_pristine.to(features)
    scores = []
    for per_image in features:
        mean, cov = _nan_mean_cov(per_image)
        diff = (mu_pristine - mean)[None]
        scores.append((diff @ torch.linalg.pinv((cov_pristine + cov) / 2) @ diff.T).squeeze().sqrt())
    return torch.stack(scores)
