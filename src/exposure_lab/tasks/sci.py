"""SCI's objective on the zero-reference task: per-stage illumination fidelity and smoothness, no target."""

from collections.abc import Mapping

from torch import Tensor, nn

from exposure_lab.losses import active_weights
from exposure_lab.losses.sci import TERMS, sci_loss
from exposure_lab.tasks.base import OptimizerFactory, SchedulerFactory
from exposure_lab.tasks.zero_reference import ZeroReferenceEnhancement


class SelfCalibratedEnhancement(ZeroReferenceEnhancement):
    """Trains `models.sci.SCI` without references: the net's training stages (`SCI.unroll`) are scored by
    `losses.sci.sci_loss` with the named weights `losses` (fidelity, smoothness) and `smoothness_sigma`.
    Everything else — unpaired or paired data, `val/loss` as the monitor, no-reference validation measures,
    scoring of the test-time net — is the zero-reference task's."""

    def __init__(
        self,
        net: nn.Module,
        losses: Mapping[str, float],
        smoothness_sigma: float = 10.0,
        exposure_patch: int = 16,
        exposure_level: float = 0.6,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/loss",
        scheduler_interval: str = "epoch",
        tile_size: int | None = None,
        tile_overlap: int = 32,
    ) -> None:
        super().__init__(
            net,
            losses={},
            exposure_patch=exposure_patch,
            exposure_level=exposure_level,
            optimizer=optimizer,
            scheduler=scheduler,
            scheduler_monitor=scheduler_monitor,
            scheduler_interval=scheduler_interval,
            tile_size=tile_size,
            tile_overlap=tile_overlap,
        )
        self.sci_weights = active_weights(losses, TERMS, "SCI")
        self.smoothness_sigma = smoothness_sigma

    def zero_reference_terms(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Unroll the stages on `x` (B,3,H,W) in [0,1] → (weighted total, {fidelity, smoothness})."""
        inputs, illuminations = self.net.unroll(x)
        return sci_loss(inputs, illuminations, self.sci_weights, self.smoothness_sigma)
