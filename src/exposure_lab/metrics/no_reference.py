"""No-reference measures for enhanced images without ground truth (DICM, LIME, MEF, NPE, VV)."""

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from exposure_lab.checkpoints import load_task
from exposure_lab.losses.zero_reference import exposure_control_per_image


class ExposureAssessor(Protocol):
    """Anything that maps images (B,3,H,W) in [0,1] to a signed exposure residual (B,1,H,W) in [−1,1]."""

    def residual_map(self, images: Tensor) -> Tensor: ...


def mean_brightness(images: Tensor) -> Tensor:
    """(B,3,H,W) in [0,1] → (B,) mean over channels and pixels."""
    return images.mean((1, 2, 3))


def exposure_error(images: Tensor, patch_size: int = 16, level: float = 0.6) -> Tensor:
    """(B,3,H,W) → (B,) Zero-DCE's exposure-control loss per image: mean over `patch_size`² regions of
    (region mean intensity − `level`)² (the patch shrinks to the image for images smaller than it)."""
    return exposure_control_per_image(images, min(patch_size, *images.shape[-2:]), level)


def exposure_score(residual: Tensor) -> Tensor:
    """Holistic exposure score of an assessor's map without fine-tuning: (B,1,H,W) residual in [−1,1] →
    (B,) 10·(1 − mean|R|) in [0,10]."""
    return 10.0 * (1.0 - residual.abs().flatten(1).mean(1))


def colorfulness(images: Tensor) -> Tensor:
    """(B,3,H,W) in [0,1] → (B,) Hasler & Süsstrunk (2003) colourfulness on the 0–255 scale:
    sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²), rg = R − G, yb = (R + G)/2 − B (0 for grey images)."""
    red, green, blue = (255 * images).unbind(1)
    rg, yb = (red - green).flatten(1), (0.5 * (red + green) - blue).flatten(1)
    spread = (rg.var(1, correction=0) + yb.var(1, correction=0)).sqrt()
    return spread + 0.3 * (rg.mean(1).pow(2) + yb.mean(1).pow(2)).sqrt()


class NoReferenceSuite:
    """The no-reference measures of a set of images, per image: `input_brightness` (of the low-light input),
    `brightness`, `exposure_error` (the exposure-control loss at `exposure_level`, patch `exposure_patch`),
    `colorfulness` and, with an `assessor`, its `exposure_score` = 10·(1 − mean|residual|) (0–10)."""

    def __init__(
        self,
        exposure_patch: int = 16,
        exposure_level: float = 0.6,
        assessor: ExposureAssessor | None = None,
    ) -> None:
        self.exposure_patch = exposure_patch
        self.exposure_level = exposure_level
        self.assessor = assessor
        self.names = ["input_brightness", "brightness", "exposure_error", "colorfulness"]
        if assessor is not None:
            self.names.append("exposure_score")
        self.unavailable: dict[str, str] = {}

    def __call__(self, enhanced: Tensor, input: Tensor | None = None) -> dict[str, Tensor]:
        """enhanced (and the low-light `input`, when given): (B,3,H,W) in [0,1] → {name: (B,) values}."""
        scores = {} if input is None else {"input_brightness": mean_brightness(input)}
        scores["brightness"] = mean_brightness(enhanced)
        scores["exposure_error"] = exposure_error(enhanced, self.exposure_patch, self.exposure_level)
        scores["colorfulness"] = colorfulness(enhanced)
        if self.assessor is not None:
            scores["exposure_score"] = exposure_score(self.assessor.residual_map(enhanced))
        return scores

    def to(self, device: torch.device | str) -> "NoReferenceSuite":
        """Move the assessor (when it is a module) to `device`."""
        if isinstance(self.assessor, torch.nn.Module):
            self.assessor.to(device)
        return self

    def describe(self) -> str:
        """One line stating what the no-reference columns mean."""
        line = (
            "no-reference measures: mean brightness of input and output, exposure error (mean (patch mean − "
            f"{self.exposure_level})², {self.exposure_patch}×{self.exposure_patch} patches), "
            "colorfulness (Hasler–Süsstrunk, 0–255)"
        )
        return line + (", exposure score of the assessor (0–10)" if self.assessor is not None else "")


def no_reference_suite(
    exposure_patch: int = 16, exposure_level: float = 0.6, assessor_ckpt: str | Path | None = None
) -> NoReferenceSuite:
    """The suite of an eval/benchmark `no_reference` config; `assessor_ckpt` is loaded with `load_task`."""
    assessor: Any = None
    if assessor_ckpt:
        assessor = load_task(assessor_ckpt)[0].eval()
    return NoReferenceSuite(exposure_patch, exposure_level, assessor)
