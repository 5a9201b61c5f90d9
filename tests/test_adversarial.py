"""The adversarial task under a 3-stage table: stage, patch and batch size, both LRs and discriminator
activity at every boundary; resuming inside stage 2; the train CLI with the tiny LMSPEC preset."""

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from tests.helpers import write_paired_scenes
from torch import nn

from exposure_lab.callbacks.staged_training import StagedTraining
from exposure_lab.data.paired import PairedDataModule
from exposure_lab.metrics import MetricSuite
from exposure_lab.models.lmspec import LMSPEC
from exposure_lab.tasks.adversarial import AdversarialRestoration

G_LR, D_LR = 1e-3, 1e-4
STAGES = [
    {"name": "small", "patch_size": 16, "epochs": 1, "batch_size": 4, "lr_reset": True},
    {"name": "medium", "patch_size": 32, "epochs": 2, "batch_size": 2, "lr_reset": True, "lr_step_every": 1,
     "adversarial_from_epoch": 2},
    {"name": "large", "patch_size": 48, "epochs": 2, "batch_size": 3, "lr_reset": True, "lr_step_every": 1,
     "adversarial_from_epoch": 1},
]  # fmt: skip
EXPECTED = {  # 0-based epoch -> (stage index, input shape, G LR, D LR, D active)
    0: (0, (4, 3, 16, 16), G_LR, D_LR, False),
    1: (1, (2, 3, 32, 32), G_LR, D_LR, False),
    2: (1, (2, 3, 32, 32), G_LR / 2, D_LR / 2, True),
    3: (2, (3, 3, 48, 48), G_LR, D_LR, True),
    4: (2, (3, 3, 48, 48), G_LR / 2, D_LR / 2, True),
}


@dataclass(frozen=True)
class Step:
    epoch: int
    stage: int
    shape: tuple[int, ...]
    g_lr: float
    d_lr: float
    active: bool
    d_changed: bool


class RecordingTask(AdversarialRestoration):
    """A tiny LMSPEC task (one-conv discriminator, for speed) recording, per step, the stage, batch shape,
    both LRs and whether D was updated."""

    def __init__(self) -> None:
        super().__init__(
            net=LMSPEC(widths=(4, 4, 4, 4), depths=(1, 1, 1, 1)),
            discriminator=nn.Sequential(
                nn.Conv2d(3, 4, 4, stride=2, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(0)
            ),
            losses={"reconstruction": 1.0, "pyramid": 1.0, "adversarial": 0.1},
            optimizer=functools.partial(torch.optim.Adam, lr=G_LR),
            discriminator_optimizer=functools.partial(torch.optim.Adam, lr=D_LR),
            protocol="full",
            train_metrics=(),
        )
        self.set_metric_suite(MetricSuite(["psnr"]))
        self.steps: list[Step] = []

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        before = self.discriminator[0].weight.detach().clone()
        loss = super().training_step(batch, batch_idx)
        g_optimizer, d_optimizer = self.trainer.optimizers
        self.steps.append(
            Step(
                self.current_epoch,
                self.training_stage.index,
                tuple(batch["input"].shape),
                g_optimizer.param_groups[0]["lr"],
                d_optimizer.param_groups[0]["lr"],
                self.adversarial_active,
                not torch.equal(before, self.discriminator[0].weight),
            )
        )
        return loss

    def per_epoch(self) -> dict[int, tuple]:
        seen: dict[int, set] = {}
        for s in self.steps:
            assert s.d_changed == s.active, s
            seen.setdefault(s.epoch, set()).add((s.stage, s.shape, s.g_lr, s.d_lr, s.active))
        assert all(len(values) == 1 for values in seen.values()), seen
        return {epoch: values.pop() for epoch, values in seen.items()}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Paired training/testing folders of 56×64 scenes (room for 48 px patches)."""
    return write_paired_scenes(tmp_path_factory.mktemp("adversarial"), 56, 64, test_scenes=2)


def fit(root: Path, out_dir: Path, ckpt_path: Path | None = None) -> RecordingTask:
    data = PairedDataModule(
        train_input_dir=root / "training" / "INPUT_IMAGES",
        train_target_dir=root / "training" / "GT_IMAGES",
        input_dir=root / "testing" / "INPUT_IMAGES",
        target_dir=root / "testing" / "GT_IMAGES",
        batch_size=1,
        val_fraction=0.25,
        num_workers=0,
    )
    trainer = L.Trainer(
        default_root_dir=out_dir,
        max_epochs=5,
        accelerator="cpu",
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        callbacks=[
            StagedTraining(STAGES),
            ModelCheckpoint(dirpath=out_dir, filename="{epoch}", save_top_k=-1),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    task = RecordingTask()
    trainer.fit(task, datamodule=data, ckpt_path=ckpt_path)
    return task


@pytest.fixture(scope="module")
def full_run(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecordingTask]:
    out_dir = tmp_path_factory.mktemp("run")
    return out_dir, fit(root, out_dir)


def test_stage_patches_batches_lrs_and_discriminator_follow_the_table(full_run):
    _, task = full_run
    assert task.per_epoch() == EXPECTED
    assert len(task.steps) == 10


def test_resume_inside_stage_two_restores_the_discriminator_and_the_schedule(full_run, root, tmp_path):
    out_dir, _ = full_run
    checkpoint = out_dir / "epoch=1.ckpt"  # end of stage 2's first epoch
    resumed = fit(root, tmp_path, ckpt_path=checkpoint)
    assert resumed.per_epoch() == {epoch: EXPECTED[epoch] for epoch in range(2, 5)}
    state = torch.load(checkpoint, weights_only=True)
    assert any(key.startswith("discriminator.") for key in state["state_dict"])
    assert len(state["optimizer_states"]) == 2
    assert state["callbacks"]["StagedTraining"] == {"initial_lrs": [[G_LR], [D_LR]]}


@pytest.mark.slow
def test_train_cli_with_the_tiny_preset_and_a_stage_table(cli, paired_overrides, tmp_path):
    stages = (
        "[{patch_size:32,epochs:1,batch_size:4,lr_reset:true},"
        "{patch_size:32,epochs:1,batch_size:2,lr_reset:true,adversarial_from_epoch:1}]"
    )
    run_dir = tmp_path / "run"
    lines = cli(
        "train",
        *paired_overrides,
        "model=lmspec_tiny",
        "model.losses.ssim=0.5",
        "stages=lmspec",
        f"callbacks.staged_training.stages={stages}",
        "trainer.max_epochs=2",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "metrics.names=[psnr,ssim]",
        f"hydra.run.dir={run_dir}",
    )
    assert any("lmspec_tiny inference: full resolution + reflect pad" in line for line in lines)
    assert any(line.startswith("| lmspec_tiny") for line in lines)
