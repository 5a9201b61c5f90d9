"""`trainer.precision=bf16-mixed` trains every task type on CPU (the adversarial task's manual optimisation
included), with finite losses; the run summary records the training precision, and the test split is scored in
fp32 from the checkpoint."""

import csv
import math

import pytest
import torch
from tests.helpers import read_json
from tests.test_assessment import tiny_residual_set

from exposure_lab.checkpoints import load_task

TWO_STAGES = (
    "[{patch_size:32,epochs:1,batch_size:4,lr_reset:true},"
    "{patch_size:32,epochs:1,batch_size:2,lr_reset:true,adversarial_from_epoch:1}]"
)
TASKS = {  # model, its options, the loss to check; only the paired run is scored after fit (in fp32)
    "paired": ("unet", ["trainer.max_epochs=1"], "train/loss_epoch"),
    "zero_reference": ("zero_dce_pp", ["trainer.max_epochs=1", "test_after_fit=false"], "train/loss_epoch"),
    "adversarial": (
        "lmspec_tiny",
        [
            "stages=lmspec",
            f"callbacks.staged_training.stages={TWO_STAGES}",
            "trainer.max_epochs=2",
            "test_after_fit=false",
        ],
        "train/discriminator",
    ),
}


def logged(run_dir, key: str) -> list[float]:
    """Every value of `key` in the run's Lightning CSV log."""
    (metrics,) = run_dir.glob("csv/**/metrics.csv")
    with metrics.open() as handle:
        return [float(row[key]) for row in csv.DictReader(handle) if row.get(key)]


@pytest.mark.parametrize("kind", TASKS)
def test_bf16_mixed_training_of_each_task(kind, cli, paired_overrides, tmp_path):
    model, options, loss_key = TASKS[kind]
    run_dir = tmp_path / "run"
    lines = cli(
        "train",
        *paired_overrides,
        f"model={model}",
        *options,
        "trainer.precision=bf16-mixed",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "metrics.names=[psnr,ssim]",
        f"hydra.run.dir={run_dir}",
    )
    assert lines[-1] == str(run_dir)
    result = read_json(run_dir / "result.json")
    assert result["train_precision"] == "bf16-mixed"
    losses = logged(run_dir, loss_key)
    assert losses and all(math.isfinite(value) for value in losses)
    task, _ = load_task(result["best_checkpoint"])
    assert all(parameter.dtype == torch.float32 for parameter in task.parameters())  # fp32 master weights
    if "test_after_fit=false" not in options:
        assert any(line.startswith(f"| {model} |") for line in lines)


def test_bf16_mixed_training_of_the_exposure_assessor(cli, tmp_path):
    run_dir = tmp_path / "run"
    lines = cli(
        "train",
        "experiment=p_ieanet_synthetic",
        *tiny_residual_set(tmp_path / "synthetic"),
        "trainer.precision=bf16-mixed",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "test_after_fit=false",
        f"hydra.run.dir={run_dir}",
    )
    assert lines[-1] == str(run_dir)
    assert read_json(run_dir / "result.json")["train_precision"] == "bf16-mixed"
    losses = logged(run_dir, "train/loss_epoch")
    assert losses and all(math.isfinite(value) for value in losses)
