"""Staged patch-size training (LMSPEC / Endo-LMSPEC): one `Trainer.fit` runs a table of stages, each with its
own training patch size, batch size, LR schedule and adversarial switch."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.trainer.states import TrainerFn

from exposure_lab.errors import ExposureLabError

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("patch_size", "epochs", "batch_size")
OPTIONAL_KEYS = ("name", "lr_reset", "lr_step_every", "lr_step_factor", "adversarial_from_epoch")


@dataclass(frozen=True)
class Stage:
    """One validated row of the stage table; `adversarial_from_epoch` is 1-based within the stage."""

    name: str
    patch_size: int
    epochs: int
    batch_size: int
    lr_reset: bool = False
    lr_step_every: int | None = None
    lr_step_factor: float = 0.5
    adversarial_from_epoch: int | None = None


@dataclass(frozen=True)
class ActiveStage:
    """The stage of the running epoch, set as `pl_module.training_stage`; `index` and `epoch_in_stage` are
    0-based, `adversarial` says whether the adversarial term is on in this epoch."""

    index: int
    name: str
    epoch_in_stage: int
    patch_size: int
    batch_size: int
    adversarial: bool


def parse_stage(index: int, row: Any) -> Stage:
    """Validate one row of the table; a bad value raises a one-line ExposureLabError naming stage and key."""
    where = f"StagedTraining stages[{index}]"
    if not isinstance(row, Mapping):
        raise ExposureLabError(f"{where}: expected a mapping with {', '.join(REQUIRED_KEYS)}, found {row!r}")
    row = dict(row)
    if row.get("name") is not None:
        where += f" ({row['name']})"
    known = REQUIRED_KEYS + OPTIONAL_KEYS
    unknown = sorted(str(key) for key in row if key not in known)
    if unknown:
        raise ExposureLabError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(known)}")

    def positive_int(key: str) -> int | None:
        value = row.get(key)
        if value is None and key not in REQUIRED_KEYS:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExposureLabError(f"{where}: {key} must be a positive integer, found {value!r}")
        return value

    patch_size, epochs, batch_size = (positive_int(key) for key in REQUIRED_KEYS)
    lr_reset = row.get("lr_reset", False)
    if not isinstance(lr_reset, bool):
        raise ExposureLabError(f"{where}: lr_reset must be true or false, found {lr_reset!r}")
    factor = row.get("lr_step_factor", 0.5)
    if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
        raise ExposureLabError(f"{where}: lr_step_factor must be a positive number, found {factor!r}")
    adversarial_from = positive_int("adversarial_from_epoch")
    if adversarial_from is not None and adversarial_from > epochs:
        raise ExposureLabError(
            f"{where}: adversarial_from_epoch must be between 1 and the stage's {epochs} epochs, "
            f"found {adversarial_from}"
        )
    return Stage(
        name=str(row.get("name") or patch_size),
        patch_size=patch_size,
        epochs=epochs,
        batch_size=batch_size,
        lr_reset=lr_reset,
        lr_step_every=positive_int("lr_step_every"),
        lr_step_factor=float(factor),
        adversarial_from_epoch=adversarial_from,
    )


def format_lr(value: float) -> str:
    """`1e-4`, `2.5e-5`: short scientific notation for log lines."""
    return np.format_float_scientific(value, precision=3, trim="-", exp_digits=1)


class StagedTraining(L.Callback):
    """Run a stage table: per stage a training `patch_size`, `epochs`, `batch_size`, `lr_reset`, an optional
    step decay (LR = stage start LR × `lr_step_factor` ^ (epoch_in_stage // `lr_step_every`), on every
    optimizer), and `adversarial_from_epoch` (1-based within the stage).

    Before each epoch the datamodule is given the stage's patch and batch size (`set_train_patches`) and the
    train loader is rebuilt when they change. When any stage sets `lr_reset` or `lr_step_every`, the callback
    owns the LR (an LR scheduler is then refused): it is a pure function of the epoch and of the LRs captured
    at the start of a fresh fit, which are kept in the callback's checkpoint state, so a resumed run continues
    with the right LR. A stage without `lr_reset` continues from the previous stage's last LR. Epochs past the
    table stay in the last stage. The module sees the running stage as `pl_module.training_stage` (an
    `ActiveStage`); `train/stage` (1-based) and `train/patch_size` are logged every epoch.
    """

    def __init__(self, stages: Sequence[Mapping[str, Any]]) -> None:
        if isinstance(stages, str | Mapping) or not isinstance(stages, Sequence) or not stages:
            raise ExposureLabError(f"StagedTraining: stages must be a non-empty list, found {stages!r}")
        self.stages = tuple(parse_stage(index, row) for index, row in enumerate(stages))
        self.total_epochs = sum(stage.epochs for stage in self.stages)
        self.controls_lr = any(stage.lr_reset or stage.lr_step_every for stage in self.stages)
        self.initial_lrs: list[list[float]] | None = None  # [optimizer][param group]
        self._default_reload = 0
        self._train_patches: tuple[int, int] | None = None  # last (patch, batch) given to the datamodule
        self._announced: int | None = None

    def locate(self, epoch: int) -> tuple[int, int]:
        """(stage index, epoch within the stage) of a 0-based `epoch`, both 0-based."""
        for index, stage in enumerate(self.stages[:-1]):
            if epoch < stage.epochs:
                return index, epoch
            epoch -= stage.epochs
        return len(self.stages) - 1, epoch

    def active_stage(self, epoch: int) -> ActiveStage:
        """The stage that 0-based `epoch` trains in."""
        index, epoch_in_stage = self.locate(epoch)
        stage = self.stages[index]
        adversarial_from = stage.adversarial_from_epoch
        return ActiveStage(
            index=index,
            name=stage.name,
            epoch_in_stage=epoch_in_stage,
            patch_size=stage.patch_size,
            batch_size=stage.batch_size,
            adversarial=adversarial_from is not None and epoch_in_stage + 1 >= adversarial_from,
        )

    def lr_scale(self, epoch: int) -> float:
        """Factor applied to the initial LRs in 0-based `epoch`."""
        index, epoch_in_stage = self.locate(epoch)
        stage = self.stages[index]
        start = sum(s.epochs for s in self.stages[:index])
        scale = 1.0 if index == 0 or stage.lr_reset else self.lr_scale(start - 1)
        if stage.lr_step_every:
            scale *= stage.lr_step_factor ** (epoch_in_stage // stage.lr_step_every)
        return scale

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        datamodule = trainer.datamodule
        if not callable(getattr(datamodule, "set_train_patches", None)):
            found = "no datamodule" if datamodule is None else type(datamodule).__name__
            raise ExposureLabError(
                "StagedTraining needs a datamodule with set_train_patches(patch_size, batch_size) to change "
                f"the training patches per stage, found {found}"
            )
        self._default_reload = trainer.reload_dataloaders_every_n_epochs
        self._train_patches = None
        self._configure_data(trainer, 0)
        if trainer.max_epochs != self.total_epochs and trainer.is_global_zero:
            epochs = "+".join(str(s.epochs) for s in self.stages)
            log.warning(
                "trainer.max_epochs=%s but the stage table has %d epochs (%s); %s",
                trainer.max_epochs,
                self.total_epochs,
                epochs,
                "training stops before its end"
                if trainer.max_epochs is not None and 0 <= trainer.max_epochs < self.total_epochs
                else "later epochs stay in the last stage",
            )

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._configure_data(trainer, int(checkpoint.get("epoch", 0)))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.controls_lr:
            self._capture_initial_lrs(trainer)
        epoch = trainer.current_epoch
        self._request_reload(trainer, self._configure_data(trainer, epoch))
        self._set_lr(trainer, epoch)
        self._announced = None
        self._enter(trainer, pl_module, epoch)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._enter(trainer, pl_module, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        active = self.active_stage(epoch)
        for key, value in (("train/stage", active.index + 1), ("train/patch_size", active.patch_size)):
            pl_module.log(key, float(value), on_step=False, on_epoch=True, batch_size=1)
        # The next epoch is prepared here, not in on_train_epoch_start: Lightning builds the train loader
        # before that hook, and other callbacks (LearningRateMonitor, curves) read the LR in it.
        self._request_reload(trainer, self._configure_data(trainer, epoch + 1))
        self._set_lr(trainer, epoch + 1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.reload_dataloaders_every_n_epochs = self._default_reload

    def state_dict(self) -> dict[str, Any]:
        return {"initial_lrs": self.initial_lrs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.initial_lrs = state_dict.get("initial_lrs")

    def _configure_data(self, trainer: L.Trainer, epoch: int) -> bool:
        """Give the datamodule the patch and batch size of `epoch`; True when they changed."""
        stage = self.stages[self.locate(epoch)[0]]
        patches = (stage.patch_size, stage.batch_size)
        changed = patches != self._train_patches
        trainer.datamodule.set_train_patches(*patches)
        self._train_patches = patches
        return changed

    def _request_reload(self, trainer: L.Trainer, changed: bool) -> None:
        # Lightning (2.x) builds the train loader in fit_loop.setup_data(), before on_train_epoch_start, and
        # rebuilds it only when current_epoch - epoch_of_last_build >= reload_dataloaders_every_n_epochs (0:
        # never). Setting it to 1 only when the patches change rebuilds the loader at stage boundaries (and
        # once after resuming from an end-of-epoch checkpoint, whose first loader is built while current_epoch
        # still holds the checkpoint's epoch) without restarting workers and image caches every epoch.
        trainer.reload_dataloaders_every_n_epochs = 1 if changed else self._default_reload

    def _capture_initial_lrs(self, trainer: L.Trainer) -> None:
        if trainer.lr_scheduler_configs:
            names = ", ".join(type(config.scheduler).__name__ for config in trainer.lr_scheduler_configs)
            raise ExposureLabError(
                "StagedTraining sets the LR (lr_reset / lr_step_every) but the model also has an LR "
                f"scheduler ({names}); set model.scheduler=null or remove lr_reset and lr_step_every from "
                "the stages"
            )
        current = [[float(group["lr"]) for group in opt.param_groups] for opt in trainer.optimizers]
        if trainer.ckpt_path is None or self.initial_lrs is None:
            if trainer.ckpt_path is not None:
                log.warning(
                    "checkpoint %s has no StagedTraining state; stage LRs are relative to its current LRs",
                    trainer.ckpt_path,
                )
            self.initial_lrs = current
        elif [len(lrs) for lrs in self.initial_lrs] != [len(lrs) for lrs in current]:
            raise ExposureLabError(
                f"checkpoint {trainer.ckpt_path}: its StagedTraining LRs are for "
                f"{[len(lrs) for lrs in self.initial_lrs]} param groups per optimizer, the model has "
                f"{[len(lrs) for lrs in current]}"
            )

    def _set_lr(self, trainer: L.Trainer, epoch: int) -> None:
        if not self.controls_lr or self.initial_lrs is None:
            return
        scale = self.lr_scale(epoch)
        for optimizer, lrs in zip(trainer.optimizers, self.initial_lrs, strict=True):
            for group, lr in zip(optimizer.param_groups, lrs, strict=True):
                group["lr"] = lr * scale

    def _enter(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int) -> None:
        active = self.active_stage(epoch)
        pl_module.training_stage = active
        if active.index != self._announced and trainer.is_global_zero:
            log.info(self._describe(active, epoch))
        self._announced = active.index

    def _describe(self, active: ActiveStage, epoch: int) -> str:
        """`stage 2/3 (256): 256 px patches, batch 8, LR reset to 1e-4, ×0.5 every 10 epochs, adversarial
        from epoch 16`, with `, from epoch k/N` after the name when entering a stage in its middle."""
        stage = self.stages[active.index]
        head = f"stage {active.index + 1}/{len(self.stages)} ({stage.name})"
        if active.epoch_in_stage:
            head += f", from epoch {active.epoch_in_stage + 1}/{stage.epochs}"
        parts = [f"{stage.patch_size} px patches", f"batch {stage.batch_size}"]
        if self.controls_lr and self.initial_lrs:
            lrs = "/".join(format_lr(lrs[0] * self.lr_scale(epoch)) for lrs in self.initial_lrs if lrs)
            reset = stage.lr_reset and active.index > 0 and not active.epoch_in_stage
            parts.append(f"LR {'reset to ' if reset else ''}{lrs}")
            if stage.lr_step_every:
                every = "epoch" if stage.lr_step_every == 1 else f"{stage.lr_step_every} epochs"
                parts.append(f"×{stage.lr_step_factor:g} every {every}")
        if stage.adversarial_from_epoch is not None:
            parts.append(f"adversarial from epoch {stage.adversarial_from_epoch}")
        elif any(s.adversarial_from_epoch is not None for s in self.stages):
            parts.append("no adversarial term")
        return f"{head}: {', '.join(parts)}"
