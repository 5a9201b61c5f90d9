"""Image-quality metrics under an explicit, printed protocol (per-image values, then the mean over images)."""

from exposure_lab.metrics.protocol import MetricProtocol
from exposure_lab.metrics.specs import (
    METRIC_SPECS,
    MetricSpec,
    UnknownMetricError,
    higher_is_better,
    metric_spec,
)
from exposure_lab.metrics.suite import SUITE_METRICS, MetricSuite

__all__ = [
    "METRIC_SPECS",
    "SUITE_METRICS",
    "MetricProtocol",
    "MetricSpec",
    "MetricSuite",
    "UnknownMetricError",
    "higher_is_better",
    "metric_spec",
]
