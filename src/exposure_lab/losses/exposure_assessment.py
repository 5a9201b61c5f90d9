"""Exposure-assessment loss: a frozen exposure assessor penalises the |residual| of enhanced images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor, nn

from exposure_lab.checkpoints import load_task
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import resize


class ExposureAssessmentLoss(nn.Module):
    """mean |R(enhanced)| by the assessor checkpoint `ckpt_path` (e.g. the imported P-IEANet), frozen.

    The paper (He et al. 2024) adds this term to enhancement objectives. The assessor is loaded on the
    first call (so checkpoints of the enhancement model can be evaluated without it), kept outside the module
    tree (its weights never enter the enhancement checkpoint) and moved to the input's device. Images are
    resized to the assessor's `input_size` as in `residual_map`, without its clamp, so gradients stay alive.
    """

    def __init__(self, ckpt_path: str | Path) -> None:
        super().__init__()
        self.ckpt_path = Path(ckpt_path)
        self.__dict__["assessor"] = None

    def _assessor(self, device: Any) -> Any:
        if self.assessor is None:
            task = load_task(self.ckpt_path)[0]
            if task.output_kind != "exposure_map":
                raise ExposureLabError(f"{self.ckpt_path}: not an exposure assessor checkpoint")
            self.__dict__["assessor"] = task.eval().requires_grad_(False)
        return self.assessor.to(device)

    def forward(self, enhanced: Tensor) -> Tensor:
        """(B,3,H,W) enhanced images in [0,1] → scalar mean |R| (0 = ideally exposed everywhere)."""
        assessor = self._assessor(enhanced.device)
        size = assessor.input_size
        images = enhanced if size is None else resize(enhanced, (size, size))
        return assessor.predict_map(images).abs().mean()
