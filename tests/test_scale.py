"""Slow end-to-end runs: multirun sweep summary, DDP on CPU (gloo), loggers, resume, determinism."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import REPO, read_json

FAST_FIT = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=2"]


@pytest.mark.slow
def test_two_job_multirun_writes_sweep_summary(cli, paired_overrides, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPOSURE_LAB_OUTPUTS", str(tmp_path))  # the default sweep dir, under it
    overrides = [*paired_overrides, *FAST_FIT, "test_after_fit=false"]
    cli("train", "-m", "model.optimizer.lr=1e-3,3e-4", *overrides)
    (sweep_dir,) = (tmp_path / "train" / "multirun").glob("*/*")
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
def test_submitit_launcher_runs_jobs_as_separate_processes(cli, paired_overrides, tmp_path):
    sweep_dir = tmp_path / "submitit"
    overrides = [*paired_overrides, *FAST_FIT, "test_after_fit=false", "model.optimizer.lr=1e-3,3e-4"]
    cli("train", "-m", "hydra/launcher=submitit_local", *overrides, f"hydra.sweep.dir={sweep_dir}")
    with open(sweep_dir / "sweep_summary.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    assert list((sweep_dir / ".submitit").glob("*/*_log.out"))


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes_and_the_default_test_after_fit(tmp_path):
    # The synthetic set has a prepare_data step: a Trainer made on rank 0 for the test after fit used to wait
    # in it, forever, for the rank that had already exited.
    run_dir = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "exposure_lab.cli",
        "train",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "data.render.scenes_per_photo=1",
        *FAST_FIT,
        "compare_with=[identity]",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EXPOSURE_LAB_DATA": str(tmp_path / "data")}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    assert "All distributed processes registered" in done.stderr + done.stdout
    result = read_json(run_dir / "result.json")
    assert Path(result["best_checkpoint"]).is_file()
    assert set(read_json(run_dir / "results.json")["results"]) == {"unet", "identity"}
    assert done.stdout.strip().splitlines()[-1] == str(run_dir)


@pytest.mark.slow
def test_csv_tensorboard_and_offline_wandb_loggers_together(cli, paired_overrides, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run_dir = tmp_path / "loggers"
    overrides = [*paired_overrides, *FAST_FIT, "logger=many_loggers", "test_after_fit=false"]
    cli("train", *overrides, f"hydra.run.dir={run_dir}")
    assert list((run_dir / "wandb").glob("offline-run-*"))
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert "val/psnr" in (run_dir / "csv" / "metrics.csv").read_text()


def history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics_history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_resume_continues_epochs_lr_schedule_and_curves(cli, paired_overrides, tmp_path):
    common = [*paired_overrides, "+trainer.limit_train_batches=2", "test_after_fit=false"]
    common += ["model.optimizer.lr=1e-3"]
    common += ["+model.scheduler._target_=torch.optim.lr_scheduler.StepLR", "+model.scheduler._partial_=true"]
    common += ["+model.scheduler.step_size=1", "+model.scheduler.gamma=0.5"]
    first = tmp_path / "first"
    cli("train", *common, "trainer.max_epochs=2", f"hydra.run.dir={first}")
    resumed = tmp_path / "resumed"
    last = first / "checkpoints" / "last.ckpt"
    cli("train", *common, "trainer.max_epochs=3", f"ckpt_path={last}", f"hydra.run.dir={resumed}")
    rows = history(resumed)
    assert [row["epoch"] for row in rows] == ["0.0", "1.0", "2.0"]
    assert [float(row["lr"]) for row in rows] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert rows[:2] == history(first)


@pytest.mark.slow
def test_same_seed_gives_identical_runs(cli, paired_overrides, tmp_path):
    runs = []
    for name in ("a", "b"):
        run_dir = tmp_path / name
        overrides = [*paired_overrides, *FAST_FIT, "deterministic=true", "seed=7", "test_after_fit=false"]
        cli("train", *overrides, f"hydra.run.dir={run_dir}")
        runs.append(history(run_dir))
    assert runs[0] == runs[1]
