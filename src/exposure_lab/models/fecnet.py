"""FECNet (Huang et al., ECCV 2022): Fourier-based exposure correction with spatial–frequency interaction.

An amplitude sub-network (a 3-level U-Net of interaction blocks whose Fourier units re-weight the spectrum's
amplitude) restores the lightness; a phase sub-network (interaction blocks whose Fourier units re-map the
phase) restores the structure from the recomposition of the amplitude result's spectrum amplitude with the
input's phase, modulated by the amplitude result's residual (spatial feature transforms).

Matched against KevinJ-Huang/FECNet@fc5a9eb224c448d190919558cc87ea7b7447f7f4,
`FastFourierMSEC/models/archs/EnhanceN_arch1.py`, `InteractNet(nc=8)` (the file the golden outputs use, with
all four released checkpoints): 151,977 parameters.
"""

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError

TARGETS = ("amplitude", "phase")
EPS = 1e-8  # the release adds it before every angle and after every inverse transform
GUARD_VALUE = 1e-5  # nan_to_num fill and output offset of the release


class SpatialUnit(nn.Module):
    """Residual pair of 3×3 convs with LeakyReLU(0.1): (B,C,H,W) → (B,C,H,W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.LeakyReLU(0.1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class FourierUnit(nn.Module):
    """1×1-conv MLP applied to the amplitude or to the phase of a complex spectrum (B,C,H,W//2+1)."""

    def __init__(self, channels: int, target: str, guards: bool) -> None:
        super().__init__()
        if target not in TARGETS:
            raise ExposureLabError(f"FourierUnit: target must be one of {TARGETS}, got {target!r}")
        self.target = target
        self.guards = guards
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, channels, 1), nn.LeakyReLU(0.1), nn.Conv2d(channels, channels, 1)
        )

    def forward(self, spectrum: Tensor) -> Tensor:
        if self.guards:
            spectrum = spectrum + EPS
        magnitude, phase = spectrum.abs(), spectrum.angle()
        if self.target == "amplitude":
            magnitude = self.mlp(magnitude)
        else:
            phase = self.mlp(phase)
        return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))


class InteractionBlock(nn.Module):
    """Spatial–frequency interaction block: a spatial and a Fourier stream, each twice, exchanging features
    after the first pass; fused by a 1×1 conv with a residual. (B,C,H,W) → (B,C,H,W), any H×W."""

    def __init__(self, channels: int, target: str, guards: bool) -> None:
        super().__init__()
        self.guards = guards
        self.spectral_in = nn.Conv2d(channels, channels, 1)
        self.spatial1 = SpatialUnit(channels)
        self.fourier1 = FourierUnit(channels, target, guards)
        self.to_spatial = nn.Conv2d(channels, channels, 3, padding=1)
        self.to_frequency = nn.Conv2d(channels, channels, 3, padding=1)
        self.spatial2 = SpatialUnit(channels)
        self.fourier2 = FourierUnit(channels, target, guards)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)

    def _image(self, spectrum: Tensor, size: tuple[int, int]) -> Tensor:
        image = torch.fft.irfft2(spectrum, s=size)
        return image.abs() if self.guards else image

    def forward(self, x: Tensor) -> Tensor:
        size = (x.shape[-2], x.shape[-1])
        eps = EPS if self.guards else 0.0
        spectrum = torch.fft.rfft2(self.spectral_in(x))
        spatial = self.spatial1(x)
        spectrum = self.fourier1(spectrum) + eps
        spatial = spatial + self.to_spatial(self._image(spectrum, size) + eps)
        spectrum = spectrum + torch.fft.rfft2(self.to_frequency(spatial))
        spatial = self.spatial2(spatial) + eps
        spectrum = self.fourier2(spectrum) + eps
        out = self.fuse(torch.cat([spatial, self._image(spectrum, size)], 1)) + x
        if self.guards:
            out = torch.nan_to_num(out, nan=GUARD_VALUE, posinf=GUARD_VALUE, neginf=GUARD_VALUE)
        return out


class AmplitudeSubnet(nn.Module):
    """U-Net of amplitude interaction blocks (widths c, 2c, 3c; 2×2 stride-2 down, bilinear up + 1×1
    transposed conv), global residual and a final 1×1 conv: (B,3,H,W) → (B,3,H,W)."""

    def __init__(self, channels: int, guards: bool) -> None:
        super().__init__()
        c = channels
        self.stem = nn.Conv2d(3, c, 1)
        self.encoder1 = InteractionBlock(c, "amplitude", guards)
        self.down1 = nn.Conv2d(c, 2 * c, 2, stride=2)
        self.encoder2 = InteractionBlock(2 * c, "amplitude", guards)
        self.down2 = nn.Conv2d(2 * c, 3 * c, 2, stride=2)
        self.bottleneck = InteractionBlock(3 * c, "amplitude", guards)
        self.up1 = nn.ConvTranspose2d(5 * c, 2 * c, 1)
        self.decoder1 = InteractionBlock(2 * c, "amplitude", guards)
        self.up2 = nn.ConvTranspose2d(3 * c, c, 1)
        self.decoder2 = InteractionBlock(c, "amplitude", guards)
        self.head = nn.Conv2d(c, 3, 1)
        self.refine = nn.Conv2d(3, 3, 1)
        # Defined but never called by the release (its use is commented out); holds released weights.
        self.unused_projection = nn.Conv2d(3, 3, 1).requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.encoder1(self.stem(x))
        e2 = self.encoder2(self.down1(e1))
        bottom = self.bottleneck(self.down2(e2))
        d1 = self.decoder1(self.up1(torch.cat([_resize(bottom, e2), e2], 1)))
        d2 = self.decoder2(self.up2(torch.cat([_resize(d1, e1), e1], 1)))
        return self.refine(x + self.head(d2))


class Recomposition(nn.Module):
    """Spectrum amplitude of the amplitude result with the input's phase, back to an image; concatenated with
    the amplitude result, re-weighted by a contrast-aware channel attention, projected by a 1×1 conv."""

    def __init__(self, channels: int, guards: bool) -> None:
        super().__init__()
        self.guards = guards
        self.attention = nn.Sequential(
            nn.Conv2d(6, 1, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(1, 6, 3, padding=1), nn.Sigmoid()
        )
        self.fuse = nn.Conv2d(6, channels, 1)

    def forward(self, amplitude_result: Tensor, x: Tensor) -> Tensor:
        magnitude = torch.fft.rfft2(amplitude_result).abs()
        phase = torch.fft.rfft2(x).angle()
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        size = (x.shape[-2], x.shape[-1])
        if self.guards:
            image = (torch.fft.irfft2(spectrum + EPS, s=size) + EPS).abs() + EPS
        else:
            image = torch.fft.irfft2(spectrum, s=size)
        features = torch.cat([image, amplitude_result], 1)
        weights = self.attention(_channel_std(features) + F.adaptive_avg_pool2d(features, 1))
        return self.fuse(weights * features)


class FeatureTransform(nn.Module):
    """Spatial feature transform: x and scale(r)·x + shift(r), fused by a 1×1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Conv2d(channels, channels, 3, padding=1)
        self.shift = nn.Conv2d(channels, channels, 3, padding=1)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        return self.fuse(torch.cat([x, self.scale(condition) * x + self.shift(condition)], 1))


class PhaseSubnet(nn.Module):
    """Recomposition, four phase interaction blocks (the first two modulated by the embedded amplitude
    residual) and a 1×1 head with the input as residual: (amplitude result, input) → (B,3,H,W).

    The residual is detached before its embedding, so no gradient reaches the amplitude sub-network through
    it; the release detaches after the embedding, which therefore never trains (its released weights are
    the same initial values in all four checkpoints). Outputs are identical."""

    def __init__(self, channels: int, guards: bool) -> None:
        super().__init__()
        self.recompose = Recomposition(channels, guards)
        self.residual_embed = nn.Conv2d(3, channels, 1)
        self.blocks = nn.ModuleList(InteractionBlock(channels, "phase", guards) for _ in range(4))
        self.modulations = nn.ModuleList(FeatureTransform(channels) for _ in range(2))
        self.head = nn.Conv2d(channels, 3, 1)

    def forward(self, amplitude_result: Tensor, x: Tensor) -> Tensor:
        residual = self.residual_embed((amplitude_result - x).detach())
        features = self.recompose(amplitude_result, x)
        for index, block in enumerate(self.blocks):
            features = block(features)
            if index < len(self.modulations):
                features = self.modulations[index](features, residual)
        return self.head(features) + x


class FECNet(nn.Module):
    """FECNet: amplitude sub-network (width `channels`) then phase sub-network (width 2·`channels`).

    forward: (B,3,H,W) in [0,1], any H×W → (output, amplitude result), both (B,3,H,W) in [0,1] (clamped;
    with `release_guards`, after adding 1e-5 as the release does). 151,977 parameters at `channels=8`; the
    12 of `amplitude.unused_projection` are never used by the forward pass (frozen).

    Args:
        channels: width of the amplitude sub-network (the release's `nc`, 8).
        release_guards: the released code's numerical guards, which its checkpoints were trained with:
            +1e-8 before every angle and after inverse transforms, |·| of every inverse FFT, `nan_to_num`
            (fill 1e-5) after every block, +1e-5 before the final clamp. False: the plain equations.
    """

    size_multiple = 1

    def __init__(self, channels: int = 8, release_guards: bool = True) -> None:
        super().__init__()
        self.release_guards = release_guards
        self.amplitude = AmplitudeSubnet(channels, release_guards)
        self.phase = PhaseSubnet(2 * channels, release_guards)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        amplitude_result = self.amplitude(x)
        output = self.phase(amplitude_result, x)
        offset = GUARD_VALUE if self.release_guards else 0.0
        return (output + offset).clamp(0.0, 1.0), (amplitude_result + offset).clamp(0.0, 1.0)

    def convert_official_state_dict(self, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official `AmplitudeNet.*` / `PhaseNet.*` keys of `InteractNet` → this net's keys."""
        return {_rename(key): value for key, value in official.items()}


_SUBNETS = {"AmplitudeNet": "amplitude", "PhaseNet": "phase"}
_AMPLITUDE_PARTS = {
    "conv0": "stem",
    "conv1": "encoder1",
    "downsample1": "down1",
    "conv2": "encoder2",
    "downsample2": "down2",
    "conv3": "bottleneck",
    "up1": "up1",
    "conv4": "decoder1",
    "up2": "up2",
    "conv5": "decoder2",
    "convout": "head",
    "convoutfinal": "refine",
    "pro": "unused_projection",
}
_PHASE_PARTS = {
    "conv0": "recompose",
    "trans": "residual_embed",
    **{f"conv{k}": f"blocks.{k - 1}" for k in range(1, 5)},
    "combine1": "modulations.0",
    "combine2": "modulations.1",
    "convout": "head",
}
_INNER_PARTS = {
    # ProcessBlock / SpaBlock / FreBlock
    "fpre": "spectral_in",
    "spatial_process1": "spatial1",
    "frequency_process1": "fourier1",
    "frequency_spatial": "to_spatial",
    "spatial_frequency": "to_frequency",
    "spatial_process2": "spatial2",
    "frequency_process2": "fourier2",
    "cat": "fuse",
    "block": "body",
    "process": "mlp",
    # SFT
    "convmul": "scale",
    "convadd": "shift",
    "convfuse": "fuse",
}
_RECOMPOSITION_PARTS = {"process": "attention", "cat": "fuse"}


def _rename(key: str) -> str:
    """One official key → ours; keys outside the official layout are returned unchanged (reported later)."""
    subnet, _, remainder = key.partition(".")
    part, _, inner = remainder.partition(".")
    table = {"AmplitudeNet": _AMPLITUDE_PARTS, "PhaseNet": _PHASE_PARTS}.get(subnet)
    if table is None or part not in table:
        return key
    names = _RECOMPOSITION_PARTS if (subnet, part) == ("PhaseNet", "conv0") else _INNER_PARTS
    inner = ".".join(names.get(token, token) for token in inner.split("."))
    return f"{_SUBNETS[subnet]}.{table[part]}.{inner}"


def _resize(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def _channel_std(x: Tensor) -> Tensor:
    """Per-channel population standard deviation (B,C,1,1), summed over W then H as the release does."""
    count = x.shape[-2] * x.shape[-1]
    mean = x.sum(3, keepdim=True).sum(2, keepdim=True) / count
    return ((x - mean).pow(2).sum(3, keepdim=True).sum(2, keepdim=True) / count).pow(0.5)
