"""LMSPEC (Afifi et al., CVPR 2021): a 4-level Laplacian-pyramid generator of U-Nets and its 256×256
discriminator, plus the released Endo-LMSPEC architecture (García-Vega et al., ISBI 2023) as a variant."""

import itertools
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import crop_to, pad_to_multiple

BURT_ADELSON_TAPS = (0.05, 0.25, 0.4, 0.25, 0.05)  # a = 0.4
Variant = Literal["published", "endo_lmspec_release"]


def symmetric_pad(x: Tensor, pad: int) -> Tensor:
    """Pad (..., H, W) by `pad` on every side, mirroring with the edge repeated (MATLAB 'symmetric');
    any size, also smaller than `pad`."""

    def indices(size: int) -> Tensor:
        index = torch.arange(-pad, size + pad, device=x.device) % (2 * size)
        return torch.where(index >= size, 2 * size - 1 - index, index)

    height, width = x.shape[-2:]
    return x.index_select(-2, indices(height)).index_select(-1, indices(width))


class LaplacianPyramid(nn.Module):
    """Burt–Adelson Gaussian/Laplacian pyramid of (B,C,H,W) images, any H, W (level k is ceil(H/2^k)).

    The blur is the 5×5 outer product of [.05 .25 .4 .25 .05]. The official MATLAB code applies that 2-D
    kernel twice (an effective 9×9 blur); `blur_passes=2` reproduces it, the default 1 is Burt–Adelson as
    published.
    Downsampling blurs with symmetric borders and keeps even rows/columns; upsampling pads by replication,
    inserts zeros, multiplies by 4, blurs and crops to the finer size (official downsample_/upsample_).
    Reconstruction from `decompose` is exact (up to float rounding) for any kernel. Written here rather than
    with kornia's pyrdown/pyrup, which use the [1 4 6 4 1]/16 kernel and resampling instead of decimation.
    """

    def __init__(self, levels: int = 4, blur_passes: int = 1) -> None:
        super().__init__()
        if levels < 1 or blur_passes < 1:
            raise ExposureLabError(
                f"LaplacianPyramid: levels and blur_passes must be >= 1, got {levels}, {blur_passes}"
            )
        self.levels = levels
        self.blur_passes = blur_passes
        taps = torch.tensor(BURT_ADELSON_TAPS)
        self.register_buffer("kernel", torch.outer(taps, taps)[None, None], persistent=False)

    def _filter(self, x: Tensor, zero_border: bool) -> Tensor:
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, 5, 5)
        for _ in range(self.blur_passes):
            if zero_border:
                x = F.conv2d(x, kernel, padding=2, groups=channels)
            else:
                x = F.conv2d(symmetric_pad(x, 2), kernel, groups=channels)
        return x

    def down(self, x: Tensor) -> Tensor:
        """(B,C,H,W) → (B,C,ceil(H/2),ceil(W/2))."""
        return self._filter(x, zero_border=False)[..., ::2, ::2]

    def up(self, x: Tensor, size: Sequence[int]) -> Tensor:
        """(B,C,h,w) → (B,C,*size), size ≤ (2h, 2w): the fixed pyramid upsampler."""
        pad = self.blur_passes
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        batch, channels, height, width = padded.shape
        sparse = padded.new_zeros(batch, channels, 2 * height, 2 * width)
        sparse[..., ::2, ::2] = 4 * padded
        return self._filter(sparse, zero_border=True)[
            ..., 2 * pad : 2 * pad + size[0], 2 * pad : 2 * pad + size[1]
        ]

    def gaussian(self, x: Tensor) -> list[Tensor]:
        """[G1 = x, G2, …, G_levels], finest first."""
        pyramid = [x]
        for _ in range(self.levels - 1):
            pyramid.append(self.down(pyramid[-1]))
        return pyramid

    def decompose(self, x: Tensor) -> list[Tensor]:
        """[L1, …, L_{levels−1}, G_levels]: Laplacian bands finest first, then the low-pass residual."""
        gaussian = self.gaussian(x)
        bands = [fine - self.up(coarse, fine.shape[-2:]) for fine, coarse in itertools.pairwise(gaussian)]
        return [*bands, gaussian[-1]]

    def reconstruct(self, bands: Sequence[Tensor]) -> Tensor:
        """Inverse of `decompose`."""
        image = bands[-1]
        for band in reversed(bands[:-1]):
            image = band + self.up(image, band.shape[-2:])
        return image


def _conv_block(in_channels: int, out_channels: int, bias: bool, slope: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
        nn.LeakyReLU(slope),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias),
        nn.LeakyReLU(slope),
    )


class SubNet(nn.Module):
    """U-Net (B,3,H,W) → (B,3,H,W), H, W multiples of 2^depth; `width` first-stage filters, doubled per stage.

    `published`: MATLAB unetLayers as LMSPEC edits it — 3×3 convs with bias and LeakyReLU(0.2), no dropout,
    and the decoder's ReLU after each 2×2 transposed conv left as ReLU (its layer name escaped the official
    replacement). `endo_lmspec_release`: Pytorch-UNet DoubleConvs without bias and LeakyReLU(0.01), no
    activation after the transposed conv.
    """

    def __init__(self, width: int, depth: int, variant: Variant = "published") -> None:
        super().__init__()
        bias, slope = (True, 0.2) if variant == "published" else (False, 0.01)
        channels = [width * 2**k for k in range(depth + 1)]
        self.encoder = nn.ModuleList(
            _conv_block(c_in, c_out, bias, slope)
            for c_in, c_out in zip([3, *channels[:-2]], channels[:-1], strict=True)
        )
        self.bridge = _conv_block(channels[-2], channels[-1], bias, slope)
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(c, c // 2, 2, stride=2), *([nn.ReLU()] if variant == "published" else [])
            )
            for c in reversed(channels[1:])
        )
        self.decoder = nn.ModuleList(_conv_block(c, c // 2, bias, slope) for c in reversed(channels[1:]))
        self.head = nn.Conv2d(width, 3, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bridge(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


class LMSPEC(nn.Module):
    """Coarse-to-fine Laplacian-pyramid exposure correction (B,3,H,W) in [0,1] → dict of outputs.

    `published` (7,015,449 parameters with the defaults): Y4 = U4(G4), Y_k = U_k(L_k + up_{k+1}(Y_{k+1})) +
    up_{k+1}(Y_{k+1}) with a learned 2×2 stride-2 transposed conv up_k per level. `endo_lmspec_release`
    (10,667,159 with widths (16, 24, 24, 24), depths (4, 4, 4, 4)): the released Endo-LMSPEC code, where
    levels 2 and 3 share one sub-net and one up-conv and each residual adds the sub-net's whole input
    (Y_k = U_k(x_k) + x_k, x_k = L_k + up(Y_{k+1})). `widths` and `depths` are per level, finest first.
    Bands are in [0,1] units (the official ×255 scaling is a reparametrisation of the same net).
    `nearest_upconv_init` starts the up-convs as nearest-neighbour upsampling (not official; trains faster).

    Returns {"output": Y1, "levels": [Y1, Y2, Y3, Y4], "upsampled": [up(Y2), up(Y3), up(Y4)]}, where up(Y_k)
    is at level k−1's resolution (the pyramid loss compares it with the target's Gaussian level k).
    """

    onnx_unsupported = (
        "torch.export cannot keep height and width dynamic through its MATLAB-symmetric pyramid padding "
        "(Cannot create Dim with inconsistent min=0, max=-oo)"
    )

    def __init__(
        self,
        widths: Sequence[int] = (16, 24, 24, 24),
        depths: Sequence[int] = (3, 3, 3, 4),
        variant: Variant = "published",
        blur_passes: int = 1,
        nearest_upconv_init: bool = False,
    ) -> None:
        super().__init__()
        if len(widths) != 4 or len(depths) != 4:
            raise ExposureLabError(
                f"LMSPEC: widths and depths need 4 values (finest first), got {widths}, {depths}"
            )
        if variant not in ("published", "endo_lmspec_release"):
            raise ExposureLabError(
                f"LMSPEC: variant must be published or endo_lmspec_release, got {variant!r}"
            )
        self.variant = variant
        self.pyramid = LaplacianPyramid(levels=4, blur_passes=blur_passes)
        self.pad_multiple = max(2**level * 2 ** depths[level] for level in range(4))
        if variant == "published":
            self.subnets = nn.ModuleList(SubNet(w, d, variant) for w, d in zip(widths, depths, strict=True))
            self.upconvs = nn.ModuleList(nn.ConvTranspose2d(3, 3, 2, stride=2) for _ in range(3))
        else:
            if widths[1] != widths[2] or depths[1] != depths[2]:
                raise ExposureLabError(
                    "LMSPEC endo_lmspec_release shares levels 2 and 3: their widths/depths must match"
                )
            shared = SubNet(widths[1], depths[1], variant)
            shared_up = nn.ConvTranspose2d(3, 3, 2, stride=2)
            self.subnets = nn.ModuleList(
                [SubNet(widths[0], depths[0], variant), shared, shared, SubNet(widths[3], depths[3], variant)]
            )
            self.upconvs = nn.ModuleList([shared_up, shared_up, nn.ConvTranspose2d(3, 3, 2, stride=2)])
            for module in self.modules():
                if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                    nn.init.kaiming_normal_(module.weight)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
        if nearest_upconv_init:
            with torch.no_grad():
                for upconv in self.upconvs:
                    upconv.weight.copy_(torch.eye(3)[..., None, None].expand(3, 3, 2, 2))
                    upconv.bias.zero_()

    def forward(
        self, x: Tensor, pyramid_scales: Sequence[float] | None = None
    ) -> dict[str, Tensor | list[Tensor]]:
        """x (B,3,H,W) in [0,1], any size: padded (reflect) to a multiple of `pad_multiple` (128 with the
        published depths) and every output cropped back; `pyramid_scales` multiplies each level (finest first)
        before the net, as the official demo's S."""
        x, size = pad_to_multiple(x, self.pad_multiple)
        bands = self.pyramid.decompose(x)
        if pyramid_scales is not None:
            bands = [band * float(scale) for band, scale in zip(bands, pyramid_scales, strict=True)]
        levels: list[Tensor] = [self.subnets[3](bands[3])]
        upsampled: list[Tensor] = []
        for level in (2, 1, 0):
            coarse = self.upconvs[level](levels[0])
            upsampled.insert(0, coarse)
            net_input = bands[level] + coarse
            residual = coarse if self.variant == "published" else net_input
            levels.insert(0, self.subnets[level](net_input) + residual)
        sizes = [(-(-size[0] // 2**k), -(-size[1] // 2**k)) for k in range(4)]
        levels = [crop_to(y, s) for y, s in zip(levels, sizes, strict=True)]
        upsampled = [crop_to(y, s) for y, s in zip(upsampled, sizes[:3], strict=True)]
        return {"output": levels[0], "levels": levels, "upsampled": upsampled}


class LMSPECDiscriminator(nn.Module):
    """LMSPEC's discriminator (962,585 parameters): (B,3,H,W) in [0,1], resized to 256×256 → (B,) logits.

    Seven 4×4 stride-2 convs (8, 16, 32, 64, 128, 128, 256 filters, with bias), LeakyReLU(0.01), BatchNorm
    after the second only, then a 2×2 stride-2 conv to one logit.
    """

    input_size = 256

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [3, 8, 16, 32, 64, 128, 128, 256]
        for block, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
            if block == 1:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.01))
        layers.append(nn.Conv2d(256, 1, 2, stride=2))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return self.layers(x).flatten()
