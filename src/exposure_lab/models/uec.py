"""UEC (unsupervised exposure correction): a reference-conditioned per-pixel exposure operator.

An encoder summarises an image's exposure (std, mean and max of two strided conv layers at height 256); a
predictor compares the summaries of the input and of a reference image into one scalar v; a per-pixel MLP
operator renders v·MLP(x) + (1 − v)·x. Applied three times (each time clamped to [0, 1]), the input moves to
the reference's exposure. The operator is per pixel, so any resolution is corrected with the scalar
estimated at height 256.

Matched against BeyondHeaven/uec_code@9f9726fce2522d37cade4d8f40255b0390e7f53a, `models/uec/networks.py`
(`UECNetwork`, `Encoder`, `ExCorrector`, `ExNonlinearOp`, `DiffPredictor`) and `models/uec_model.py`
(`UECModel.forward`: three applications with the same reference), with
`checkpoints/{exposure-errors,radiometry}/latest_net_G.pth`.
"""

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms.functional import resize

from exposure_lab.data.io import array_to_tensor, decode_image
from exposure_lab.data.synthetic import PHOTOS
from exposure_lab.errors import ExposureLabError

ENCODER_HEIGHT = 256
REFERENCE_SIZE = (256, 256)  # the official test transform resizes the reference to 256×256


class ExposureEncoder(nn.Module):
    """7×7 and 3×3 stride-2 convs (zero padding 1, ReLU) → per-channel std (unbiased), mean and max:
    (B,3,H,W) → (B,3·width)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2)
        self.conv2 = nn.Conv2d(width, width, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        features = F.relu(self.conv1(F.pad(x, (1, 1, 1, 1))))
        features = F.relu(self.conv2(F.pad(features, (1, 1, 1, 1))))
        std, mean = torch.std_mean(features, dim=[2, 3])
        return torch.cat([std, mean, features.amax(dim=(2, 3))], dim=1)


class ExposureOperator(nn.Module):
    """v·MLP(x) + (1 − v)·x with a per-pixel 3 → width → width → 3 MLP (LeakyReLU 0.01); v: (B,)."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.encoder = nn.Conv2d(3, width, 1)
        self.mid = nn.Conv2d(width, width, 1)
        self.decoder = nn.Conv2d(width, 3, 1)

    def forward(self, x: Tensor, strength: Tensor) -> Tensor:
        rendered = self.decoder(F.leaky_relu(self.mid(F.leaky_relu(self.encoder(x)))))
        strength = strength.view(-1, 1, 1, 1)
        return strength * rendered + (1 - strength) * x


class StrengthPredictor(nn.Module):
    """tanh of a shared linear projection of both summaries, concatenated, → one scalar per image."""

    def __init__(self, features: int = 96, hidden: int = 8) -> None:
        super().__init__()
        self.project = nn.Linear(features, hidden)
        self.combine = nn.Linear(2 * hidden, 1)

    def forward(self, image_features: Tensor, reference_features: Tensor) -> Tensor:
        pair = [torch.tanh(self.project(f)) for f in (image_features, reference_features)]
        return self.combine(torch.cat(pair, dim=1))[:, 0]


class UEC(nn.Module):
    """UEC: forward (B,3,H,W) in [0,1], any size → corrected (B,3,H,W) in [0,1]; 19,388 parameters.

    The reference image (1,3,256,256) is a buffer saved with the weights: `reference_image` names a photo of
    the synthetic set's table (a photograph shipped with an installed package) or an image file, resized to
    256×256 (bilinear, antialias) as the official test transform does. The official test uses one expert-C
    image of Afifi et al.'s set (a0001-jmac_DSC1459.jpg).

    Args:
        reference_image: photo name or image path giving the target exposure.
        iterations: applications of the operator (3, as the official model's forward).
    """

    size_multiple = 1

    def __init__(self, reference_image: str = "astronaut", iterations: int = 3) -> None:
        super().__init__()
        if iterations < 1:
            raise ExposureLabError(f"UEC: iterations must be >= 1, got {iterations}")
        self.iterations = iterations
        self.encoder = ExposureEncoder()
        self.operator = ExposureOperator()
        self.predictor = StrengthPredictor()
        self.register_buffer("reference", load_reference(reference_image))

    def step(self, x: Tensor, reference: Tensor) -> Tensor:
        """One application: x (B,3,H,W), reference (1 or B,3,h,w) → clamped (B,3,H,W)."""
        height, width = x.shape[-2:]
        size = (ENCODER_HEIGHT, int(ENCODER_HEIGHT * width / height))
        image_features = self.encoder(_resize(x, size))
        reference_features = self.encoder(_resize(reference, size)).expand_as(image_features)
        strength = self.predictor(image_features, reference_features)
        return torch.clamp(self.operator(x, strength), 0.0, 1.0)

    def forward(self, x: Tensor, reference: Tensor | None = None) -> Tensor:
        reference = self.reference if reference is None else reference
        for _ in range(self.iterations):
            x = self.step(x, reference)
        return x

    def convert_official_state_dict(self, official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official `UECNetwork` keys → ours; the reference buffer is this net's (from `reference_image`)."""
        converted = {"reference": self.reference}
        for key, value in official.items():
            for old, new in _OFFICIAL_PREFIXES:
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            converted[key] = value
        return converted


_OFFICIAL_PREFIXES = (
    ("image_encoder.", "encoder."),
    ("mExCorrector.ex_block.mid_conv.", "operator.mid."),
    ("mExCorrector.ex_block.", "operator."),
    ("mDiffPredictor.fc3.", "predictor.project."),
    ("mDiffPredictor.fc4.", "predictor.combine."),
)


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def load_reference(source: str) -> Tensor:
    """A reference (1,3,256,256) in [0,1] from a photo name of the synthetic set's table or an image path."""
    if source in PHOTOS:
        array = PHOTOS[source][1]()
    else:
        path = Path(source)
        if not path.is_file():
            raise ExposureLabError(
                f"{path}: UEC reference image not found (a file, or one of {sorted(PHOTOS)})"
            )
        array = decode_image(path)
    return resize(array_to_tensor(array), list(REFERENCE_SIZE), antialias=True)[None]
