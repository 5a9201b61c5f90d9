"""`exposure-lab benchmark models=[...] data=<name>`: score checkpoints and baselines on one test set."""

import hydra
from omegaconf import DictConfig

from exposure_lab.checkpoints import load_model
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.scoring import benchmark_from_config
from exposure_lab.runs import check_tiles, register_resolvers, run_dir, save_resolved_config


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="benchmark")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    if not cfg.models:
        raise ExposureLabError("benchmark needs models=[<checkpoint or model name>, ...]")
    check_tiles(cfg.tile_size, cfg.tile_overlap)
    out_dir = run_dir()
    save_resolved_config(cfg, out_dir)
    tasks = [load_model(str(spec), cfg.get("model")) for spec in cfg.models]  # +model.<key>=<value>
    datamodule = hydra.utils.instantiate(cfg.data)
    print(benchmark_from_config(tasks, datamodule, cfg, out_dir))
    print(out_dir)


register_resolvers()

if __name__ == "__main__":
    main()
