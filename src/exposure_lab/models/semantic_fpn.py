"""SGZ's frozen segmentation net: an FPN head on a torchvision ResNet-50 (ImageNet backbone, random head)."""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet50

from exposure_lab.errors import WeightsNotFoundError

BACKBONE_FILE_PATTERN = "resnet50-*.pth"


def find_backbone_weights(path: str | Path | None = None) -> Path:
    """The ImageNet ResNet-50 weights: `path` when given, else `<torch hub dir>/checkpoints/resnet50-*.pth`.

    Raises WeightsNotFoundError naming the missing file and where to put it.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"{path}: ResNet-50 backbone weights not found (model.semantic.backbone_weights)"
            )
        return path
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(folder.glob(BACKBONE_FILE_PATTERN))
    if not found:
        raise WeightsNotFoundError(
            f"{folder}/resnet50-19c8e357.pth (or resnet50-0676ba61.pth): ImageNet ResNet-50 weights for "
            "SGZ's semantic loss not found; put torchvision's file there, pass "
            "model.semantic.backbone_weights=<path>, or train without the term: model.losses.semantic=0"
        )
    return found[-1]


class SemanticFPN(nn.Module):
    """FPN segmentation net of SGZ: (B,3,H,W) in [0,1] (no normalisation, as the official code) → logits
    (B, num_classes, ⌈H/4⌉, ⌈W/4⌉).

    ResNet-50 stages c2..c5 (256/512/1024/2048 channels) → 1×1 laterals to 256, top-down bilinear
    up-sample-and-add → per level two 3×3 convs (256→256→128, no activation) → levels bilinearly resized to
    the c2 size and concatenated (512) → 3×3 classifier. The head is initialised N(0, 0.01), biases 0; the
    backbone takes `backbone_state` (torchvision ImageNet weights) or stays random when None.
    """

    def __init__(self, num_classes: int = 21, backbone_state: dict[str, Tensor] | None = None) -> None:
        super().__init__()
        backbone = resnet50()
        if backbone_state is not None:
            backbone.load_state_dict(backbone_state, strict=False)
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        self.stages = nn.ModuleList([backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4])
        self.laterals = nn.ModuleList(nn.Conv2d(c, 256, 1) for c in (256, 512, 1024, 2048))
        self.smooth = nn.ModuleList(
            nn.Sequential(nn.Conv2d(256, 256, 3, padding=1), nn.Conv2d(256, 128, 3, padding=1))
            for _ in range(4)
        )
        self.classifier = nn.Conv2d(4 * 128, num_classes, 3, padding=1)
        for module in [*self.laterals, *self.smooth, self.classifier]:
            for conv in module.modules():
                if isinstance(conv, nn.Conv2d):
                    nn.init.normal_(conv.weight, 0.0, 0.01)
                    nn.init.zeros_(conv.bias)

    @classmethod
    def pretrained(cls, num_classes: int = 21, backbone_weights: str | Path | None = None) -> "SemanticFPN":
        """The net with ImageNet backbone weights from `find_backbone_weights(backbone_weights)`."""
        path = find_backbone_weights(backbone_weights)
        return cls(num_classes, torch.load(path, map_location="cpu", weights_only=True))

    def forward(self, x: Tensor) -> Tensor:
        features = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        pyramid = [self.laterals[3](features[3])]
        for level in (2, 1, 0):
            lateral = self.laterals[level](features[level])
            top = F.interpolate(pyramid[0], size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            pyramid.insert(0, top + lateral)
        size = pyramid[0].shape[-2:]
        smoothed = [
            F.interpolate(smooth(p), size=size, mode="bilinear", align_corners=False)
            for smooth, p in zip(self.smooth, pyramid, strict=True)
        ]
        return self.classifier(torch.cat(smoothed[::-1], 1))
