"""MIRNet (Zamir et al., ECCV 2020): recursive residual groups of multi-scale residual blocks with dual
attention units, selective kernel feature fusion and anti-aliased residual resampling."""

import functools
import math
import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import crop_to, pad_to_multiple
from exposure_lab.models.layers import InPlacePReLU, gated_copies, weighted_sum


def _conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)


class BlurPool(nn.Module):
    """Anti-aliased ×½ down-sampling: reflect pad 1, depthwise [1,2,1]⊗[1,2,1]/16 blur, stride 2.

    Written out because kornia's BlurPool2D pads with zeros; the official net pads by reflection.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(taps, taps) / 16
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B,C,H,W) → (B,C,⌈H/2⌉,⌈W/2⌉)."""
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        if x.dtype == torch.bfloat16:  # [1,2,1]/4 is two 2-tap means; oneDNN's bf16 depthwise conv is slow
            return F.avg_pool2d(F.avg_pool2d(padded, 2, stride=1), 2, stride=2)
        return F.conv2d(padded, self.kernel.to(x.dtype), stride=2, groups=x.shape[1])


class ResidualDownSample(nn.Module):
    """×½ resolution, ×2 channels: (1×1, PReLU, 3×3, PReLU, blur-pool, 1×1) + (blur-pool, 1×1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.top = nn.Sequential(
            _conv(channels, channels, 1),
            InPlacePReLU(),
            _conv(channels, channels, 3),
            InPlacePReLU(),
            BlurPool(channels),
            _conv(channels, 2 * channels, 1),
        )
        self.bottom = nn.Sequential(BlurPool(channels), _conv(channels, 2 * channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        """(B,C,H,W) → (B,2C,H/2,W/2)."""
        return self.top(x) + self.bottom(x)


class ResidualUpSample(nn.Module):
    """×2 resolution, ×½ channels: (1×1, PReLU, 3×3 transposed stride 2, PReLU, 1×1) + (bilinear, 1×1).
    The attribute `fused` (default True) runs the bottom 1×1 conv before the bilinear resize (they commute:
    the resize weights sum to 1 and the conv has no bias), on a quarter of the pixels and half the channels
    to resize."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.top = nn.Sequential(
            _conv(channels, channels, 1),
            InPlacePReLU(),
            nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1, bias=False),
            InPlacePReLU(),
            _conv(channels, channels // 2, 1),
        )
        self.bottom = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            _conv(channels, channels // 2, 1),
        )
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        """(B,C,H,W) → (B,C/2,2H,2W)."""
        if not self.fused:
            return self.top(x) + self.bottom(x)
        resize, conv = self.bottom
        bottom = F.interpolate(conv(x), scale_factor=2, mode=resize.mode, align_corners=resize.align_corners)
        return self.top(x).add_(bottom)


def resampler(channels: int, steps: int, down: bool) -> nn.Sequential:
    """`steps` chained residual down- (or up-) samplings starting at `channels` channels."""
    if down:
        return nn.Sequential(*(ResidualDownSample(channels * 2**i) for i in range(steps)))
    return nn.Sequential(*(ResidualUpSample(channels // 2**i) for i in range(steps)))


class DualAttentionUnit(nn.Module):
    """x + 1×1([spatial attention(r), channel attention(r)]) with r = 3×3 → act → 3×3 of x; (B,C,H,W).
    The attribute `fused` (default True) writes both attention products straight into the 1×1's input."""

    def __init__(self, channels: int, reduction: int, act: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, 3), act, _conv(channels, channels, 3))
        self.spatial_attention = _conv(2, 1, 5)
        self.channel_attention = nn.Sequential(
            _conv(channels, channels // reduction, 1),
            nn.ReLU(inplace=True),
            _conv(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )
        self.fuse = _conv(2 * channels, channels, 1)
        self.fused = True

    def forward(self, x: Tensor) -> Tensor:
        res = self.body(x)
        pooled = torch.cat([res.amax(1, keepdim=True), res.mean(1, keepdim=True)], dim=1)
        spatial_gate = torch.sigmoid(self.spatial_attention(pooled))
        channel_gate = self.channel_attention(res.mean((2, 3), keepdim=True))
        return x + self.fuse(gated_copies(res, (spatial_gate, channel_gate), self.fused))


class SelectiveKernelFusion(nn.Module):
    """Fuses `branches` same-shape streams with per-channel softmax weights computed from their sum.

    The attribute `fused` (default True) sums the streams one by one instead of reducing a (B,n,C,H,W)
    stack: the same values up to float rounding, without the copy into the stack and the strided reduction
    over it (10–50× slower than n − 1 element-wise adds on channels-last streams).
    """

    def __init__(self, channels: int, branches: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.branches = branches
        self.squeeze = nn.Sequential(_conv(channels, hidden, 1), InPlacePReLU())
        self.excite = _conv(hidden, branches * channels, 1)
        self.fused = True

    def branch_weights(self, summed: Tensor) -> Tensor:
        """(B,C,H,W) sum of the streams → (B,n,C,1,1) weights, softmax over the n branches."""
        batch, channels = summed.shape[:2]
        logits = self.excite(self.squeeze(summed.mean((2, 3), keepdim=True)))
        return logits.view(batch, self.branches, channels, 1, 1).softmax(dim=1)

    def forward(self, features: list[Tensor]) -> Tensor:
        """n tensors (B,C,H,W) → their weighted sum (B,C,H,W)."""
        if not self.fused:
            stacked = torch.stack(features, dim=1)
            return (stacked * self.branch_weights(stacked.sum(1))).sum(1)
        weights = self.branch_weights(functools.reduce(torch.add, features)).unbind(1)
        return weighted_sum(features, weights)


class MultiScaleResidualBlock(nn.Module):
    """`height` streams at 1, ½, ¼… resolution with C, 2C, 4C… channels, `width` columns of dual attention
    units exchanging information through selective kernel fusion, fused back to full resolution, + x.

    With `shared_act` set, one DAU per row serves every column and all DAUs use that activation (the
    official module sharing); otherwise every column has its own DAU with its own PReLU.
    """

    def __init__(
        self, channels: int, height: int, width: int, reduction: int, shared_act: nn.Module | None
    ) -> None:
        super().__init__()
        self.height, self.width = height, width
        rows = [channels * 2**row for row in range(height)]
        columns = 1 if shared_act is not None else width
        self.dau = nn.ModuleList(
            nn.ModuleList(
                DualAttentionUnit(rows[row], reduction, shared_act or InPlacePReLU()) for _ in range(columns)
            )
            for row in range(height)
        )
        self.down = nn.ModuleDict(
            {
                f"{row}_{2**steps}": resampler(rows[row], steps, down=True)
                for row in range(height - 1)
                for steps in range(1, height - row)
            }
        )
        self.up = nn.ModuleDict(
            {
                f"{row}_{2**steps}": resampler(rows[row], steps, down=False)
                for row in range(1, height)
                for steps in range(1, row + 1)
            }
        )
        self.last_up = nn.ModuleDict(
            {str(row): resampler(rows[row], row, down=False) for row in range(1, height)}
        )
        self.fuse = nn.ModuleList(
            SelectiveKernelFusion(rows[row], height, reduction) for row in range(height)
        )
        self.tail = _conv(channels, channels, 3)

    def _unit(self, row: int, column: int) -> nn.Module:
        units = self.dau[row]
        return units[column if len(units) > 1 else 0]

    def _resample(self, x: Tensor, source: int, target: int) -> Tensor:
        if source == target:
            return x
        kind = self.down if source < target else self.up
        return kind[f"{source}_{2 ** abs(target - source)}"](x)

    def forward(self, x: Tensor) -> Tensor:
        """(B,C,H,W), H and W multiples of 2**(height−1) → (B,C,H,W)."""
        streams = [self._unit(0, 0)(x)]
        for row in range(1, self.height):
            streams.append(self._unit(row, 0)(self.down[f"{row - 1}_2"](streams[-1])))
        for column in range(1, self.width):
            fused = [
                self.fuse[row]([self._resample(streams[k], k, row) for k in range(self.height)])
                for row in range(self.height)
            ]
            streams = [self._unit(row, column)(fused[row]) for row in range(self.height)]
        full = [streams[0], *(self.last_up[str(row)](streams[row]) for row in range(1, self.height))]
        return x + self.tail(self.fuse[0](full))


class RecursiveResidualGroup(nn.Module):
    """x + 3×3(MSRB(…MSRB(x)))."""

    def __init__(self, blocks: list[MultiScaleResidualBlock], channels: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.tail = _conv(channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.tail(self.blocks(x))


class MIRNet(nn.Module):
    """MIRNet: 3×3 head → `n_rrg` recursive residual groups of `n_msrb` multi-scale residual blocks → 3×3
    tail, plus the input (global residual). No output activation (callers clamp).

    Defaults are the published net: 31,787,419 parameters with `share_weights` (the official module sharing:
    one DAU per row reused across the columns, one PReLU shared by every DAU; official checkpoints need it),
    42.2 M without. Any H, W: reflect-padded to a multiple of ``size_multiple = 2**(height−1)`` and cropped.

    Args:
        in_channels: image channels in and out.
        n_feat: channels of the full-resolution stream (stream k has n_feat·2^k).
        n_rrg: recursive residual groups.
        n_msrb: multi-scale residual blocks per group.
        height: streams per block (resolutions 1, ½, … 2^−(height−1)).
        width: DAU columns per block.
        reduction: channel reduction of channel attention and selective kernel fusion.
        share_weights: reproduce the official module sharing (needed for official checkpoints).
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_feat: int = 64,
        n_rrg: int = 3,
        n_msrb: int = 2,
        height: int = 3,
        width: int = 2,
        reduction: int = 8,
        share_weights: bool = True,
    ) -> None:
        super().__init__()
        if min(in_channels, n_feat, n_rrg, n_msrb, height, width, reduction) < 1 or n_feat < reduction:
            raise ValueError(
                "MIRNet: in_channels, n_feat, n_rrg, n_msrb, height, width, reduction must be >= 1 and "
                f"n_feat >= reduction, got {in_channels}, {n_feat}, {n_rrg}, {n_msrb}, {height}, {width}, "
                f"{reduction}"
            )
        self.n_feat, self.n_msrb, self.share_weights = n_feat, n_msrb, share_weights
        self.size_multiple = 2 ** (height - 1)
        shared_act = InPlacePReLU() if share_weights else None
        self.head = _conv(in_channels, n_feat, 3)
        self.groups = nn.Sequential(
            *(
                RecursiveResidualGroup(
                    [
                        MultiScaleResidualBlock(n_feat, height, width, reduction, shared_act)
                        for _ in range(n_msrb)
                    ],
                    n_feat,
                )
                for _ in range(n_rrg)
            )
        )
        self.tail = _conv(n_feat, in_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        """(B,3,H,W) in [0,1], any H and W → (B,3,H,W), about [0,1] (not clamped)."""
        padded, hw = pad_to_multiple(x, self.size_multiple)
        return crop_to(padded + self.tail(self.groups(self.head(padded))), hw)

    def convert_official_state_dict(self, official: dict[str, Tensor]) -> dict[str, Tensor]:
        """A swz30/MIRNet state dict → this net's key layout.

        Renames the official modules, stacks each SKFF's per-branch 1×1 convs into one, drops the blur-pool
        kernels and (when sharing) the duplicated keys of the shared DAU columns. Keys it does not recognise
        are kept unchanged so the importer reports them as unexpected. Raises ExposureLabError when values
        that this net ties together (shared DAUs, the shared PReLU) differ in `official`.
        """
        converted: dict[str, Tensor] = {}
        duplicates: list[tuple[str, str, Tensor]] = []
        branches: dict[str, dict[int, Tensor]] = {}
        for key, value in official.items():
            if key.endswith(".filt"):
                continue
            branch = re.fullmatch(r"(.*)\.selective_kernel\.(\d+)\.fcs\.(\d+)\.weight", key)
            if branch:
                target = f"{self._rename(branch[1])}.fuse.{branch[2]}.excite.weight"
                branches.setdefault(target, {})[int(branch[3])] = value
                continue
            column = re.fullmatch(r"(.*\.blocks\.\d+)\.(\d+)\.(.*)", key)
            if self.share_weights and column and column[2] != "0":
                duplicates.append((key, self._rename(f"{column[1]}.0.{column[3]}"), value))
                continue
            converted[self._rename(key)] = value
        for target, stack in branches.items():
            converted[target] = torch.cat([stack[i] for i in sorted(stack)], dim=0)
        for key, target, value in duplicates:
            if target in converted and not torch.equal(converted[target], value):
                raise ExposureLabError(
                    f"official MIRNet weights: {key} differs from its column-0 twin, so the DAUs were not "
                    "shared; import with net.share_weights=false"
                )
        self._check_tied(converted)
        return converted

    def _rename(self, key: str) -> str:
        """One official key (or key prefix) → ours; unknown keys unchanged."""
        if key.startswith(("conv_in.", "conv_out.")):
            return ("head." if key.startswith("conv_in.") else "tail.") + key.split(".", 1)[1]
        group = re.fullmatch(r"body\.(\d+)\.body\.(\d+)(\..*)?", key)
        if group is None:
            return key
        rrg, index, rest = group[1], int(group[2]), group[3] or ""
        if index == self.n_msrb:
            return f"groups.{rrg}.tail{rest}"
        rules = (
            (r"\.blocks\.(\d+)\.(\d+)\.", lambda m: f".dau.{m[1]}.{m[2]}."),
            (r"\.SA\.spatial\.conv\.", lambda m: ".spatial_attention."),
            (r"\.CA\.conv_du\.", lambda m: ".channel_attention."),
            (r"\.conv1x1\.", lambda m: ".fuse."),
            (r"\.(down|up)\.(\d+)_(\d+)\.body\.", self._resampler_key),
            (r"\.last_up\.(\d+)\.body\.", lambda m: f".last_up.{m[1]}."),
            (r"\.bot\.", lambda m: ".bottom."),
            (r"\.selective_kernel\.(\d+)\.conv_du\.", lambda m: f".fuse.{m[1]}.squeeze."),
            (r"^\.conv_out\.", lambda m: ".tail."),
        )
        for pattern, replace in rules:
            rest = re.sub(pattern, replace, rest)
        return f"groups.{rrg}.blocks.{index}{rest}"

    def _resampler_key(self, match: re.Match) -> str:
        row = round(math.log2(int(match[2]) / self.n_feat))
        return f".{match[1]}.{row}_{match[3]}."

    def _check_tied(self, converted: dict[str, Tensor]) -> None:
        tied: dict[int, list[str]] = {}
        for key, tensor in self.state_dict(keep_vars=True).items():
            tied.setdefault(id(tensor), []).append(key)
        for keys in tied.values():
            values = [converted[k] for k in keys if k in converted]
            if any(not torch.equal(values[0], v) for v in values[1:]):
                raise ExposureLabError(
                    f"official MIRNet weights: {keys[0]} and its {len(keys) - 1} shared copies differ, so "
                    "the weights were not shared; import with net.share_weights=false"
                )
