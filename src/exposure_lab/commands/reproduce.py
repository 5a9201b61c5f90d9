"""`exposure-lab reproduce <experiment> [seeds=[0,1,2]] [ckpt_path=<ckpt>] [data.root=…] [hydra/launcher=…]`
and `exposure-lab reproduce list [data.root=…]`: paper vs ours (see `evaluation/reproduction.py`)."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from exposure_lab.callbacks.logged_images import log_images
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import DataLayoutError, ExposureLabError
from exposure_lab.evaluation.environment import environment
from exposure_lab.evaluation.experiment_status import data_presence, experiment_statuses, status_markdown
from exposure_lab.evaluation.experiments import find_experiment
from exposure_lab.evaluation.report import loggable_images, write_report
from exposure_lab.evaluation.reproduction import reproduce, summary_line, write_reproduction
from exposure_lab.evaluation.reproduction_report import reproduction_report
from exposure_lab.runs import check_tiles, instantiate_all, register_resolvers, run_dir, save_resolved_config

USAGE = "usage: exposure-lab reproduce <experiment>|list [seeds=[0,1,2]] [ckpt_path=<ckpt>] [overrides]"
# keys of conf/reproduce.yaml that configure scoring, not the training runs
OWN_KEYS = (
    "seeds",
    "ckpt_path",
    "weights_dir",
    "accelerator",
    "tile_size",
    "tile_overlap",
    "save_images",
    "no_reference",
    "report",
    "latency",
    "protocols",
    "data_sources",
    "experiment",
    "metrics",
)


def forwarded(task: list[str], hydra_overrides: list[str]) -> list[str]:
    """The overrides that the seeds' training multirun also gets: every task override but OWN_KEYS, and the
    launcher's (`hydra/launcher=…`, `hydra.launcher.*`); never the run or sweep directory."""
    kept = [o for o in task if o.lstrip("+~").split("=")[0].split(".")[0] not in OWN_KEYS]
    return [*kept, *(o for o in hydra_overrides if o.startswith(("hydra/launcher=", "hydra.launcher.")))]


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="reproduce")
@exit_on_user_error
def run(cfg: DictConfig) -> None:
    check_tiles(cfg.tile_size, cfg.tile_overlap)
    overrides = HydraConfig.get().overrides
    out_dir = run_dir()
    save_resolved_config(cfg, out_dir)
    spec = find_experiment(HydraConfig.get().runtime.choices["experiment"])
    present, found = data_presence(cfg.data)
    if not present:
        source = (cfg.get("data_sources") or {}).get(cfg.data.get("name"), {}).get("source", "")
        raise DataLayoutError(f"{spec.name}: {found}" + (f"; get it from {source}" if source else ""))
    datamodule = hydra.utils.instantiate(cfg.data)
    reproduction = reproduce(
        spec, cfg, out_dir, forwarded(list(overrides.task), list(overrides.hydra)), datamodule
    )
    command = ["exposure-lab", "reproduce", spec.name, *overrides.task]
    print(write_reproduction(reproduction, out_dir, command))
    report = reproduction_report(reproduction, cfg, environment(cfg.accelerator), command)
    write_report(report, out_dir / "report.html")
    log_images(instantiate_all(cfg.get("logger")), loggable_images(report))
    print(summary_line(reproduction.cells))
    print(out_dir)


@exit_on_user_error
def main() -> None:
    arguments = sys.argv[1:]
    if not arguments or "=" in arguments[0] or arguments[0].startswith("-"):
        if arguments[:1] in (["--help"], ["-h"]):
            print(USAGE)
            return
        raise ExposureLabError(f"reproduce needs an experiment name or `list`\n{USAGE}")
    name, overrides = arguments[0], arguments[1:]
    if name == "list":
        print(status_markdown(experiment_statuses(overrides)))
        return
    spec = find_experiment(name)
    sys.argv = [sys.argv[0], f"experiment={name}", f"metrics={spec.protocol}", *spec.data, *overrides]
    run()


register_resolvers()

if __name__ == "__main__":
    main()
