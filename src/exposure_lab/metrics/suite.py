"""MetricSuite: per-image PSNR, SSIM, LPIPS and MAE of a batch under one metric protocol."""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError, WeightsNotFoundError
from exposure_lab.metrics.lpips_offline import find_alexnet_weights, load_lpips
from exposure_lab.metrics.no_reference import BlindQuality
from exposure_lab.metrics.pixelwise import mae_per_image, psnr_per_image
from exposure_lab.metrics.protocol import MetricProtocol
from exposure_lab.metrics.specs import UnknownMetricError
from exposure_lab.metrics.ssim import ssim_per_image

log = logging.getLogger(__name__)
_warned: set[str] = set()

SUITE_METRICS = ("psnr", "ssim", "lpips", "mae")
LPIPS_MIN_SIZE = 31  # smallest side AlexNet's strided conv and three max-pools accept


class MetricSuite(nn.Module):
    """Per-image metrics of (B,3,H,W) predictions against targets, both in [0,1], under a MetricProtocol.

    Predictions are clamped to [0,1]; rounding, GT-mean and border crop are done once per batch and shared by
    all metrics (LPIPS sees the same prepared images, back in [0,1]). ``names`` lists the computable metrics;
    ``unavailable`` maps the others to a one-line reason (logged once per process). ``no_reference`` adds
    NIQE/PIQE of the prepared prediction alone (``niqe_params``: see `BlindQuality`). Holds no parameters: the
    LPIPS net is cached per process and device, outside the module's state dict.
    """

    def __init__(
        self,
        names: Iterable[str] = ("psnr", "ssim", "lpips"),
        protocol: MetricProtocol | Mapping[str, Any] | None = None,
        lpips_weights: str | None = None,
        no_reference: Iterable[str] = (),
        niqe_params: str | None = None,
    ) -> None:
        super().__init__()
        requested = [str(name) for name in names]
        unknown = [name for name in requested if name not in SUITE_METRICS]
        if unknown:
            raise UnknownMetricError(
                f"unknown metric(s) {', '.join(unknown)} in metrics.names; known: {', '.join(SUITE_METRICS)}"
            )
        self.protocol = MetricProtocol.from_config(protocol)
        self.unavailable: dict[str, str] = {}
        self._lpips_weights = None
        if "lpips" in requested:
            try:
                self._lpips_weights = find_alexnet_weights(lpips_weights)
                load_lpips(self._lpips_weights, torch.device("cpu"))
            except ImportError as exc:
                self._mark_unavailable("lpips", f"LPIPS unavailable: cannot import the lpips package ({exc})")
            except WeightsNotFoundError as exc:
                self._mark_unavailable("lpips", f"LPIPS unavailable: {exc}")
        if "loe" in [str(name) for name in no_reference]:
            raise UnknownMetricError(
                "metrics.no_reference: loe compares an output with its low-light input, which paired scoring "
                "does not see; it is scored on data without targets (no_reference.metrics)"
            )
        self.blind = BlindQuality(no_reference, niqe_params)
        self.unavailable.update(self.blind.unavailable)
        full_reference = [name for name in dict.fromkeys(requested) if name not in self.unavailable]
        self.names: list[str] = [*full_reference, *self.blind.names]

    def _mark_unavailable(self, name: str, reason: str) -> None:
        self.unavailable[name] = reason
        if reason not in _warned:
            _warned.add(reason)
            log.warning(reason)

    def _psnr(self, pred: Tensor, target: Tensor) -> Tensor:
        return psnr_per_image(self.protocol.psnr_view(pred), self.protocol.psnr_view(target))

    def _ssim(self, pred: Tensor, target: Tensor) -> Tensor:
        views = self.protocol.ssim_view(pred), self.protocol.ssim_view(target)
        return ssim_per_image(*views, border=self.protocol.ssim_border)

    def _mae(self, pred: Tensor, target: Tensor) -> Tensor:
        return mae_per_image(pred, target)

    def _lpips(self, pred: Tensor, target: Tensor) -> Tensor:
        if min(pred.shape[-2:]) < LPIPS_MIN_SIZE:
            raise ExposureLabError(
                f"LPIPS (AlexNet) needs images of at least {LPIPS_MIN_SIZE}x{LPIPS_MIN_SIZE} pixels (after "
                f"the border crop); got {pred.shape[-2]}x{pred.shape[-1]}"
            )
        net = load_lpips(self._lpips_weights, pred.device)
        return net(pred / 255.0, target / 255.0, normalize=True).flatten()

    @torch.no_grad()
    def forward(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        """Per-image values {name: (B,)} for each computable metric; pred and target (B,3,H,W) in [0,1]."""
        if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
            raise ExposureLabError(
                f"metrics need prediction and target of the same shape (B,3,H,W); got {tuple(pred.shape)} "
                f"and {tuple(target.shape)}"
            )
        pred, target = self.protocol.prepare(pred, target)
        scores = {
            name: getattr(self, f"_{name}")(pred, target) for name in self.names if name in SUITE_METRICS
        }
        return scores | self.blind(pred / 255.0)

    def describe(self) -> str:
        """The protocol line printed above results tables, with the LPIPS variant or why it is missing."""
        line = self.protocol.describe()
        if "lpips" in self.names:
            line += "; LPIPS AlexNet v0.1"
        elif "lpips" in self.unavailable:
            line += "; LPIPS unavailable (weights missing)"
        if self.blind.describe():
            line += f"; {self.blind.describe()} of the prediction"
        return line
