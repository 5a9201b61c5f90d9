"""SCI (Ma et al., CVPR 2022): self-calibrated illumination learning for low-light enhancement.

Retinex-style: an illumination estimator predicts i ≥ 1e-4 from the input and the enhanced image is
r = clamp(x / i, 0, 1). In training, a self-calibration module maps r back to a correction of the input
(x + calibration(r)) that the shared illumination estimator sees at the next stage, so every stage converges
to the same illumination; at test time only the estimator runs (three 3×3 convs).

Matched against vis-opt-group/SCI@9d28a3f1237df248bb765e7fee16f7c4ac7dbeee, `model.py` (`EnhanceNetwork`,
`CalibrateNetwork`, `Network`, `Finetunemodel`) with `weights/{easy,medium,difficult}.pt`.
"""

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError

ILLUMINATION_FLOOR = 1e-4


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [_conv(in_channels, out_channels), nn.BatchNorm2d(out_channels), nn.ReLU()]


class IlluminationEstimator(nn.Module):
    """3×3 conv + ReLU, `layers` residual applications of one shared conv-BN-ReLU block, 3×3 conv + sigmoid;
    i = clamp(that + x, 1e-4, 1). (B,3,H,W) in [0,1] → (B,3,H,W) in [1e-4, 1]."""

    def __init__(self, layers: int = 1, channels: int = 3) -> None:
        super().__init__()
        self.layers = layers
        self.stem = nn.Sequential(_conv(3, channels), nn.ReLU())
        self.block = nn.Sequential(*_conv_bn_relu(channels, channels))
        self.head = nn.Sequential(_conv(channels, 3), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        features = self.stem(x)
        for _ in range(self.layers):
            features = features + self.block(features)
        return torch.clamp(self.head(features) + x, ILLUMINATION_FLOOR, 1.0)


class SelfCalibration(nn.Module):
    """conv-BN-ReLU, `layers` residual applications of one shared (conv-BN-ReLU)×2 block, conv + sigmoid;
    returns x − that. (B,3,H,W) → (B,3,H,W), the correction added to the input at the next stage."""

    def __init__(self, layers: int = 3, channels: int = 16) -> None:
        super().__init__()
        self.layers = layers
        self.stem = nn.Sequential(*_conv_bn_relu(3, channels))
        self.block = nn.Sequential(*_conv_bn_relu(channels, channels), *_conv_bn_relu(channels, channels))
        self.head = nn.Sequential(_conv(channels, 3), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        features = self.stem(x)
        for _ in range(self.layers):
            features = features + self.block(features)
        return x - self.head(features)


class SCI(nn.Module):
    """SCI: forward (B,3,H,W) in [0,1], any size → (enhanced r in [0,1], illumination i in [1e-4,1]),
    r = clamp(x / i, 0, 1).

    258 parameters at test time (`illumination`; the official `Finetunemodel` counts the same — its state
    dict holds 348 values because the shared block is registered twice) and 5,619 in the training-only
    `calibration` (19,731 state-dict values with its three registrations of the shared block).

    Args:
        stages: training stages (3); each re-estimates the illumination from the calibrated input.
        calibration: build the training-only self-calibration module (False: the test-time net alone).
        init_std: the official initialisation (conv weights N(0, σ), biases 0, BatchNorm scales N(1, σ));
            None: PyTorch's defaults.
    """

    size_multiple = 1

    def __init__(self, stages: int = 3, calibration: bool = True, init_std: float | None = None) -> None:
        super().__init__()
        if stages < 1:
            raise ExposureLabError(f"SCI: stages must be >= 1, got {stages}")
        self.stages = stages
        self.illumination = IlluminationEstimator()
        self.calibration = SelfCalibration() if calibration else None
        if init_std is not None:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.normal_(module.weight, 0.0, init_std)
                    nn.init.zeros_(module.bias)
                elif isinstance(module, nn.BatchNorm2d):
                    nn.init.normal_(module.weight, 1.0, init_std)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B,3,H,W) → (r, i). Eval mode: the test-time net (one illumination estimate). Training mode with
        the calibration module: the last of the `unroll` stages, so every parameter is trained through it."""
        if self.training and self.calibration is not None:
            illumination = self.unroll(x)[1][-1]
        else:
            illumination = self.illumination(x)
        return torch.clamp(x / illumination, 0.0, 1.0), illumination

    def unroll(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """The training stages: (stage inputs, stage illuminations), `stages` of each, (B,3,H,W).

        Stage 0 sees x; stage t+1 sees x + calibration(clamp(x / i_t, 0, 1)).
        """
        if self.calibration is None:
            raise ExposureLabError("SCI.unroll needs the self-calibration module (calibration=true)")
        inputs, illuminations = [x], []
        for stage in range(self.stages):
            illumination = self.illumination(inputs[-1])
            illuminations.append(illumination)
            if stage + 1 < self.stages:
                inputs.append(x + self.calibration(torch.clamp(x / illumination, 0.0, 1.0)))
        return inputs, illuminations

    def convert_official_state_dict(self, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official `enhance.*` (and `calibrate.*`) keys → ours. The official modules register their shared
        block twice (`conv`/`convs` and again as `blocks.<k>`); the copies must be equal and are dropped.
        Without the calibration module the `calibrate.*` keys are ignored, as the official test does."""
        converted = {}
        for key, value in official.items():
            module, _, rest = key.partition(".")
            if module == "calibrate" and self.calibration is None:
                continue
            part, _, inner = rest.partition(".")
            if module in _MODULES and part == "blocks":
                inner = inner.partition(".")[2]
                original = f"{module}.{_SHARED[module]}.{inner}"
                if original in official and not torch.equal(official[original], value):
                    raise ExposureLabError(
                        f"SCI: {key} differs from {original}; the official net shares that block, so "
                        "the two copies must be equal"
                    )
                if original in official:
                    continue
            converted[_rename(key)] = value
        return converted


_MODULES = {"enhance": "illumination", "calibrate": "calibration"}
_SHARED = {"enhance": "conv", "calibrate": "convs"}
_PARTS = {"in_conv": "stem", "conv": "block", "convs": "block", "out_conv": "head"}


def _rename(key: str) -> str:
    module, _, rest = key.partition(".")
    part, _, inner = rest.partition(".")
    if module not in _MODULES or part not in _PARTS:
        return key
    return f"{_MODULES[module]}.{_PARTS[part]}.{inner}"
