"""MSLT+ (Zhou et al., WACV 2024): multi-scale linear transformation for fast exposure correction.

A learnable 4-level Laplacian pyramid (stride-2 3×3 convs down, 3×3 convs + bilinear resizing up) splits the
image; the 1/8-resolution low-frequency layer is corrected by per-pixel affine colour transforms sliced from
a bilateral grid (predicted from a 48×48 thumbnail by a channel-distillation MLP, sliced by a learned
guidance map) and a conditioned pixel MLP; the three high-frequency layers are multiplied by masks of 1×1
convs. Everything but the grid predictor runs per pixel, so full resolution is cheap.

Matched against Zhou-Yijie/MSLTNet@d927aec47abe83a5247bf0cab7b0ad214bf8012e, `pyramid_structure/Omi_LP.py`
(`MSLT`), `pyramid_structure/network.py` (`B_transformer`, `MLPNet`, `Slice`, `ApplyCoeffs`) and
`pyramid_structure/fenet.py` (`HFD`, `CFD`), with `pretrained_model/mslt+.pth`.
"""

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GRID_SIZE = 48  # thumbnail side the grid predictor sees
GRID_SHAPE = (12, 6, 16, 16)  # affine coefficients × guidance bins × grid height × grid width


def _conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1)


def _channel_std(x: Tensor) -> Tensor:
    """Per-channel population standard deviation (B,C,1,1), summed over W then H as the release does."""
    count = x.shape[-2] * x.shape[-1]
    mean = x.sum(3, keepdim=True).sum(2, keepdim=True) / count
    return ((x - mean).pow(2).sum(3, keepdim=True).sum(2, keepdim=True) / count).pow(0.5)


class LaplacianPyramid(nn.Module):
    """Learnable Laplacian pyramid: `decompose` (B,3,H,W) → [low (1/8), high 1/4, high 1/2, high 1/1];
    `reconstruct` inverts it with the same up-sampling convs (exactly, for unmodified layers)."""

    def __init__(self, levels: int = 3) -> None:
        super().__init__()
        self.down = nn.ModuleList(nn.Conv2d(3, 3, 3, stride=2, padding=1) for _ in range(levels))
        self.up = nn.ModuleList(nn.Conv2d(3, 3, 3, padding=1) for _ in range(levels))

    def _expand(self, level: int, x: Tensor, like: Tensor) -> Tensor:
        return F.interpolate(self.up[level](x), size=like.shape[-2:], mode="bilinear", align_corners=False)

    def decompose(self, x: Tensor) -> list[Tensor]:
        gaussian = [x]
        for down in self.down:
            gaussian.append(down(gaussian[-1]))
        highs = [gaussian[k] - self._expand(k, gaussian[k + 1], gaussian[k]) for k in range(len(self.down))]
        return [gaussian[-1], *reversed(highs)]

    def reconstruct(self, pyramid: list[Tensor]) -> Tensor:
        image = pyramid[0]
        for level, high in zip(reversed(range(len(self.up))), pyramid[1:], strict=True):
            image = self._expand(level, image, high) + high
        return image


class ConditionedMLP(nn.Module):
    """Per-pixel MLP whose features are scaled by a global code (MLPNet): (B,in,H,W) → (B,out,H,W) ≥ 0."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 8) -> None:
        super().__init__()
        self.embed = _conv1x1(in_channels, width)
        self.condition = _conv1x1(width, width)
        self.scale = nn.Linear(width, width)
        self.out = _conv1x1(width, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        features = self.embed(x)
        code = self.scale(self.condition(features).mean(dim=[2, 3]))
        features = features * code[:, :, None, None] + features
        return F.relu(self.out(features))


class GridPredictor(nn.Module):
    """Channel-distillation MLP (HFD) on the 48×48 thumbnail: three rounds of contrast-aware distillation
    (sigmoid(mean + std) gate), each round's distilled part projected and summed; → (B,8,48,48), which the
    caller reads as a (B,12,6,16,16) bilateral grid. `unused_scale2/3` are defined but never called by the
    release (it applies `scale` in all three rounds); they hold released weights (frozen)."""

    def __init__(self, width: int = 40, out_channels: int = 8, rounds: int = 3) -> None:
        super().__init__()
        self.rounds = rounds
        self.scale = nn.Linear(width, width)
        self.unused_scale2 = nn.Linear(width, width).requires_grad_(False)
        self.unused_scale3 = nn.Linear(width, width).requires_grad_(False)
        self.embed = _conv1x1(3, width)
        self.head = _conv1x1(width, out_channels)
        self.body = _conv1x1(width, width)
        self.condition = _conv1x1(width, width)
        self.distil = _conv1x1(width, width)

    def forward(self, x: Tensor) -> Tensor:
        remainder = self.embed(x)
        total = None
        for _ in range(self.rounds):
            gate = torch.sigmoid(F.adaptive_avg_pool2d(remainder, 1) + _channel_std(remainder))
            distilled = F.relu(self.distil(remainder * gate))
            remainder = self.body(remainder - remainder * gate)
            code = self.scale(self.condition(remainder).mean(dim=[2, 3]))
            remainder = F.relu(remainder * code[:, :, None, None] + remainder)
            total = distilled if total is None else total + distilled
        return self.head(total + remainder)


class LowFrequencyTransform(nn.Module):
    """Bilateral-grid affine colour transform of the low-frequency layer, then a conditioned pixel MLP.

    The grid is sampled (trilinear, align_corners=True, zeros outside) at (x, y, guidance) with x, y in
    [−1, 1] across the layer and guidance ≥ 0 from a conditioned MLP; each pixel gets a 3×4 affine applied to
    PReLU(1×1 conv(layer)). `unused_prelu` is defined but never called by the release (frozen).
    """

    def __init__(self) -> None:
        super().__init__()
        self.guide = ConditionedMLP(3, 1)
        self.grid = GridPredictor()
        self.unused_prelu = nn.PReLU().requires_grad_(False)
        self.refine = ConditionedMLP(3, 3)
        self.prelu = nn.PReLU()
        self.point = _conv1x1(3, 3)

    def forward(self, x: Tensor) -> Tensor:
        thumbnail = F.interpolate(x, (GRID_SIZE, GRID_SIZE), mode="bicubic", align_corners=True)
        grid = self.grid(thumbnail).reshape(-1, *GRID_SHAPE)
        coefficients = slice_grid(grid, self.guide(x))
        return self.refine(apply_affine(coefficients, self.prelu(self.point(x))))


def slice_grid(grid: Tensor, guidance: Tensor) -> Tensor:
    """Sample a bilateral grid (B,12,D,Hg,Wg) at every pixel of guidance (B,1,H,W) → (B,12,H,W)."""
    batch, _, height, width = guidance.shape
    ys = _unit_coordinates(height, guidance)
    xs = _unit_coordinates(width, guidance)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack(
        [xx.expand(batch, -1, -1), yy.expand(batch, -1, -1), guidance[:, 0]], dim=-1
    ).unsqueeze(1)
    return F.grid_sample(grid, points, align_corners=True).squeeze(2)


def _unit_coordinates(size: int, like: Tensor) -> Tensor:
    """0..size−1 mapped to [−1, 1] as the release computes it: (i / (size − 1)) · 2 − 1."""
    index = torch.arange(size, device=like.device).to(like.dtype)
    return index / max(size - 1, 1) * 2 - 1


def apply_affine(coefficients: Tensor, x: Tensor) -> Tensor:
    """Per-pixel 3×4 affine colour transform: coefficients (B,12,H,W) (rows R, G, B of [a_r a_g a_b b]),
    x (B,3,H,W) → (B,3,H,W)."""
    rows = [
        torch.sum(x * coefficients[:, 4 * k : 4 * k + 3], dim=1, keepdim=True)
        + coefficients[:, 4 * k + 3 : 4 * k + 4]
        for k in range(3)
    ]
    return torch.cat(rows, dim=1)


class HighFrequencyMasks(nn.Module):
    """Mask of the 1/4 high-frequency layer from [high, low, corrected low] by a 1×1-conv MLP; nearest-resized
    and refined by one shared 1×1-conv MLP for the 1/2 and full-resolution layers (the release applies its
    first refinement MLP to both; `unused_refine` holds the released weights of the second, frozen)."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = nn.Sequential(_conv1x1(9, 9), nn.LeakyReLU(), _conv1x1(9, 3))
        self.refine = nn.Sequential(_conv1x1(3, 3), nn.LeakyReLU(), _conv1x1(3, 3))
        self.unused_refine = nn.Sequential(_conv1x1(3, 3), nn.LeakyReLU(), _conv1x1(3, 3)).requires_grad_(
            False
        )

    def forward(self, features: Tensor, highs: list[Tensor]) -> list[Tensor]:
        mask = self.mask(features)
        corrected = [highs[0] * mask]
        for high in highs[1:]:
            corrected.append(high * self.refine(F.interpolate(mask, size=high.shape[-2:], mode="nearest")))
        return corrected


class MSLT(nn.Module):
    """MSLT+ exposure correction net: (B,3,H,W) in [0,1], any H×W ≥ 2 → (B,3,H,W), not clamped.

    11,402 parameters as the official module (8,097 used by the forward pass — the paper's "~8K"; the 3,305
    of `low.grid.unused_scale2/3`, `low.unused_prelu` and `high.unused_refine` are never called, frozen).
    """

    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.pyramid = LaplacianPyramid()
        self.low = LowFrequencyTransform()
        self.high = HighFrequencyMasks()

    def forward(self, x: Tensor) -> Tensor:
        low, *highs = self.pyramid.decompose(x)
        corrected_low = self.low(low)
        size = highs[0].shape[-2:]
        features = torch.cat(
            [highs[0], F.interpolate(low, size=size), F.interpolate(corrected_low, size=size)], 1
        )
        return self.pyramid.reconstruct([corrected_low, *self.high(features, highs)])

    def convert_official_state_dict(self, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official `MSLT` keys (`lap_pyramid.*`, `trans_low.*`, `trans_high.*`) → this net's keys."""
        converted = {}
        for key, value in official.items():
            for old, new in _OFFICIAL_PREFIXES:
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            converted[key] = value
        return converted


_OFFICIAL_PREFIXES: tuple[tuple[str, str], ...] = (
    *((f"lap_pyramid.de_conv_{k}.", f"pyramid.down.{k - 1}.") for k in (1, 2, 3)),
    *((f"lap_pyramid.re_cov_{k}.", f"pyramid.up.{k - 1}.") for k in (1, 2, 3)),
    ("trans_low.guide.conv1.", "low.guide.embed."),
    ("trans_low.guide.conv2.", "low.guide.condition."),
    ("trans_low.guide.cond_scale1.", "low.guide.scale."),
    ("trans_low.guide.conv3.", "low.guide.out."),
    ("trans_low.fitune.conv1.", "low.refine.embed."),
    ("trans_low.fitune.conv2.", "low.refine.condition."),
    ("trans_low.fitune.cond_scale1.", "low.refine.scale."),
    ("trans_low.fitune.conv3.", "low.refine.out."),
    ("trans_low.fenet.cond_scale1.", "low.grid.scale."),
    ("trans_low.fenet.cond_scale2.", "low.grid.unused_scale2."),
    ("trans_low.fenet.cond_scale3.", "low.grid.unused_scale3."),
    ("trans_low.fenet.conv00.", "low.grid.head."),
    ("trans_low.fenet.conv0.", "low.grid.embed."),
    ("trans_low.fenet.conv1.", "low.grid.body."),
    ("trans_low.fenet.conv2.", "low.grid.condition."),
    ("trans_low.fenet.d.", "low.grid.distil."),
    ("trans_low.smooth.", "low.unused_prelu."),
    ("trans_low.p.", "low.prelu."),
    ("trans_low.point.", "low.point."),
    ("trans_high.model.", "high.mask."),
    ("trans_high.trans_mask_block_1.", "high.refine."),
    ("trans_high.trans_mask_block_2.", "high.unused_refine."),
)
