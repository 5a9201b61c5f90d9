"""Latency that can be compared across runs: warm-up calls first, then the median of several timed calls of
the task's own forward (padding, tiling, inference protocol) on a fixed input size."""

from __future__ import annotations

import time
from dataclasses import dataclass

import lightning as L
import torch

from exposure_lab.evaluation.cost import median_seconds
from exposure_lab.evaluation.environment import device_name


@dataclass(frozen=True)
class LatencyProtocol:
    """How latency is measured: `warmup` untimed calls, then the median of `repeats` calls on one
    (1,3,size,size) input."""

    size: int = 256
    warmup: int = 2
    repeats: int = 5

    def describe(self, accelerator: str = "cpu") -> str:
        """The protocol line's latency part, with the thread count and the device name."""
        where = device_name(accelerator)
        return (
            f"latency: median of {self.repeats} calls after {self.warmup} warm-up calls on one "
            f"{self.size}×{self.size} input, {torch.get_num_threads()} threads, {where}"
        )


def latency_ms_per_mp(task: L.LightningModule, protocol: LatencyProtocol = LatencyProtocol()) -> float:
    """Milliseconds per megapixel of `task`'s forward on a fixed random (1,3,size,size) input in [0, 1]."""
    device = next(iter(task.parameters()), torch.empty(0)).device
    x = torch.rand(1, 3, protocol.size, protocol.size, generator=torch.Generator().manual_seed(0)).to(device)
    task = task.eval()

    def forward() -> None:
        task(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.inference_mode():
        last = None
        for _ in range(max(1, protocol.warmup)):
            start = time.perf_counter()
            forward()
            last = time.perf_counter() - start
        seconds = median_seconds(forward, protocol.repeats, first_call_s=last)
    return 1000.0 * seconds / (protocol.size * protocol.size / 1e6)
