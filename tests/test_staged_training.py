"""Staged patch-size training: the stage table, what the model receives in each epoch, resume into stage 2."""

import csv
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from omegaconf import OmegaConf
from tests.helpers import compose_config
from torch import nn
from torch.utils.data import DataLoader

from exposure_lab.callbacks.staged_training import ActiveStage, StagedTraining
from exposure_lab.config import config_dir
from exposure_lab.data.paired import PairedDataModule
from exposure_lab.errors import ExposureLabError
from exposure_lab.metrics import MetricSuite
from exposure_lab.tasks.paired import PairedRestoration

LR = 1e-2
# 0-based epochs 0-1: 16 px, batch 4, LR halved after epoch 0; epochs 2-4: 32 px, batch 2, LR reset, halved
# every 2 epochs, adversarial from the stage's 2nd epoch.
STAGES = [
    {"name": "small", "patch_size": 16, "epochs": 2, "batch_size": 4, "lr_step_every": 1},
    {
        "name": "large",
        "patch_size": 32,
        "epochs": 3,
        "batch_size": 2,
        "lr_reset": True,
        "lr_step_every": 2,
        "adversarial_from_epoch": 2,
    },
]
EXPECTED = {  # epoch -> (input shape, LR, stage index, adversarial)
    0: ((4, 3, 16, 16), LR, 0, False),
    1: ((4, 3, 16, 16), LR / 2, 0, False),
    2: ((2, 3, 32, 32), LR, 1, False),
    3: ((2, 3, 32, 32), LR, 1, True),
    4: ((2, 3, 32, 32), LR / 2, 1, True),
}
STAGES_DIR = config_dir() / "stages"


@dataclass(frozen=True)
class Step:
    epoch: int
    shape: tuple[int, ...]
    lr: float
    stage: ActiveStage


class RecordingTask(PairedRestoration):
    """A 1-conv paired task that records, per training step, the batch shape, the LR and the active stage."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            net=nn.Conv2d(3, 3, 3, padding=1),
            losses={"l1": 1.0},
            optimizer=functools.partial(torch.optim.Adam, lr=LR),
            train_metrics=(),
            **kwargs,
        )
        self.set_metric_suite(MetricSuite(["psnr"]))
        self.steps: list[Step] = []

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.steps.append(Step(self.current_epoch, tuple(batch["input"].shape), lr, self.training_stage))
        return super().training_step(batch, batch_idx)

    def per_epoch(self) -> dict[int, tuple[tuple[int, ...], float, int, bool]]:
        """epoch -> (shape, LR, stage index, adversarial), checking every step of an epoch agrees."""
        seen: dict[int, set] = {}
        for step in self.steps:
            seen.setdefault(step.epoch, set()).add(
                (step.shape, step.lr, step.stage.index, step.stage.adversarial)
            )
        assert all(len(values) == 1 for values in seen.values()), seen
        return {epoch: values.pop() for epoch, values in seen.items()}


class CountingDataModule(PairedDataModule):
    """Records (current_epoch, patch size, batch size) of the loader built at each train_dataloader() call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_loader_calls: list[tuple[int, int, int]] = []

    def train_dataloader(self) -> DataLoader:
        loader = super().train_dataloader()
        patch_size = loader.dataset[0]["input"].shape[-1]
        self.train_loader_calls.append((self.trainer.current_epoch, patch_size, loader.batch_size))
        return loader


def datamodule(root: Path) -> CountingDataModule:
    return CountingDataModule(
        train_input_dir=root / "training" / "INPUT_IMAGES",
        train_target_dir=root / "training" / "GT_IMAGES",
        input_dir=root / "testing" / "INPUT_IMAGES",
        target_dir=root / "testing" / "GT_IMAGES",
        patch_size=64,  # overridden by the stages
        batch_size=1,
        val_fraction=0.25,
        num_workers=0,
    )


def trainer(out_dir: Path) -> L.Trainer:
    """5 epochs of 2 training batches, a checkpoint after every epoch and every step (under `steps/`)."""
    callbacks = [
        LearningRateMonitor(logging_interval="epoch"),  # before StagedTraining: reads the LR it set
        StagedTraining(STAGES),
        ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="{epoch}", save_top_k=-1),
        ModelCheckpoint(
            dirpath=out_dir / "checkpoints" / "steps",
            filename="{epoch}-{step}",
            every_n_train_steps=1,
            save_top_k=-1,
        ),
    ]
    return L.Trainer(
        default_root_dir=out_dir,
        max_epochs=5,
        accelerator="cpu",
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=CSVLogger(out_dir, name="", version=""),
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def logged_per_epoch(out_dir: Path, key: str) -> list[float]:
    with open(out_dir / "metrics.csv") as handle:
        return [float(row[key]) for row in csv.DictReader(handle) if row.get(key)]


@dataclass
class Run:
    out_dir: Path
    task: RecordingTask
    data: CountingDataModule
    log_lines: list[str]


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def fit(out_dir: Path, root: Path, ckpt_path: Path | None = None) -> Run:
    """Fit the stage table from scratch or from `ckpt_path`, keeping the callback's log lines."""
    handler = ListHandler()
    logger = logging.getLogger("exposure_lab.callbacks.staged_training")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        task, data = RecordingTask(), datamodule(root)
        trainer(out_dir).fit(task, datamodule=data, ckpt_path=ckpt_path)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    return Run(out_dir, task, data, handler.lines)


@pytest.fixture(scope="module")
def full_run(paired_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return fit(tmp_path_factory.mktemp("staged"), paired_root)


def test_batches_lr_and_adversarial_flag_follow_the_stage_table(full_run):
    assert full_run.task.per_epoch() == EXPECTED


def test_train_loader_is_rebuilt_only_at_the_stage_change(full_run):
    assert full_run.data.train_loader_calls == [(0, 16, 4), (2, 32, 2)]


def test_stage_patch_size_and_lr_are_logged_per_epoch(full_run):
    assert logged_per_epoch(full_run.out_dir, "train/stage") == [1, 1, 2, 2, 2]
    assert logged_per_epoch(full_run.out_dir, "train/patch_size") == [16, 16, 32, 32, 32]
    lrs = logged_per_epoch(full_run.out_dir, "lr-Adam")
    assert lrs == pytest.approx([EXPECTED[epoch][1] for epoch in range(5)])


def test_each_stage_start_is_announced(full_run):
    assert full_run.log_lines == [
        "stage 1/2 (small): 16 px patches, batch 4, LR 1e-2, ×0.5 every epoch, no adversarial term",
        "stage 2/2 (large): 32 px patches, batch 2, LR reset to 1e-2, ×0.5 every 2 epochs, "
        "adversarial from epoch 2",
    ]


@pytest.mark.parametrize(
    ("checkpoint", "first_epoch", "steps", "loader_calls", "announced"),
    [
        # end of stage 1: the first loader is built while current_epoch still holds the checkpoint's epoch
        # (stage 1 patches), then rebuilt before epoch 2
        (
            "epoch=1.ckpt",
            2,
            6,
            [(1, 16, 4), (2, 32, 2)],
            "stage 2/2 (large): 32 px patches, batch 2, LR reset",
        ),
        ("steps/epoch=1-step=4.ckpt", 2, 6, [(1, 16, 4), (2, 32, 2)], "stage 2/2 (large): 32 px patches"),
        # middle of stage 2 (end of an epoch, and mid-epoch): the first loader has stage 2 patches already
        (
            "epoch=2.ckpt",
            3,
            4,
            [(2, 32, 2)],
            "stage 2/2 (large), from epoch 2/3: 32 px patches, batch 2, LR 1e-2",
        ),
        ("steps/epoch=3-step=7.ckpt", 3, 3, [(3, 32, 2)], "stage 2/2 (large), from epoch 2/3: 32 px patches"),
    ],
)
def test_resume_continues_with_the_right_stage_batch_patch_and_lr(
    full_run, paired_root, tmp_path, checkpoint, first_epoch, steps, loader_calls, announced
):
    path = full_run.out_dir / "checkpoints" / checkpoint
    resumed = fit(tmp_path, paired_root, ckpt_path=path)
    assert resumed.task.per_epoch() == {epoch: EXPECTED[epoch] for epoch in range(first_epoch, 5)}
    assert len(resumed.task.steps) == steps
    assert resumed.data.train_loader_calls == loader_calls
    assert resumed.log_lines[0].startswith(announced)
    assert torch.load(path, weights_only=True)["callbacks"]["StagedTraining"] == {"initial_lrs": [[LR]]}


def test_stage_lookup_lr_scale_and_adversarial_epochs():
    callback = StagedTraining(
        [
            {"patch_size": 128, "epochs": 4, "batch_size": 8, "lr_step_every": 2},
            {"patch_size": 256, "epochs": 3, "batch_size": 4, "lr_step_every": 1, "lr_step_factor": 0.1},
            {"patch_size": 512, "epochs": 2, "batch_size": 2, "lr_reset": True, "adversarial_from_epoch": 2},
        ]
    )
    assert [callback.locate(e) for e in (0, 3, 4, 6, 7, 8, 11)] == [
        (0, 0), (0, 3), (1, 0), (1, 2), (2, 0), (2, 1), (2, 4),
    ]  # fmt: skip
    # stage 2 continues from stage 1's last LR (0.5), stage 3 resets; past the table: last stage
    scales = [callback.lr_scale(e) for e in range(11)]
    assert scales == pytest.approx([1, 1, 0.5, 0.5, 0.5, 0.05, 0.005, 1, 1, 1, 1])
    assert [callback.active_stage(e).adversarial for e in range(6, 11)] == [False, False, True, True, True]
    assert callback.active_stage(5) == ActiveStage(1, "256", 1, 256, 4, False)
    assert callback.total_epochs == 9


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "stages must be a non-empty list"),
        ({"patch_size": 128}, "stages must be a non-empty list"),
        (
            [{"patch_size": 128, "epochs": 4}],
            r"stages\[0\]: batch_size must be a positive integer, found None",
        ),
        (
            [{"patch_size": 128, "epochs": 1, "batch_size": 1}, {"name": "b", "patch_size": 0}],
            r"stages\[1\] \(b\): patch_size must be a positive integer, found 0",
        ),
        ([{"patch_size": 128, "epochs": 2.5, "batch_size": 1}], "epochs must be a positive integer"),
        ([{"patch_size": 128, "epochs": 2, "batch_size": 1, "lr_reset": "yes"}], "lr_reset must be true"),
        ([{"patch_size": 128, "epochs": 2, "batch_size": 1, "lr_step_every": 0}], "lr_step_every must be"),
        ([{"patch_size": 128, "epochs": 2, "batch_size": 1, "lr_step_factor": -1}], "lr_step_factor must be"),
        (
            [{"patch_size": 128, "epochs": 30, "batch_size": 1, "adversarial_from_epoch": 31}],
            "adversarial_from_epoch must be between 1 and the stage's 30 epochs, found 31",
        ),
        ([{"patch_size": 128, "epochs": 2, "batch_size": 1, "lr": 1e-4}], r"unknown key\(s\) lr;"),
        (["128"], "expected a mapping"),
    ],
)
def test_bad_stage_tables_are_rejected_with_one_line(stages, message):
    with pytest.raises(ExposureLabError, match=message) as error:
        StagedTraining(stages)
    assert "\n" not in str(error.value)


def test_fit_without_a_stageable_datamodule_fails_clearly(tmp_path):
    images = [{"input": torch.rand(3, 8, 8), "target": torch.rand(3, 8, 8)}] * 2
    with pytest.raises(
        ExposureLabError, match=r"needs a datamodule with set_train_patches.*found no datamodule"
    ):
        trainer(tmp_path).fit(RecordingTask(), train_dataloaders=DataLoader(images, batch_size=2))


def test_lr_scheduler_alongside_stage_lrs_fails_clearly(paired_root, tmp_path):
    task = RecordingTask(scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1))
    with pytest.raises(
        ExposureLabError, match=r"also has an LR scheduler \(StepLR\); set model.scheduler=null"
    ):
        trainer(tmp_path).fit(task, datamodule=datamodule(paired_root))


@pytest.mark.parametrize("option", sorted(p.stem for p in STAGES_DIR.glob("*.yaml")))
def test_stage_configs_compose_and_max_epochs_is_the_table_total(option, tmp_path):
    cfg = compose_config("train", [f"stages={option}"], tmp_path)
    node = cfg.callbacks.staged_training
    callback = StagedTraining(node.stages)
    assert node._target_ == "exposure_lab.callbacks.staged_training.StagedTraining"
    assert cfg.trainer.max_epochs == callback.total_epochs


def test_lmspec_stage_config_is_the_papers_schedule(tmp_path):
    cfg = compose_config("train", ["stages=lmspec"], tmp_path)
    stages = OmegaConf.to_container(cfg.callbacks.staged_training.stages)
    assert [(s["patch_size"], s["epochs"], s["batch_size"], s["lr_step_every"]) for s in stages] == [
        (128, 40, 32, 20),
        (256, 30, 8, 10),
        (512, 20, 4, 5),
    ]
    assert all(s["lr_reset"] for s in stages)
    callback = StagedTraining(stages)
    adversarial = [e + 1 for e in range(90) if callback.active_stage(e).adversarial]
    assert adversarial == [*range(56, 71), *range(76, 91)]  # epochs 16-30 of stage 2, 6-20 of stage 3


def test_train_cli_with_a_stage_table(cli, paired_overrides, tmp_path):
    stages = "[{patch_size:16,epochs:1,batch_size:4},{patch_size:32,epochs:2,batch_size:2,lr_step_every:1}]"
    run_dir = tmp_path / "run"
    cli(
        "train",
        *paired_overrides,
        "stages=demo",
        f"callbacks.staged_training.stages={stages}",
        "trainer.max_epochs=3",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "test_after_fit=false",
        f"hydra.run.dir={run_dir}",
    )
    assert logged_per_epoch(run_dir / "csv", "train/patch_size") == [16, 32, 32]
    with open(run_dir / "metrics_history.csv") as handle:  # TrainingCurvesCallback reads the LR it set
        assert [float(row["lr"]) for row in csv.DictReader(handle)] == pytest.approx([1e-3, 1e-3, 5e-4])


def test_max_epochs_other_than_the_table_total_is_warned(paired_root, tmp_path, caplog):
    zero_epochs = L.Trainer(
        max_epochs=0,
        accelerator="cpu",
        logger=False,
        callbacks=[StagedTraining(STAGES)],
        default_root_dir=tmp_path,
    )
    with caplog.at_level(logging.WARNING, logger="exposure_lab.callbacks.staged_training"):
        zero_epochs.fit(RecordingTask(), datamodule=datamodule(paired_root))
    assert "trainer.max_epochs=0 but the stage table has 5 epochs (2+3); training stops before its end" in (
        caplog.text
    )
