"""An exposure assessor's score beside the full-reference metrics of paired data."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from exposure_lab.metrics.no_reference import ExposureAssessor, exposure_score


class WithAssessorScore(nn.Module):
    """A `MetricSuite` plus `exposure_score` = 10·(1 − mean|R|) of each prediction by `assessor`.

    Behaves as the suite (names, protocol, unavailable, describe) with one more column; the assessor moves
    with the module. Scoring one prediction against several references (experts) runs the assessor once.
    """

    def __init__(self, suite: Any, assessor: ExposureAssessor) -> None:
        super().__init__()
        self.suite = suite
        self.assessor = assessor
        self.names = [*suite.names, "exposure_score"]
        self.unavailable = suite.unavailable
        self.protocol = suite.protocol
        self._last: tuple[Tensor, Tensor] | None = None

    def describe(self) -> str:
        """The suite's protocol line and the meaning of the assessor column."""
        return f"{self.suite.describe()}; exposure_score: 10·(1 − mean|R|) by the exposure assessor (0–10)"

    def forward(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        """pred, target (B,3,H,W) in [0,1] → the suite's {name: (B,)} and `exposure_score` (B,)."""
        scores = self.suite(pred, target)
        if self._last is None or self._last[0] is not pred:
            self._last = (pred, exposure_score(self.assessor.residual_map(pred.clamp(0, 1))))
        scores["exposure_score"] = self._last[1]
        return scores
