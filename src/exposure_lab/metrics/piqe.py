"""PIQE (Venkatanath et al. 2015) as MATLAB's ``piqe`` computes it, vectorised over 16×16 blocks in torch.

Gray = MATLAB ``rgb2gray`` of the uint8 image, padded symmetrically (bottom/right) to whole blocks and scaled
to a maximum of 255; MSCN with a 7×7 Gaussian (σ 7/6, replicated borders, C = 1). Blocks whose MSCN variance
exceeds 0.1 are active; an active block is distorted by a noticeable artefact (a 6-pixel edge segment with
standard deviation below 0.1) and/or by noise (centre–surround criterion); score = 100 · (Σ distortion + 1) /
(active blocks + 1), 0 (best) to 100.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from exposure_lab.metrics.color import matlab_rgb2gray
from exposure_lab.metrics.niqe import mscn

BLOCK = 16
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = 6


def _symmetric_pad_to_blocks(gray: Tensor) -> Tensor:
    """MATLAB ``padarray(·, pad, 'symmetric', 'post')`` up to whole blocks (edge pixel repeated)."""
    pad_h, pad_w = (-gray.shape[-2]) % BLOCK, (-gray.shape[-1]) % BLOCK
    if pad_h:
        gray = torch.cat([gray, gray[..., -pad_h:, :].flip(-2)], dim=-2)
    if pad_w:
        gray = torch.cat([gray, gray[..., -pad_w:].flip(-1)], dim=-1)
    return gray


def _noticeable_artefact(blocks: Tensor) -> Tensor:
    """(B,N,16,16) → (B,N) bool: some 6-pixel segment of a block edge is nearly flat (std < 0.1)."""
    edges = torch.stack([blocks[..., 0, :], blocks[..., :, -1], blocks[..., -1, :], blocks[..., :, 0]], dim=2)
    return (edges.unfold(-1, SEGMENT, 1).std(-1) < IMPAIRED_THRESHOLD).flatten(2).any(-1)


def _noise(blocks: Tensor, block_std: Tensor) -> Tensor:
    """(B,N,16,16), (B,N) → (B,N) bool: MATLAB's centre–surround noise criterion σ > 2β.

    As MATLAB's code, the centre is columns 8–9 (1-based) and the surround drops columns 8 and 10: the second
    deletion indexes the already shortened block.
    """
    centre = blocks[..., 7:9].flatten(2).std(-1)
    surround = torch.cat([blocks[..., :7], blocks[..., 8:9], blocks[..., 10:]], dim=-1).flatten(2).std(-1)
    ratio = torch.nan_to_num(centre / surround, nan=0.0)
    beta = (block_std - ratio).abs() / torch.maximum(block_std, ratio)
    return block_std > 2 * beta


def piqe(images: Tensor) -> Tensor:
    """PIQE of (B,3,H,W) images in [0,1] (rounded to uint8 first) → (B,) float64 in [0, 100]; lower is
    better. A uniform image scores 100."""
    rgb = (images.detach().double().clamp(0, 1) * 255).round()
    gray = _symmetric_pad_to_blocks(matlab_rgb2gray(rgb))
    peak = gray.flatten(1).amax(1).clamp_min(1.0).view(-1, 1, 1, 1)
    coefficients = mscn((255 * gray / peak).round())
    batch = coefficients.shape[0]
    blocks = F.unfold(coefficients, BLOCK, stride=BLOCK).transpose(1, 2).reshape(batch, -1, BLOCK, BLOCK)
    variance = blocks.flatten(2).var(-1)
    active = variance > ACTIVITY_THRESHOLD
    artefact = _noticeable_artefact(blocks)
    noise = _noise(blocks, variance.sqrt())
    distortion = active * (artefact * (1 - variance) + noise * variance)
    return 100 * (distortion.sum(1) + 1) / (active.sum(1) + 1)
