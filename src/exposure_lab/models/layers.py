"""Small exact building blocks of the nets' fast inference paths: each equals its plain PyTorch formulation
up to float rounding (or bitwise) and is tested against it."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def memory_format_of(x: Tensor) -> torch.memory_format:
    """channels_last for a 4-D channels-last tensor that is not also NCHW-contiguous, else contiguous."""
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last and not x.is_contiguous() else torch.contiguous_format


def narrow_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """`F.conv2d(x, weight, bias, padding=k // 2)` for a conv to few output channels (odd k×k, stride 1, zero
    padding), as a 1×1 conv to k²·C_out channels and 2(k−1) shifted sums, accumulated in fp32 and returned
    in x's dtype: oneDNN runs convs to one or a few output channels far below its peak, a 1×1 conv near it.
    x (B,C,H,W), weight (C_out,C,k,k) → (B,C_out,H,W); equal to the conv up to float rounding."""
    out_channels, _, size, _ = weight.shape
    batch, _, height, width = x.shape
    taps = weight.permute(2, 3, 0, 1).reshape(size * size * out_channels, -1, 1, 1)
    pad = size // 2
    shape = (batch, size * size * out_channels, height + 2 * pad, width + 2 * pad)
    padded = torch.zeros(shape, dtype=torch.float32, device=x.device)
    padded[..., pad : pad + height, pad : pad + width] = F.conv2d(x, taps.to(x.dtype))
    projected = padded.view(batch, size, size, out_channels, height + 2 * pad, -1)
    rows = functools.reduce(torch.add, (projected[:, :, dx, ..., dx : dx + width] for dx in range(size)))
    out = functools.reduce(torch.add, (rows[:, dy, :, dy : dy + height] for dy in range(size)))
    if bias is not None:
        out = out + bias.float()[:, None, None]
    return out.to(x.dtype)


def weighted_sum(tensors: Sequence[Tensor], weights: Sequence[Tensor]) -> Tensor:
    """Σᵢ tensorsᵢ · weightsᵢ (weights broadcast, e.g. (B,C,1,1)), one product added at a time: reducing a
    (B,n,C,H,W) stack of channels-last streams instead is 10–50× slower than the n − 1 adds."""
    return functools.reduce(torch.add, map(torch.mul, tensors, weights))


def gated_copies(features: Tensor, gates: tuple[Tensor, ...], in_place: bool) -> Tensor:
    """`torch.cat([features * gate for gate in gates], 1)`; with `in_place` and no gradient recorded, each
    product is written straight into its channel slice of the result instead of being concatenated."""
    if not in_place or torch.is_grad_enabled():
        return torch.cat([features * gate for gate in gates], 1)
    batch, channels, height, width = features.shape
    layout = memory_format_of(features)
    out = torch.empty(batch, len(gates) * channels, height, width, dtype=features.dtype, memory_format=layout)
    for index, gate in enumerate(gates):
        torch.mul(features, gate, out=out[:, index * channels : (index + 1) * channels])
    return out


class InPlacePReLU(nn.PReLU):
    """`nn.PReLU` (same parameters and state dict) whose attribute `fused` (default True) applies a single
    slope in place when no gradient is recorded and nothing is being compiled or exported: `F.leaky_relu_`,
    bitwise the same values, without allocating a fresh full-resolution output (which costs more in page
    faults and memory traffic than the op). Its input must be a tensor no one else reads, e.g. a conv's."""

    def __init__(self) -> None:
        super().__init__()
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        in_place = self.fused and self.num_parameters == 1 and not torch.is_grad_enabled()
        if in_place and not torch.compiler.is_compiling():
            return F.leaky_relu_(x, float(self.weight))
        return super().forward(x)
