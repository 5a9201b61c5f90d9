"""Hydra callback that writes `sweep_summary.csv` (one row per job, failed ones included) at the end of a
multirun, and ends the sweep with one `error:` line when any job failed."""

import csv
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from exposure_lab.data.io import atomic_output
from exposure_lab.errors import CommandFailed

log = logging.getLogger(__name__)
RESULT_FILE = "result.json"
SUMMARY_FILE = "sweep_summary.csv"
COLUMNS = ("job", "status", "overrides", "metric", "best_value", "best_checkpoint", "error", "run_dir")


def job_row(job_dir: Path) -> dict[str, Any]:
    """The summary row of one job folder: from its `result.json`, or `no result` (the job was killed or
    crashed before writing one) with the overrides Hydra recorded when it started."""
    result_path = job_dir / RESULT_FILE
    if result_path.is_file():
        result = json.loads(result_path.read_text())
    else:
        recorded = job_dir / ".hydra" / "overrides.yaml"
        overrides = list(OmegaConf.load(recorded)) if recorded.is_file() else []
        result = {"status": "no result", "overrides": overrides, "error": f"no {RESULT_FILE} written"}
    return {
        "job": job_dir.name,
        "status": result.get("status", "completed"),
        "overrides": " ".join(result.get("overrides", [])),
        "metric": result.get("optimized_metric"),
        "best_value": result.get("best_value"),
        "best_checkpoint": result.get("best_checkpoint"),
        "error": result.get("error"),
        "run_dir": str(job_dir),
        "mode": result.get("mode"),
    }


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completed jobs best first (by their metric's mode), then those without a value, then failed ones."""
    maximise = next((row["mode"] for row in rows if row["mode"]), "max") == "max"

    def key(row: dict[str, Any]) -> tuple:
        value = row["best_value"]
        rank = 0 if row["status"] == "completed" and value is not None else 1
        rank += 1 if row["status"] != "completed" else 0
        return rank, 0.0 if value is None else (-value if maximise else value), row["job"]

    return sorted(rows, key=key)


class SweepSummaryCallback(Callback):
    """Collect every job of the sweep into `<sweep dir>/sweep_summary.csv`: status (`completed`, `failed`,
    `no result`), overrides, metric, best value and checkpoint, and the error line of failed jobs."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = (
            [d for d in sweep_dir.iterdir() if (d / RESULT_FILE).is_file() or (d / ".hydra").is_dir()]
            if sweep_dir.is_dir()
            else []
        )
        if not jobs:
            log.warning("no job folders under %s: no sweep summary written", sweep_dir)
            return
        rows = sort_rows([job_row(job) for job in jobs])
        path = sweep_dir / SUMMARY_FILE
        with atomic_output(path) as partial, open(partial, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        log.info("sweep summary: %s", path)
        print(path.resolve())
        failed = [row for row in rows if row["status"] != "completed"]
        if failed:
            first = failed[0]
            more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
            raise CommandFailed(
                f"{len(failed)} of {len(rows)} sweep jobs failed (job {first['job']}: {first['error']}"
                f"{more}); every job is listed in {path.resolve()}"
            )
