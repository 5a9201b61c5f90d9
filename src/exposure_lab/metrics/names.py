"""Metric names and their direction (drives checkpoint mode, table arrows and the bold best value)."""

from exposure_lab.errors import ExposureLabError

HIGHER_IS_BETTER: dict[str, bool] = {
    "psnr": True,
    "ssim": True,
    "lpips": False,
    "mae": False,
    "loss": False,
    "plcc": True,
    "srcc": True,
    "exposure_score": True,
    "params": False,
    "latency_ms_per_mp": False,
}


class UnknownMetricError(ExposureLabError, ValueError):
    """A metric name that exposure_lab does not know."""


def higher_is_better(metric_name: str) -> bool:
    """Whether larger values of ``metric_name`` are better; logged keys (``test/afifi/under/psnr``) work."""
    key = metric_name.rsplit("/", 1)[-1].lower()
    if key not in HIGHER_IS_BETTER:
        raise UnknownMetricError(
            f"unknown metric {metric_name!r}; known metrics: {', '.join(HIGHER_IS_BETTER)}"
        )
    return HIGHER_IS_BETTER[key]
