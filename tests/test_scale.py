"""Slow end-to-end runs: Hydra multirun with a sweep summary, Lightning DDP on CPU (gloo), wandb offline."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO, read_json

FAST_FIT = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=2"]


@pytest.mark.slow
def test_two_job_multirun_writes_sweep_summary(cli, paired_overrides, tmp_path):
    sweep_dir = tmp_path / "sweep"
    cli(
        "train",
        "-m",
        "model.optimizer.lr=1e-3,3e-4",
        *paired_overrides,
        *FAST_FIT,
        "test_after_fit=false",
        "logger=csv",
        f"hydra.sweep.dir={sweep_dir}",
    )
    with open(sweep_dir / "sweep_summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["overrides"].split()[0] for row in rows) == [
        "model.optimizer.lr=0.0003",
        "model.optimizer.lr=0.001",
    ]
    for row in rows:
        assert row["metric"] == "val/psnr"
        assert float(row["best_value"]) > 0
        assert Path(row["best_checkpoint"]).is_file()
    assert float(rows[0]["best_value"]) >= float(rows[1]["best_value"])


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(paired_overrides, tmp_path):
    run_dir = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "exposure_lab.cli",
        "train",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        *paired_overrides,
        *FAST_FIT,
        "compare_with=[]",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    assert "All distributed processes registered" in done.stderr + done.stdout
    result = read_json(run_dir / "result.json")
    assert Path(result["best_checkpoint"]).is_file()
    assert done.stdout.strip().splitlines()[-1] == str(run_dir)


@pytest.mark.slow
def test_wandb_logger_runs_offline(cli, paired_overrides, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run_dir = tmp_path / "wandb_run"
    cli(
        "train",
        *paired_overrides,
        *FAST_FIT,
        "logger=wandb",
        "test_after_fit=false",
        f"hydra.run.dir={run_dir}",
    )
    assert list((run_dir / "wandb").glob("offline-run-*"))
