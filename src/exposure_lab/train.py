"""`exposure-lab train`: fit a task on a data set, test the best checkpoint, optionally compare baselines."""

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from exposure_lab.benchmarking import benchmark
from exposure_lab.checkpoints import build_task, load_model, load_task
from exposure_lab.config import config_dir, register_resolvers
from exposure_lab.errors import ExposureLabError, exit_on_user_error
from exposure_lab.runs import group_choice, instantiate_all, resolved, run_dir, save_resolved_config
from exposure_lab.sweep import RESULT_FILE

log = logging.getLogger(__name__)


def best_checkpoint(trainer: L.Trainer, out_dir: Path) -> Path:
    """The best checkpoint by the monitored metric, or a final one when none was written (fast_dev_run)."""
    callback = trainer.checkpoint_callback
    for candidate in (getattr(callback, "best_model_path", ""), getattr(callback, "last_model_path", "")):
        if candidate:
            return Path(candidate)
    path = out_dir / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(path)
    return path


def fit(cfg: DictConfig) -> dict[str, Any]:
    """Train `cfg.model` on `cfg.data`; returns the run summary written to `result.json`."""
    L.seed_everything(cfg.seed, workers=True)
    out_dir = run_dir()
    save_resolved_config(cfg, out_dir)
    datamodule = hydra.utils.instantiate(cfg.data)
    task = build_task(cfg.model)
    if not task.trainable:
        raise ExposureLabError(
            f"model {group_choice('model')!r} has no trainable parameters; "
            "score it with `exposure-lab benchmark` or run it with `exposure-lab predict`"
        )
    suite = hydra.utils.instantiate(cfg.metrics)
    for metric, reason in suite.unavailable.items():
        log.warning("%s will not be reported: %s", metric, reason)
    task.set_metric_suite(suite)
    task.run_config = {
        "model_name": group_choice("model"),
        "model": resolved(cfg.model),
        "data": resolved(cfg.data),
        "seed": cfg.seed,
        "config": resolved(cfg),
    }
    loggers = instantiate_all(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=instantiate_all(cfg.get("callbacks")), logger=loggers or False
    )
    for logger in loggers:
        logger.log_hyperparams(task.run_config["config"])
    trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    checkpoint = best_checkpoint(trainer, out_dir)
    monitored = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    value = monitored if monitored is not None else trainer.callback_metrics.get(cfg.optimized_metric)
    summary: dict[str, Any] = {
        "overrides": list(HydraConfig.get().overrides.task),
        "optimized_metric": cfg.optimized_metric,
        "mode": cfg.optimized_mode,
        "best_value": None if value is None else float(value),
        "best_checkpoint": str(checkpoint),
        "seed": cfg.seed,
    }
    if cfg.test_after_fit and getattr(datamodule, "test_is_training_data", False):
        log.warning(
            "not testing: the test folders %s are also the training data; score held-out images with "
            "`exposure-lab eval ckpt_path=%s data.input_dir=<dir> data.target_dir=<dir>`",
            datamodule.hparams.input_dir,
            checkpoint,
        )
    elif cfg.test_after_fit and trainer.is_global_zero:
        summary["table"] = test_and_compare(cfg, checkpoint, datamodule, suite, out_dir)
    return summary


def test_and_compare(
    cfg: DictConfig, checkpoint: Path, datamodule: L.LightningDataModule, suite: Any, out_dir: Path
) -> str:
    """Score the checkpoint rebuilt from disk, and the `compare_with` models, on the test split."""
    task, stored = load_task(checkpoint)
    tasks = [(stored["model_name"], task), *(load_model(spec) for spec in cfg.compare_with)]
    return benchmark(tasks, datamodule, suite, out_dir, accelerator=cfg.trainer.accelerator)


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
