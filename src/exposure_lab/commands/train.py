"""`exposure-lab train`: fit a task on a data set, test the best checkpoint, optionally compare baselines."""

import json

import hydra
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.runs import fit, register_resolvers, run_dir
from exposure_lab.sweep import RESULT_FILE


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> float | None:
    summary = fit(cfg)
    if rank_zero_only.rank != 0:
        return summary["best_value"]
    out_dir = run_dir()
    (out_dir / RESULT_FILE).write_text(
        json.dumps({k: v for k, v in summary.items() if k != "table"}, indent=2)
    )
    if "table" in summary:
        print(summary["table"])
    print(f"best checkpoint: {summary['best_checkpoint']}")
    print(out_dir)
    return summary["best_value"]


register_resolvers()

if __name__ == "__main__":
    main()
