"""`exposure-lab train`: fit a task on a data set, test the best checkpoint, optionally compare baselines.

In a sweep (`-m`) a failing job does not stop the others: its `result.json` records the failure and its
error line, it returns NaN as the objective (Optuna marks that trial failed), and the sweep summary lists it.
"""

import json
import logging
import math
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from exposure_lab.commands import exit_with
from exposure_lab.config import config_dir
from exposure_lab.data.io import atomic_output
from exposure_lab.errors import user_message
from exposure_lab.runs import fit, register_resolvers, run_dir
from exposure_lab.sweep import RESULT_FILE

log = logging.getLogger(__name__)


def write_result(out_dir: Path, result: dict[str, Any]) -> None:
    """`result.json` (valid JSON: a missing or non-finite value is null), written atomically."""
    with atomic_output(out_dir / RESULT_FILE) as path:
        path.write_text(json.dumps(result, indent=2, allow_nan=False))


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        summary = fit(cfg)
    except Exception as exc:
        message = user_message(exc)
        if not in_sweep:
            if message is None:
                raise
            exit_with(message)
        if message is None:
            log.exception("job failed")
        else:
            log.error("job failed: %s", message)
        overrides = list(HydraConfig.get().overrides.task)
        error = message or f"{type(exc).__name__}: {exc}".splitlines()[0]
        write_result(run_dir(), {"status": "failed", "error": error, "overrides": overrides})
        return math.nan
    if rank_zero_only.rank != 0:
        return summary["best_value"]
    out_dir = run_dir()
    write_result(out_dir, {"status": "completed", **{k: v for k, v in summary.items() if k != "table"}})
    if "table" in summary:
        print(summary["table"])
    print(f"best checkpoint: {summary['best_checkpoint']}")
    print(out_dir)
    return summary["best_value"]


register_resolvers()

if __name__ == "__main__":
    main()
