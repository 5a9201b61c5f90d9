"""Image-quality metrics under an explicit, printed protocol (per-image values, then the mean over images)."""

from exposure_lab.metrics.names import HIGHER_IS_BETTER, UnknownMetricError, higher_is_better
from exposure_lab.metrics.protocol import MetricProtocol
from exposure_lab.metrics.suite import SUITE_METRICS, MetricSuite

__all__ = [
    "HIGHER_IS_BETTER",
    "SUITE_METRICS",
    "MetricProtocol",
    "MetricSuite",
    "UnknownMetricError",
    "higher_is_better",
]
