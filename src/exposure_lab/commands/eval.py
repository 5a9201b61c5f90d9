"""`exposure-lab eval ckpt_path=<ckpt> [data=<name>]`: score a checkpoint rebuilt from its stored config."""

import hydra
from omegaconf import DictConfig, OmegaConf

from exposure_lab.checkpoints import load_task
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.scoring import benchmark_from_config
from exposure_lab.runs import check_tiles, register_resolvers, run_dir, save_resolved_config


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    if not cfg.get("ckpt_path"):
        raise ExposureLabError("eval needs ckpt_path=<checkpoint file>")
    check_tiles(cfg.tile_size, cfg.tile_overlap)
    out_dir = run_dir()
    save_resolved_config(cfg, out_dir)
    task, stored = load_task(cfg.ckpt_path, cfg.get("model"))  # +model.<key>=<value> overrides
    if not cfg.get("data") and not stored.get("data"):
        raise ExposureLabError(f"{cfg.ckpt_path}: imported weights carry no data config; pass data=<name>")
    data_cfg = cfg.data if cfg.get("data") else OmegaConf.create(stored["data"])
    datamodule = hydra.utils.instantiate(data_cfg)
    name = stored.get("model_name") or "model"
    print(benchmark_from_config([(name, task)], datamodule, cfg, out_dir))
    print(out_dir)


register_resolvers()

if __name__ == "__main__":
    main()
