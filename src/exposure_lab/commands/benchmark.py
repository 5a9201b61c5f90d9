"""`exposure-lab benchmark models=[...] data=<name>` (one test set) or `datasets=[<name>,...]` (the models ×
data sets matrix): tables, per-EV breakdown, plots and report.html."""

import hydra
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from exposure_lab.callbacks.logged_images import log_images
from exposure_lab.checkpoints import load_model, load_task
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.matrix import score_datasets, write_matrix
from exposure_lab.evaluation.matrix_report import matrix_report
from exposure_lab.evaluation.report import loggable_images, write_report
from exposure_lab.runs import check_tiles, instantiate_all, register_resolvers, run_dir, save_resolved_config


def data_configs(cfg: DictConfig) -> dict[str, DictConfig]:
    """label → resolved data config: each `datasets` entry (a conf/data option) merged with its
    `data_options.<name>`, or the one `data` config when `datasets` is empty."""
    if not cfg.datasets:
        return {str(cfg.data.name): cfg.data}
    unknown = sorted(set(cfg.data_options) - set(cfg.datasets))
    if unknown:
        raise ExposureLabError(
            f"benchmark: data_options for {unknown}, which are not in datasets={list(cfg.datasets)}"
        )
    own = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("data")]
    configs = {}
    for name in cfg.datasets:
        composed = compose(config_name="benchmark", overrides=[*own, f"data={name}"]).data
        merged = OmegaConf.merge(composed, cfg.data_options.get(name) or {})
        configs[str(name)] = OmegaConf.create(OmegaConf.to_container(merged, resolve=True))
    return configs


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="benchmark")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    if not cfg.models:
        raise ExposureLabError("benchmark needs models=[<checkpoint or model name>, ...]")
    check_tiles(cfg.tile_size, cfg.tile_overlap)
    out_dir = run_dir()
    save_resolved_config(cfg, out_dir)
    tasks = [load_model(str(spec), cfg.get("model")) for spec in cfg.models]  # +model.<key>=<value>
    configs = data_configs(cfg)
    matrix = score_datasets(tasks, configs, cfg, out_dir)
    table = write_matrix(matrix, out_dir)
    for scores in matrix.sets:
        set_dir = out_dir / ("" if len(configs) == 1 else scores.label)
        for table_file in ("results.md", "results_by_expert.md", "protocols.md"):  # when written
            if (set_dir / table_file).is_file():
                print((set_dir / table_file).read_text())
    if len(configs) > 1:
        print(table)
    assessor = load_task(cfg.no_reference.assessor_ckpt)[0] if cfg.no_reference.assessor_ckpt else None
    report = matrix_report(matrix, tasks, configs, cfg, assessor)
    write_report(report, out_dir / "report.html")
    log_images(instantiate_all(cfg.get("logger")), loggable_images(report))
    print(out_dir)


register_resolvers()

if __name__ == "__main__":
    main()
