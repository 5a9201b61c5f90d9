"""Sweeps that survive a failing job: every job runs, `sweep_summary.csv` lists each with its status and the
error line of the failed ones, and the sweep ends with one `error:` line and exit status 2."""

import csv
import sys
from pathlib import Path

import pytest

from exposure_lab import cli

FAST_FIT = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=2"]


def summary_rows(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "sweep_summary.csv") as handle:
        return list(csv.DictReader(handle))


def run_sweep(capfd, paired_overrides: list[str], axis: str, sweep_dir: Path) -> tuple[int, str]:
    """`train -m` of short fits on the paired fixture over `axis` (`key=a,b,...`): exit status and output."""
    capfd.readouterr()
    saved = sys.argv[:]
    argv = [*paired_overrides, *FAST_FIT, "test_after_fit=false", axis, f"hydra.sweep.dir={sweep_dir}"]
    try:
        status = cli.main(["train", "-m", *argv])
    except SystemExit as exc:
        status = exc.code
    finally:
        sys.argv = saved
    captured = capfd.readouterr()
    return int(status or 0), captured.out + captured.err


@pytest.mark.slow
def test_a_failing_job_does_not_stop_the_sweep(paired_overrides, tmp_path, capfd):
    sweep_dir = tmp_path / "sweep"
    status, text = run_sweep(capfd, paired_overrides, "data.patch_size=32,999,16", sweep_dir)
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert status == 2 and len(errors) == 1, text[-3000:]
    assert "1 of 3" in errors[0] and "sweep_summary.csv" in errors[0]

    rows = summary_rows(sweep_dir)
    by_patch = {row["overrides"].split("data.patch_size=")[1].split()[0]: row for row in rows}
    assert sorted(by_patch) == ["16", "32", "999"], "every job is listed"
    assert by_patch["999"]["status"] == "failed"
    assert "smaller than patch_size 999" in by_patch["999"]["error"]
    assert by_patch["999"]["best_value"] == ""
    for patch in ("16", "32"):
        assert by_patch[patch]["status"] == "completed" and by_patch[patch]["error"] == ""
        assert float(by_patch[patch]["best_value"]) > 0
        assert Path(by_patch[patch]["best_checkpoint"]).is_file()
    assert rows[-1]["status"] == "failed", "failed jobs are listed after the completed ones"


@pytest.mark.slow
def test_a_diverging_job_is_listed_with_its_error_and_null_value(paired_overrides, tmp_path, capfd):
    sweep_dir = tmp_path / "sweep"
    status, text = run_sweep(capfd, paired_overrides, "model.optimizer.lr=1e-3,1e6", sweep_dir)
    assert status == 2, text[-3000:]
    rows = {
        row["overrides"].split("model.optimizer.lr=")[1].split()[0]: row for row in summary_rows(sweep_dir)
    }
    assert rows["0.001"]["status"] == "completed"
    assert rows["1000000.0"]["status"] == "failed"
    assert "model.optimizer.lr" in rows["1000000.0"]["error"]
    result = (sweep_dir / rows["1000000.0"]["job"] / "result.json").read_text()
    assert "Infinity" not in result and "NaN" not in result
