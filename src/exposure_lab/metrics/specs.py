"""One spec per metric name: direction, table label, decimals and kind. Checkpoint `mode`, table arrows, the
bold best value and number formatting all read this table."""

from dataclasses import dataclass
from typing import Literal

from exposure_lab.errors import ExposureLabError

MetricKind = Literal["full-reference", "no-reference", "cost", "training"]


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is read: `higher_is_better` (None: a measure with no better direction, e.g. brightness),
    its table `label`, the `decimals` shown, and its `kind`."""

    label: str
    higher_is_better: bool | None
    decimals: int
    kind: MetricKind


METRIC_SPECS: dict[str, MetricSpec] = {
    "psnr": MetricSpec("PSNR", True, 2, "full-reference"),
    "ssim": MetricSpec("SSIM", True, 4, "full-reference"),
    "lpips": MetricSpec("LPIPS", False, 4, "full-reference"),
    "mae": MetricSpec("MAE", False, 4, "full-reference"),
    "plcc": MetricSpec("plcc", True, 4, "full-reference"),
    "srcc": MetricSpec("srcc", True, 4, "full-reference"),
    "input_brightness": MetricSpec("input_brightness", None, 4, "no-reference"),
    "brightness": MetricSpec("brightness", None, 4, "no-reference"),
    "exposure_error": MetricSpec("exposure_error", None, 4, "no-reference"),
    "colorfulness": MetricSpec("colorfulness", None, 4, "no-reference"),
    "exposure_score": MetricSpec("exposure_score", True, 4, "no-reference"),
    "niqe": MetricSpec("NIQE", False, 4, "no-reference"),
    "piqe": MetricSpec("PIQE", False, 2, "no-reference"),
    "loe": MetricSpec("LOE", False, 1, "no-reference"),
    "loss": MetricSpec("loss", False, 4, "training"),
    "params": MetricSpec("params", False, 0, "cost"),
    "latency_ms_per_mp": MetricSpec("latency (ms/MP)", False, 1, "cost"),
}


class UnknownMetricError(ExposureLabError, ValueError):
    """A metric name that exposure_lab does not know."""


def metric_spec(metric_name: str) -> MetricSpec:
    """The spec of a metric name or a logged key (`test/afifi/under/psnr` → psnr's)."""
    key = metric_name.rsplit("/", 1)[-1].lower()
    if key not in METRIC_SPECS:
        raise UnknownMetricError(f"unknown metric {metric_name!r}; known metrics: {', '.join(METRIC_SPECS)}")
    return METRIC_SPECS[key]


def higher_is_better(metric_name: str) -> bool:
    """Whether larger values of `metric_name` are better; logged keys (`test/afifi/under/psnr`) work.

    >>> higher_is_better("test/afifi/under/psnr"), higher_is_better("val/lpips")
    (True, False)
    """
    direction = metric_spec(metric_name).higher_is_better
    if direction is None:
        raise UnknownMetricError(f"metric {metric_name!r} has no better direction; it cannot be optimised")
    return direction
