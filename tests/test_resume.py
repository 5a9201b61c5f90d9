"""Exact resume: a training run (a subprocess) killed with `kill -9` in the middle of an epoch and resumed
from its `last.ckpt` ends with the same metrics, to every digit, as the run that was never interrupted, with
the default data-loader workers, a step schedule and a plateau schedule; `init_from=` starts from a
checkpoint's weights only."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.helpers import REPO, read_json, run_cli

EPOCHS = 5
KILL_AFTER_CHECKPOINTS = 2  # killed in epoch 2 (0-based), after two epochs were checkpointed
SCHEDULES = {
    "step": [
        "+model.scheduler._target_=torch.optim.lr_scheduler.StepLR",
        "+model.scheduler._partial_=true",
        "+model.scheduler.step_size=1",
        "+model.scheduler.gamma=0.7",
    ],
    # patience 0 and a 50 dB threshold: the LR halves after every epoch from the second on
    "plateau": [
        "+model.scheduler._target_=torch.optim.lr_scheduler.ReduceLROnPlateau",
        "+model.scheduler._partial_=true",
        "+model.scheduler.mode=max",
        "+model.scheduler.factor=0.5",
        "+model.scheduler.patience=0",
        "+model.scheduler.threshold=50",
        "+model.scheduler.threshold_mode=abs",
    ],
}


def train_command(overrides: list[str], run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "exposure_lab.cli", "train", *overrides, f"hydra.run.dir={run_dir}"]


def train_here(overrides: list[str], run_dir: Path, *extra: str) -> None:
    """`exposure-lab train` in this process, on one thread as the killed subprocess (OMP_NUM_THREADS=1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_cli("train", *overrides, *extra, f"hydra.run.dir={run_dir}")
    finally:
        torch.set_num_threads(threads)


def kill_mid_epoch(command: list[str], last: Path) -> int:
    """Start the run, wait until `last` has been written `KILL_AFTER_CHECKPOINTS` times, then `kill -9` it
    halfway through the next epoch (by the time the last epoch took). Returns the epoch it was killed in."""
    log = last.parents[2] / f"{last.parents[1].name}.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as stream:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=stream, stderr=subprocess.STDOUT)
    writes: list[float] = []
    seen = None
    deadline = time.monotonic() + 300
    while len(writes) < KILL_AFTER_CHECKPOINTS:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint written in 300 s"
        if last.exists() and last.stat().st_mtime_ns != seen:
            seen = last.stat().st_mtime_ns
            writes.append(time.monotonic())
        time.sleep(0.01)
    epoch_seconds = writes[-1] - writes[-2]
    time.sleep(epoch_seconds / 2)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    return KILL_AFTER_CHECKPOINTS


def history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics_history.csv") as handle:
        return list(csv.DictReader(handle))


def final_metrics(run_dir: Path) -> dict:
    """What a run reports at its end: the per-epoch history, the best value, the test-set results."""
    result = read_json(run_dir / "result.json")
    scores = {
        model: {key: value for key, value in metrics.items() if "latency" not in key}  # wall time differs
        for model, metrics in read_json(run_dir / "results.json")["results"].items()
    }
    return {"history": history(run_dir), "best_value": result["best_value"], "test": scores}


@pytest.fixture(scope="module")
def overrides(paired_overrides: list[str]) -> list[str]:
    """The fixture's paired data with the shipped default workers, 5 short epochs, deterministic."""
    kept = [o for o in paired_overrides if not o.startswith("data.num_workers=")]
    return [
        *kept,
        "data.batch_size=2",
        f"trainer.max_epochs={EPOCHS}",
        "deterministic=true",
        "seed=42",
        "model.optimizer.lr=3e-3",
        "compare_with=[]",
        "optimized_mode=min",  # the best checkpoint is then the first epoch's, so last.ckpt is not the best
    ]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_killed_and_resumed_run_ends_like_the_uninterrupted_one(overrides, schedule, tmp_path):
    common = [*overrides, *SCHEDULES[schedule]]
    whole, killed, resumed = tmp_path / "whole", tmp_path / "killed", tmp_path / "resumed"
    train_here(common, whole)
    last = killed / "checkpoints" / "last.ckpt"
    killed_in = kill_mid_epoch(train_command(common, killed), last)
    assert not (killed / "result.json").exists()
    stored = torch.load(last, map_location="cpu", weights_only=True)
    assert stored["epoch"] == killed_in - 1, "last.ckpt must hold the last finished epoch, not the best"

    train_here(common, resumed, f"ckpt_path={last}")
    expected, got = final_metrics(whole), final_metrics(resumed)
    lrs = [float(row["lr"]) for row in expected["history"]]
    assert len(set(lrs)) >= EPOCHS - 1, f"the schedule should change the LR in most epochs: {lrs}"
    assert got == expected
    weights = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"] for d in (whole, resumed)
    ]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0]), "final weights differ"


@pytest.mark.slow
def test_init_from_starts_from_the_weights_only(overrides, tmp_path):
    first = tmp_path / "first"
    short = [*overrides, *SCHEDULES["step"], "trainer.max_epochs=2", "test_after_fit=false"]
    train_here(short, first)
    trained = history(first)
    started = tmp_path / "started"
    checkpoint = first / "checkpoints" / "last.ckpt"
    # LR 0: the weights stay those of the checkpoint, so the first validation repeats its last one exactly
    train_here([*short, "model.optimizer.lr=0"], started, f"init_from={checkpoint}")
    rows = history(started)
    assert [row["epoch"] for row in rows] == ["0.0", "1.0"], "init_from starts at epoch 0"
    assert rows[0]["val/psnr"] == trained[-1]["val/psnr"]
    assert float(rows[0]["lr"]) == 0.0, "the optimizer and schedule start fresh from the config"
