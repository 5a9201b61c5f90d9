"""Hydra callback that writes `sweep_summary.csv` (one row per job) at the end of a multirun."""

import csv
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)
RESULT_FILE = "result.json"


class SweepSummaryCallback(Callback):
    """Collect every job's `result.json` into `<sweep dir>/sweep_summary.csv`, best job first."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = []
        for result_path in sorted(sweep_dir.glob(f"*/{RESULT_FILE}")):
            result = json.loads(result_path.read_text())
            rows.append(
                {
                    "job": result_path.parent.name,
                    "overrides": " ".join(result.get("overrides", [])),
                    "metric": result.get("optimized_metric"),
                    "best_value": result.get("best_value"),
                    "best_checkpoint": result.get("best_checkpoint"),
                    "run_dir": str(result_path.parent),
                }
            )
        if not rows:
            log.warning("no %s found under %s: no sweep summary written", RESULT_FILE, sweep_dir)
            return
        maximise = result.get("mode", "max") == "max"
        rows.sort(
            key=lambda r: (r["best_value"] is None, -(r["best_value"] or 0) if maximise else r["best_value"])
        )
        path = sweep_dir / "sweep_summary.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        log.info("sweep summary: %s", path)
        print(path.resolve())
