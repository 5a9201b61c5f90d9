"""What a checkpoint needs so that training resumed from it continues exactly as the uninterrupted run."""

from __future__ import annotations

import copy
import random
from typing import Any

import lightning as L
import numpy as np
import torch


def random_state() -> dict[str, Any]:
    """The random-number state of torch (CPU and every CUDA device), NumPy and Python, in types that
    `torch.load(weights_only=True)` accepts."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }


def set_random_state(state: dict[str, Any]) -> None:
    """Put back a state returned by `random_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state(
        (
            numpy["kind"],
            numpy["keys"].numpy().astype(np.uint32),
            numpy["position"],
            numpy["has_gauss"],
            numpy["gauss"],
        )
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))


class ExactResume(L.Callback):
    """Makes checkpoints written at the end of a training epoch resume exactly.

    - The random-number state (torch, CUDA, NumPy, Python) is stored and put back when training starts again.
    - Lightning steps `ReduceLROnPlateau` schedules after `on_train_epoch_end`, where checkpoints are written,
      and does not step them again on resume, so the checkpoint would miss that epoch's step: it stores the
      schedule and optimizer state as they are after it.
    """

    def __init__(self) -> None:
        self._restored: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"random_state": random_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = state_dict.get("random_state")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._restored is not None:
            set_random_state(self._restored)
            self._restored = None

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        loop = trainer.fit_loop
        progress = loop.epoch_progress.current
        pending = progress.processed > progress.completed and not loop.restarting
        plateau = [c for c in trainer.lr_scheduler_configs if c.reduce_on_plateau and c.interval == "epoch"]
        if not (pending and plateau and loop.epoch_loop._num_ready_batches_reached()):
            return
        configs = trainer.lr_scheduler_configs
        schedules = [config.scheduler.state_dict() for config in configs]
        groups = [_group_settings(optimizer) for optimizer in trainer.optimizers]
        loop.epoch_loop.update_lr_schedulers("epoch", update_plateau_schedulers=True)
        checkpoint["lr_schedulers"] = [config.scheduler.state_dict() for config in configs]
        checkpoint["optimizer_states"] = [trainer.strategy.optimizer_state(o) for o in trainer.optimizers]
        for config, state in zip(configs, schedules, strict=True):
            config.scheduler.load_state_dict(state)
        for optimizer, saved in zip(trainer.optimizers, groups, strict=True):
            for group, values in zip(optimizer.param_groups, saved, strict=True):
                group.update(values)


def _group_settings(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Copies of each parameter group's settings (LR, momentum, ...) without its parameters."""
    return [
        {k: copy.deepcopy(v) for k, v in group.items() if k != "params"} for group in optimizer.param_groups
    ]
