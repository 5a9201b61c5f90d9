"""No-reference measures for enhanced images without ground truth (DICM, LIME, MEF, NPE, VV)."""

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from exposure_lab.checkpoints import load_task
from exposure_lab.errors import WeightsNotFoundError
from exposure_lab.inference import InferenceOptions, prepare_net
from exposure_lab.losses.zero_reference import exposure_control_per_image
from exposure_lab.metrics.loe import loe
from exposure_lab.metrics.niqe import PATCH, load_pristine_model, niqe
from exposure_lab.metrics.piqe import piqe
from exposure_lab.metrics.specs import UnknownMetricError

log = logging.getLogger(__name__)
_warned: set[str] = set()

BLIND_METRICS = ("niqe", "piqe")  # of the output alone
IQA_METRICS = (*BLIND_METRICS, "loe")  # loe: of the output against its low-light input


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


def warn_once(message: str) -> None:
    """Log `message` as a warning the first time this process sees it."""
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


class BlindQuality:
    """NIQE and/or PIQE of images alone, per image (lower is better).

    `names` ⊂ {niqe, piqe}. NIQE's LIVE pristine model is read from `niqe_params` (the basicsr 1.4.2 source
    archive or its .npz; None: the install-time copy); when it is missing NIQE moves to `unavailable` with the
    one-line reason (logged once) and its column reads n/a. Images without two whole 96×96 patches get NaN
    NIQE (n/a), with a warning.
    """

    def __init__(self, names: Iterable[str] = (), niqe_params: str | Path | None = None) -> None:
        requested = list(dict.fromkeys(str(name) for name in names))
        unknown = [name for name in requested if name not in BLIND_METRICS]
        if unknown:
            raise UnknownMetricError(
                f"unknown no-reference metric(s) {', '.join(unknown)}; known: {', '.join(BLIND_METRICS)}"
            )
        self.unavailable: dict[str, str] = {}
        self._niqe_model: tuple[Tensor, Tensor] | None = None
        if "niqe" in requested:
            try:
                self._niqe_model = load_pristine_model(Path(niqe_params) if niqe_params else None)
            except WeightsNotFoundError as exc:
                self.unavailable["niqe"] = f"NIQE unavailable: {exc}"
                warn_once(self.unavailable["niqe"])
        self.names = [name for name in requested if name not in self.unavailable]

    def __call__(self, images: Tensor) -> dict[str, Tensor]:
        """(B,3,H,W) in [0,1] → {name: (B,) float64}."""
        scores = {}
        if "niqe" in self.names:
            height, width = images.shape[-2:]
            if (height // PATCH) * (width // PATCH) >= 2:
                scores["niqe"] = niqe(images, self._niqe_model)
            else:
                warn_once(f"NIQE n/a for images without two whole {PATCH}x{PATCH} patches ({height}x{width})")
                scores["niqe"] = torch.full((len(images),), math.nan, dtype=torch.float64)
        if "piqe" in self.names:
            scores["piqe"] = piqe(images)
        return scores

    def describe(self) -> str:
        """The protocol of the computed columns ("" when there are none)."""
        parts = []
        if "niqe" in self.names:
            parts.append("NIQE (Mittal et al., official MATLAB release, LIVE pristine model, MATLAB gray)")
        elif "niqe" in self.unavailable:
            parts.append("NIQE unavailable (parameters missing)")
        if "piqe" in self.names:
            parts.append("PIQE (MATLAB piqe)")
        return ", ".join(parts)


class NoReferenceSuite:
    """The no-reference measures of a set of images, per image: `input_brightness` (of the low-light input),
    `brightness`, `exposure_error` (the exposure-control loss at `exposure_level`, patch `exposure_patch`),
    `colorfulness`, the requested `iqa` metrics (niqe, piqe; loe of the output against its input) and, with
    an `assessor`, its `exposure_score` = 10·(1 − mean|residual|) (0–10)."""

    def __init__(
        self,
        exposure_patch: int = 16,
        exposure_level: float = 0.6,
        assessor: ExposureAssessor | None = None,
        iqa: Iterable[str] = (),
        niqe_params: str | Path | None = None,
    ) -> None:
        self.exposure_patch = exposure_patch
        self.exposure_level = exposure_level
        self.assessor = assessor
        requested = list(dict.fromkeys(str(name) for name in iqa))
        unknown = [name for name in requested if name not in IQA_METRICS]
        if unknown:
            raise UnknownMetricError(
                f"unknown no-reference metric(s) {', '.join(unknown)} in no_reference.metrics; known: "
                f"{', '.join(IQA_METRICS)}"
            )
        self.blind = BlindQuality([name for name in requested if name in BLIND_METRICS], niqe_params)
        self.with_loe = "loe" in requested
        self.names = ["input_brightness", "brightness", "exposure_error", "colorfulness", *self.blind.names]
        if self.with_loe:
            self.names.append("loe")
        if assessor is not None:
            self.names.append("exposure_score")
        self.unavailable: dict[str, str] = dict(self.blind.unavailable)

    def __call__(self, enhanced: Tensor, input: Tensor | None = None) -> dict[str, Tensor]:
        """enhanced and the low-light `input` (if given; LOE needs it): (B,3,H,W) in [0,1] → {name: (B,)}."""
        scores = {} if input is None else {"input_brightness": mean_brightness(input)}
        scores["brightness"] = mean_brightness(enhanced)
        scores["exposure_error"] = exposure_error(enhanced, self.exposure_patch, self.exposure_level)
        scores["colorfulness"] = colorfulness(enhanced)
        scores.update(self.blind(enhanced))
        if self.with_loe and input is not None:
            scores["loe"] = loe(enhanced, input)
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
        if self.blind.describe():
            line += f", {self.blind.describe()}"
        if self.with_loe:
            line += ", LOE (lightness order error vs the input, shorter side sampled to 100 px)"
        return line + (", exposure score of the assessor (0–10)" if self.assessor is not None else "")


def no_reference_suite(
    exposure_patch: int = 16,
    exposure_level: float = 0.6,
    assessor_ckpt: str | Path | None = None,
    metrics: Iterable[str] = (),
    niqe_params: str | Path | None = None,
) -> NoReferenceSuite:
    """The suite of an eval/benchmark `no_reference` config; `assessor_ckpt` is loaded with `load_task`."""
    assessor: Any = None
    if assessor_ckpt:
        assessor = load_task(assessor_ckpt)[0].eval()
        prepare_net(assessor.net, InferenceOptions())  # the fast exact path: fused kernels, channels-last
    return NoReferenceSuite(exposure_patch, exposure_level, assessor, metrics, niqe_params)
