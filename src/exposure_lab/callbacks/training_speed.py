"""Training on the fast memory layout: channels-last weights (activations follow) and heap reuse."""

from __future__ import annotations

import lightning as L
import torch

from exposure_lab.inference import note_emulated_bf16, set_memory_reuse


class TrainingSpeed(L.Callback):
    """At setup, put the task's 4-D weights in channels-last layout (`channels_last`: convolutions and their
    gradients then run in NHWC, equal to NCHW up to float rounding) and keep freed heap memory in the process
    (`reuse_memory`: exact; on a VM, re-faulting freed activations otherwise dominates small nets' steps).
    Notes once when `trainer.precision` is bf16 on a CPU without native bf16 (emulated there, slower)."""

    def __init__(self, channels_last: bool = True, reuse_memory: bool = True) -> None:
        self.channels_last = channels_last
        self.reuse_memory = reuse_memory

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        set_memory_reuse(self.reuse_memory)
        if str(trainer.precision).startswith("bf16") and trainer.strategy.root_device.type == "cpu":
            note_emulated_bf16(f"trainer.precision={trainer.precision}")
        if self.channels_last:
            pl_module.to(memory_format=torch.channels_last)
