"""P-IEANet (He et al., NeurIPS 2024): a wavelet net predicting a signed per-pixel exposure residual map.

Output convention (both variants): (B,1,H,W), unbounded regression trained toward [−1, 1]; + under-exposed,
− over-exposed, 0 ideal. `wavelet_assessor(variant=...)` builds the paper's network (`"paper"`) or the
simplified network of the official release (`"released"`, loads the official checkpoint).
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.models.layers import gated_copies, memory_format_of, narrow_conv2d, weighted_sum

# (dy, dx) of the 8 neighbours that the directional gradient maps subtract from each position.
NEIGHBOURS: tuple[tuple[int, int], ...] = (
    (-1, 0),
    (1, 0),
    (0, -1),
    (0, 1),
    (-1, -1),
    (1, -1),
    (-1, 1),
    (1, 1),
)


class HaarDWT(nn.Module):
    """One-level orthonormal Haar transform: fixed 2×2 stride-2 filters with entries ±1/2, exactly invertible.

    `forward`: (B,C,H,W), H and W even → (B,C,4,H/2,W/2) with bands LL, LH, HL, HH on dim 2.
    `inverse`: the reverse mapping.
    """

    def __init__(self) -> None:
        super().__init__()
        low = torch.tensor([1.0, 1.0])
        high = torch.tensor([1.0, -1.0])
        filters = [torch.outer(a, b) / 2 for a, b in ((low, low), (high, low), (low, high), (high, high))]
        self.register_buffer("filters", torch.stack(filters)[:, None], persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        if height % 2 or width % 2:
            raise ValueError(f"HaarDWT: height and width must be even, got {height}×{width}")
        weight = self.filters.repeat(channels, 1, 1, 1).to(x.dtype)
        bands = F.conv2d(x, weight, stride=2, groups=channels)
        return bands.view(batch, channels, 4, height // 2, width // 2)

    def inverse(self, bands: Tensor) -> Tensor:
        batch, channels, _, height, width = bands.shape
        weight = self.filters.repeat(channels, 1, 1, 1).to(bands.dtype)
        flat = bands.reshape(batch, channels * 4, height, width)
        return F.conv_transpose2d(flat, weight, stride=2, groups=channels)

    @staticmethod
    def inverse_of(low: Tensor, lh: Tensor, hl: Tensor, hh: Tensor) -> Tensor:
        """`inverse` of the four bands given apart, each (B,C,h,w) → (B,C,2h,2w) in the layout of `low`: a
        butterfly written into the four interleaved output phases (no band stack, no grouped transposed conv,
        no layout conversion). Equal to `inverse` up to float rounding."""
        batch, channels, height, width = low.shape
        out = torch.empty(
            batch, channels, 2 * height, 2 * width, dtype=low.dtype, memory_format=memory_format_of(low)
        )
        sums, differences = low + lh, low - lh
        high_sums, high_differences = hl + hh, hl - hh
        torch.add(sums, high_sums, out=out[..., 0::2, 0::2])
        torch.sub(sums, high_sums, out=out[..., 0::2, 1::2])
        torch.add(differences, high_differences, out=out[..., 1::2, 0::2])
        torch.sub(differences, high_differences, out=out[..., 1::2, 1::2])
        return out.mul_(0.5)


def directional_gradients(x: Tensor) -> Tensor:
    """First-order differences to the 8 neighbours (replicate border): (B,C,H,W) → (B,8C,H,W)."""
    height, width = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    shifted = [padded[..., 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy, dx in NEIGHBOURS]
    return torch.cat([x - s for s in shifted], dim=1)


class SpatialAttention(nn.Module):
    """Multi-head self-attention over the spatial positions of one image (never across the batch), on an
    average-pooled `grid`×`grid` token map whose result is upsampled back: (B,C,H,W) → (B,C,H,W)."""

    def __init__(self, channels: int, heads: int, grid: int) -> None:
        super().__init__()
        self.grid = grid
        self.norm = nn.LayerNorm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.fused = True

    def forward(self, x: Tensor, projection: Tensor | None = None) -> Tensor:
        """`projection` (C_out,C,1,1), optional: a 1×1 conv (no bias) applied to the result, computed on the
        token grid before upsampling (it commutes with bilinear resizing, whose weights sum to 1)."""
        pooled = F.adaptive_avg_pool2d(x, self.grid)
        tokens = self.norm(pooled.flatten(2).transpose(1, 2))
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        grid = attended.transpose(1, 2).reshape_as(pooled)
        if projection is not None:
            grid = F.conv2d(grid, projection.to(grid.dtype))
        if self.fused:  # a fresh tensor in x's layout: the transposed view's strides (batch stride ≠ C·H·W)
            # make interpolate's output NCHW for a channels-last x, and every later op then mixes two layouts
            grid = grid.clone(memory_format=memory_format_of(x))
        return F.interpolate(grid, size=x.shape[-2:], mode="bilinear", align_corners=False)


def gradient_kernel(conv: nn.Conv2d) -> Tensor:
    """The 3×3 kernel equal to `conv` (1×1 over `directional_gradients`' 8C channels) applied to directional
    gradients: Σₖ Wₖ(x − shiftₖ x) has centre Σₖ Wₖ and −Wₖ at neighbour k. (C_out,8C,1,1) → (C_out,C,3,3)."""
    weight = conv.weight[:, :, 0, 0].unflatten(1, (len(NEIGHBOURS), -1))
    offsets = torch.zeros(len(NEIGHBOURS), 3, 3, dtype=weight.dtype, device=weight.device)
    for k, (dy, dx) in enumerate(NEIGHBOURS):
        offsets[k, 1 + dy, 1 + dx] = 1.0
    centre = torch.zeros(3, 3, dtype=weight.dtype, device=weight.device)
    centre[1, 1] = 1.0
    return weight.sum(1)[..., None, None] * centre - torch.einsum("okc,khw->ochw", weight, offsets)


def _conv(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class StructureLayer(nn.Module):
    """One encoder layer of the structure module: 8-direction gradient maps, a long-range (attention) and a
    short-range (CNN) encoder, fused by an MLP, with a residual connection."""

    def __init__(self, channels: int, heads: int, grid: int) -> None:
        super().__init__()
        self.gradients = nn.Conv2d(8 * channels, channels, 1)
        self.long_range = SpatialAttention(channels, heads, grid)
        self.short_range = nn.Sequential(_conv(channels, channels), nn.GELU(), _conv(channels, channels))
        self.fuse = nn.Sequential(
            nn.Conv2d(3 * channels, channels, 1), nn.GELU(), nn.Conv2d(channels, channels, 1)
        )
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        if not self.fused:
            gradients = self.gradients(directional_gradients(x))
            mixed = torch.cat([self.long_range(x + gradients), self.short_range(x + gradients), gradients], 1)
            return x + self.fuse(mixed)
        # one 3×3 conv instead of 8 shifted copies, an 8C-channel concat and a 1×1 conv
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        gradients = F.conv2d(padded, gradient_kernel(self.gradients).to(x.dtype), self.gradients.bias)
        return x + self.fuse[1:](self._fuse_input(x + gradients, gradients))

    def _fuse_input(self, encoded: Tensor, gradients: Tensor) -> Tensor:
        """`fuse[0]` of the concatenated (long range, short range, gradients) without the concat: its weight
        split by input; the long-range part applied on the attention grid, the short-range part composed
        into the short-range encoder's last conv. (B,C,H,W) twice → (B,C,H,W)."""
        into, last = self.fuse[0], self.short_range[2]
        on_long, on_short, on_gradients = into.weight.chunk(3, 1)
        short_weight = torch.einsum("om,mchw->ochw", on_short[:, :, 0, 0], last.weight)
        short_bias = on_short[:, :, 0, 0] @ last.bias + into.bias
        hidden = self.short_range[1](self.short_range[0](encoded))
        mixed = F.conv2d(hidden, short_weight.to(hidden.dtype), short_bias.to(hidden.dtype), padding=1)
        mixed = mixed.add_(F.conv2d(gradients, on_gradients.to(gradients.dtype)))
        return mixed.add_(self.long_range(encoded, projection=on_long))


class LightnessBlock(nn.Module):
    """Lightness block: conv pair, then channel attention (LCA) and pixel attention (LPA: self-attention, a
    weighted sum of multi-scale convolutions, sigmoid → 1×H×W), merged by an MLP, with a residual."""

    def __init__(self, channels: int, heads: int, grid: int, scales: tuple[int, ...] = (3, 5, 7)) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.ReLU(inplace=True), _conv(channels, channels))
        reduced = max(channels // 8, 1)
        self.channel_attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, reduced, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(reduced, channels, 1),
            nn.Sigmoid(),
        )
        self.pixel_context = SpatialAttention(channels, heads, grid)
        self.pixel_scales = nn.ModuleList(_conv(channels, reduced, k) for k in scales)
        self.scale_weights = nn.Parameter(torch.zeros(len(scales)))
        self.pixel_map = nn.Conv2d(reduced, 1, 1)
        self.merge = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1), nn.GELU(), nn.Conv2d(channels, channels, 1)
        )
        self.fused = True

    def pixel_kernel(self) -> tuple[Tensor, Tensor]:
        """`pixel_map` ∘ (softmax-weighted sum of the multi-scale convs) as one k_max×k_max conv to 1
        channel: (weight (1,C,k,k), bias (1,)); the smaller kernels are zero-padded to the largest."""
        weights = self.scale_weights.softmax(0)
        mix = self.pixel_map.weight[:, :, 0, 0]
        size = max(conv.kernel_size[0] for conv in self.pixel_scales)
        kernel, bias = 0.0, self.pixel_map.bias
        for weight, conv in zip(weights, self.pixel_scales, strict=True):
            pad = (size - conv.kernel_size[0]) // 2
            kernel = kernel + weight * F.pad(torch.einsum("or,rchw->ochw", mix, conv.weight), (pad,) * 4)
            bias = bias + weight * (mix @ conv.bias)
        return kernel, bias

    def forward(self, x: Tensor) -> Tensor:
        features = self.body(x)
        channel_gate = self.channel_attention(features)
        context = features + self.pixel_context(features)
        if self.fused:  # linear maps composed: one conv to 1 channel instead of three to C/8 and a 1×1
            logits = narrow_conv2d(context, *self.pixel_kernel())
        else:
            weights = self.scale_weights.softmax(0)
            multi_scale = sum(w * conv(context) for w, conv in zip(weights, self.pixel_scales, strict=True))
            logits = self.pixel_map(multi_scale)
        return x + self.merge(gated_copies(features, (channel_gate, torch.sigmoid(logits)), self.fused))


class PIEANet(nn.Module):
    """The paper's P-IEANet: Haar DWT; structure module on LH/HL/HH, lightness module on LL; inverse DWT of
    (lightness, structure) features; MLP head → residual map (B,1,H,W), + under / − over.

    Input (B,3,H,W) in [0,1] with H, W even (`size_multiple` = 2). Defaults give 2,691,109 parameters (paper:
    2.7 M), split near the paper's ablation: structure module 1.07 M (paper 2.7 − 1.6 = 1.1 M), lightness
    module 1.62 M (paper 2.7 − 1.0 = 1.7 M).
    Attention runs per image over a pooled `attention_grid`² token map (the paper does not give its size).
    The attribute `fused` (default True) runs the head's conv to one channel as `narrow_conv2d` and, when no
    gradient is recorded, inverts the DWT from the four bands apart (`HaarDWT.inverse_of`): the same values
    up to float rounding.
    """

    size_multiple = 2

    def __init__(
        self,
        channels: int = 64,
        structure_layers: int = 7,
        lightness_blocks: int = 11,
        heads: int = 4,
        attention_grid: int = 16,
    ) -> None:
        super().__init__()
        self.dwt = HaarDWT()
        self.structure_embed = _conv(9, channels)
        self.structure = nn.ModuleList(
            StructureLayer(channels, heads, attention_grid) for _ in range(structure_layers)
        )
        self.structure_out = nn.Conv2d(structure_layers * channels, 3 * channels, 1)
        self.lightness_embed = _conv(3, channels)
        self.lightness = nn.Sequential(
            *(LightnessBlock(channels, heads, attention_grid) for _ in range(lightness_blocks))
        )
        self.head = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.GELU(), _conv(channels, 1))
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        """(B,3,H,W) in [0,1] → signed residual (B,1,H,W)."""
        bands = self.dwt(x)
        batch, _, _, height, width = bands.shape
        features = self.structure_embed(bands[:, :, 1:].transpose(1, 2).reshape(batch, 9, height, width))
        stacked = []
        for layer in self.structure:
            features = layer(features)
            stacked.append(features)
        high = self.structure_out(torch.cat(stacked, 1))
        low = self.lightness(self.lightness_embed(bands[:, :, 0]))
        if self.fused and not torch.is_grad_enabled():
            image = self.dwt.inverse_of(low, *high.chunk(3, 1))
        else:
            channels = low.shape[1]
            bands = torch.cat([low[:, None], high.view(batch, 3, channels, height, width)], 1)
            image = self.dwt.inverse(bands.transpose(1, 2))
        hidden = self.head[:-1](image)
        if self.fused:
            return narrow_conv2d(hidden, self.head[-1].weight, self.head[-1].bias)
        return self.head[-1](hidden)


class _ChannelGate(nn.Module):
    """x · sigmoid(up(relu(down(pool(x))))) (FFA-Net channel attention)."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, reduced, 1)
        self.up = nn.Conv2d(reduced, channels, 1)

    def weights(self, x: Tensor) -> Tensor:
        """(B,C,H,W) → (B,C,1,1) gate in (0, 1)."""
        return self.gate(F.adaptive_avg_pool2d(x, 1))

    def gate(self, pooled: Tensor) -> Tensor:
        """(B,C,1,1) channel means → (B,C,1,1) gate in (0, 1)."""
        return torch.sigmoid(self.up(F.relu(self.down(pooled))))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weights(x)


class _PixelGate(nn.Module):
    """x · sigmoid(up(relu(down(x)))) with a one-channel gate (FFA-Net pixel attention)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, channels // 8, 1)
        self.up = nn.Conv2d(channels // 8, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.up(F.relu(self.down(x))))


class _FFABlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.conv2 = _conv(channels, channels)
        self.channel_attention = _ChannelGate(channels, channels // 8)
        self.pixel_attention = _PixelGate(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(F.relu(self.conv1(x)) + x)
        return self.pixel_attention(self.channel_attention(y)) + x


class _FFAGroup(nn.Module):
    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(_FFABlock(channels) for _ in range(blocks)))
        self.tail = _conv(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.tail(self.blocks(x)) + x


class _ReleasedLightness(nn.Module):
    """The release's lightness branch: an FFA-Net (3 groups × 2 blocks, 64 channels) on full-resolution RGB
    → (B,1,H,W). The attribute `fused` (default True) weights and sums the group outputs one by one instead
    of reducing their (B,3,C,H,W) stack: the same values up to float rounding, several times faster."""

    def __init__(self, channels: int = 64, groups: int = 3, blocks: int = 2) -> None:
        super().__init__()
        self.head = _conv(3, channels)
        self.groups = nn.ModuleList(_FFAGroup(channels, blocks) for _ in range(groups))
        self.group_attention = _ChannelGate(groups * channels, channels // 16)
        self.pixel_attention = _PixelGate(channels)
        self.post = _conv(channels, channels)
        self.to_map = _conv(channels, 1)
        self.merge = _conv(3, 1)
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        features = self.head(x)
        outputs = []
        for group in self.groups:
            features = group(features)
            outputs.append(features)
        if self.fused:
            pooled = torch.cat([F.adaptive_avg_pool2d(output, 1) for output in outputs], 1)
            weights = self.group_attention.gate(pooled).chunk(len(outputs), 1)
            weighted = weighted_sum(outputs, weights)
        else:
            stacked = torch.stack(outputs, 1)
            batch, groups, channels = stacked.shape[:3]
            gate = self.group_attention.weights(stacked.flatten(1, 2)).view(batch, groups, channels, 1, 1)
            weighted = (gate * stacked).sum(1)
        return self.merge(self.to_map(self.post(self.pixel_attention(weighted))) + x)


def _left_top_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """2×2 convolution after one zero row on top and one zero column on the left (same size out)."""
    return nn.Sequential(nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(in_channels, out_channels, 2))


def _single_key_attention(attention: nn.MultiheadAttention, memory: Tensor) -> Tensor:
    """Attention over one key: its softmax weight is exactly 1, so the result is out_proj(v_proj(memory))."""
    dim = attention.embed_dim
    values = F.linear(memory, attention.in_proj_weight[2 * dim :], attention.in_proj_bias[2 * dim :])
    return attention.out_proj(values)


def _length_one_transformer(transformer: nn.Transformer, tokens: Tensor) -> Tensor:
    """`transformer(tokens, tokens)` in eval mode for (N, d) tokens that are each a sequence of length 1
    (post-norm layers, ReLU feed-forward, final norms) without the attention kernels: (N, d) → (N, d)."""
    memory = tokens
    for layer in transformer.encoder.layers:
        memory = layer.norm1(memory + _single_key_attention(layer.self_attn, memory))
        memory = layer.norm2(memory + layer.linear2(layer.activation(layer.linear1(memory))))
    memory = transformer.encoder.norm(memory)
    out = tokens
    for layer in transformer.decoder.layers:
        out = layer.norm1(out + _single_key_attention(layer.self_attn, out))
        out = layer.norm2(out + _single_key_attention(layer.multihead_attn, memory))
        out = layer.norm3(out + layer.linear2(layer.activation(layer.linear1(out))))
    return transformer.decoder.norm(out)


class _ReleasedBranch(nn.Module):
    """One of the 9 structure branches: short-range 2×2 conv, long-range transformer + 1×1 conv, 2×2 fuse."""

    def __init__(self) -> None:
        super().__init__()
        self.short = _left_top_conv(9, 3)
        encoder_layer = nn.TransformerEncoderLayer(9, 1, dim_feedforward=16)
        encoder = nn.TransformerEncoder(encoder_layer, 1, nn.LayerNorm(9), enable_nested_tensor=False)
        self.attention = nn.Transformer(
            9, 1, num_decoder_layers=1, dim_feedforward=16, custom_encoder=encoder
        )
        self.attention_proj = nn.Conv2d(9, 3, 1)
        self.fuse = _left_top_conv(6, 3)
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        # The released code views (B,9,H,W) memory as H·W tokens of 9 values (no permute); its weights were
        # trained on that token layout, so it is kept. Each token is its own length-1 sequence: the release's
        # attention over the batch of two identical copies equals exactly this per-image computation.
        tokens = x.reshape(1, batch * height * width, channels)
        if self.fused and not self.training:
            attended = _length_one_transformer(self.attention, tokens[0])
        else:
            attended = self.attention(tokens, tokens)
        attended = attended.reshape(batch, channels, height, width)
        return self.fuse(torch.cat([self.short(x), self.attention_proj(attended)], 1))


class PIEANetReleased(nn.Module):
    """The simplified P-IEANet of the official release (624,263 parameters); every image is processed alone.

    Trainable 2×2 stride-2 "Haar" convs give 9 high-band channels at H/2×W/2; a structure encoder (raw bands
    and 8 directional differences, each through a short-range conv and a tiny transformer) gives 3 channels,
    resized to H×W and passed through a ReLU conv tail (≥ 0); added to an FFA-Net lightness map of the RGB
    input. The official checkpoint expects 256×256 inputs; any even size runs. `unused_low_band` and
    `unused_blur` are never called by the release either; they hold released weights (and count in 624,263)
    and are frozen.
    """

    size_multiple = 2

    def __init__(self) -> None:
        super().__init__()
        self.unused_low_band = nn.Conv2d(3, 3, 2, stride=2)
        self.high_bands = nn.ModuleList(nn.Conv2d(3, 3, 2, stride=2) for _ in range(3))
        self.branches = nn.ModuleList(_ReleasedBranch() for _ in range(9))
        self.lightness = _ReleasedLightness()
        self.unused_blur = nn.Sequential(_conv(3, 3), nn.ReLU(), _conv(3, 1), nn.ReLU())
        self.tail = nn.Sequential(_conv(3, 3), nn.ReLU(), _conv(3, 6), nn.ReLU(), _conv(6, 1), nn.ReLU())
        self.unused_low_band.requires_grad_(False)
        self.unused_blur.requires_grad_(False)

    def structure(self, high: Tensor) -> Tensor:
        """(B,9,h,w) high bands → (B,3,h,w): raw-band branch plus the 8 directional-difference branches."""
        height, width = high.shape[-2:]
        centre = high[..., 1:-1, 1:-1]
        features = self.branches[0](high)
        for branch, (dy, dx) in zip(self.branches[1:], NEIGHBOURS, strict=True):
            neighbour = high[..., 1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx]
            difference = F.interpolate(centre - neighbour, size=(height, width), mode="nearest")
            features = features + branch(difference)
        return features

    def forward(self, x: Tensor) -> Tensor:
        """(B,3,H,W) in [0,1] → signed residual (B,1,H,W)."""
        high = torch.cat([conv(x) for conv in self.high_bands], 1)
        structure = self.structure(high).float()  # the antialiased resize has no bf16 kernel (autocast)
        structure = F.interpolate(
            structure, size=x.shape[-2:], mode="bilinear", align_corners=False, antialias=True
        )
        return self.lightness(x) + self.tail(structure)

    def convert_official_state_dict(self, official: dict[str, Tensor]) -> dict[str, Tensor]:
        """Rename the keys of the official `Wavelet_Net` state dict to this module's layout."""
        converted = {}
        for key, value in official.items():
            for pattern, replacement in _OFFICIAL_KEYS:
                new_key, count = pattern.subn(replacement, key)
                if count:
                    converted[new_key] = value
                    break
            else:
                converted[key] = value
        return converted


_BLOCK_GATES = {
    "calayer.ca.0": "channel_attention.down",
    "calayer.ca.2": "channel_attention.up",
    "palayer.pa.0": "pixel_attention.down",
    "palayer.pa.2": "pixel_attention.up",
}


def _group_key(match: re.Match[str]) -> str:
    group, index, rest = int(match["g"]) - 1, int(match["i"]), match["rest"]
    if index == 2:
        return f"lightness.groups.{group}.tail.{rest}"
    for old, new in _BLOCK_GATES.items():
        rest = rest.replace(old, new)
    return f"lightness.groups.{group}.blocks.{index}.{rest}"


_OFFICIAL_KEYS: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^ffa_group\.g(?P<g>\d)\.gp\.(?P<i>\d)\.(?P<rest>.*)$", _group_key),
        (r"^ffa_group\.ca\.1\.", "lightness.group_attention.down."),
        (r"^ffa_group\.ca\.3\.", "lightness.group_attention.up."),
        (r"^ffa_group\.palayer\.pa\.0\.", "lightness.pixel_attention.down."),
        (r"^ffa_group\.palayer\.pa\.2\.", "lightness.pixel_attention.up."),
        (r"^ffa_group\.pre\.0\.", "lightness.head."),
        (r"^ffa_group\.post\.0\.", "lightness.post."),
        (r"^ffa_group\.post\.1\.", "lightness.to_map."),
        (r"^ffa_group\.post_2\.0\.", "lightness.merge."),
        (r"^encoder\.conv(\d)\.conv\.", r"branches.\1.short.1."),
        (r"^encoder\.transformer(\d)\.transformer\.", r"branches.\1.attention."),
        (r"^encoder\.transformer(\d)\.conv\.", r"branches.\1.attention_proj."),
        (r"^encoder\.fusion(\d)\.conv\.", r"branches.\1.fuse.1."),
        (r"^Low\.conv\.", "unused_low_band."),
        (r"^High_(\d)\.conv\.", lambda m: f"high_bands.{int(m[1]) - 1}."),
        (r"^fusion\.blur_conv\.", "unused_blur."),
        (r"^fusion\.tail_conv\.", "tail."),
    )
)


VARIANTS = {"paper": PIEANet, "released": PIEANetReleased}


def p_ieanet(variant: str = "paper", **options: Any) -> nn.Module:
    """The P-IEANet of `variant` ("paper": `PIEANet(**options)`; "released": `PIEANetReleased()`)."""
    if variant not in VARIANTS:
        raise ExposureLabError(
            f"wavelet_assessor: unknown variant {variant!r}; expected one of {sorted(VARIANTS)}"
        )
    if variant == "released" and options:
        raise ExposureLabError(
            f"wavelet_assessor: the released variant has no options, got {sorted(options)}"
        )
    return VARIANTS[variant](**options)
