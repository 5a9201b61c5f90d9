"""A small residual U-Net: the default trainable net of the CPU demo."""

from torch import Tensor, nn


def _conv_act(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))


class UNet(nn.Module):
    """Residual U-Net ``out = x + f(x)`` with ``depth`` down-samplings.

    Per level one 3×3 convolution on the way down and one on the way up, 2×2 stride-2 convolutions down,
    2×2 transposed convolutions up, additive skip connections, LeakyReLU, no normalisation (evaluation runs at
    batch size 1 on full images). Channels double per level up to ``4 * base_channels``. With
    ``global_context`` the bottleneck also receives a 1×1-convolved global average of its features, so the
    net sees the exposure of the whole image (+2–3 dB PSNR on synthetic exposure correction in a short CPU
    run); then a tiled run (``inference.enhance`` with ``tile_size``) gives each tile its own global
    statistics and is no longer exactly the untiled output. The output is not clamped (callers clamp).
    With the defaults it has 192 k parameters.

    Args:
        in_channels: image channels in and out.
        base_channels: channels at full resolution.
        depth: number of down-samplings; H and W must be multiples of ``size_multiple = 2**depth``.
        global_context: add the image-wide feature average at the bottleneck.
    """

    def __init__(
        self, in_channels: int = 3, base_channels: int = 16, depth: int = 3, global_context: bool = True
    ) -> None:
        super().__init__()
        if min(in_channels, base_channels, depth) < 1:
            raise ValueError(
                f"UNet: in_channels, base_channels and depth must be >= 1, "
                f"got {in_channels}, {base_channels}, {depth}"
            )
        self.size_multiple = 2**depth
        channels = [base_channels * 2 ** min(level, 2) for level in range(depth + 1)]
        self.head = _conv_act(in_channels, channels[0])
        self.encoders = nn.ModuleList(_conv_act(channels[i], channels[i]) for i in range(depth))
        self.downs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels[i], channels[i + 1], 2, stride=2), nn.LeakyReLU(0.2, inplace=True)
            )
            for i in range(depth)
        )
        self.context = (
            nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(channels[depth], channels[depth], 1),
                nn.LeakyReLU(0.2, inplace=True),
            )
            if global_context
            else None
        )
        self.bottleneck = _conv_act(channels[depth], channels[depth])
        self.ups = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(channels[i + 1], channels[i], 2, stride=2), nn.LeakyReLU(0.2, inplace=True)
            )
            for i in range(depth)
        )
        self.decoders = nn.ModuleList(_conv_act(channels[i], channels[i]) for i in range(depth))
        self.tail = nn.Conv2d(channels[0], in_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,C,H,W) in [0,1], H and W multiples of ``size_multiple`` → (B,C,H,W), about [0,1]."""
        features = self.head(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            features = encoder(features)
            skips.append(features)
            features = down(features)
        if self.context is not None:
            features = features + self.context(features)
        features = self.bottleneck(features)
        for level in reversed(range(len(skips))):
            features = self.decoders[level](self.ups[level](features) + skips[level])
        return x + self.tail(features)
