"""Run plumbing: the run directory, the resolved config, config resolvers, instantiation of lists, and a
training run (fit, then score the checkpoint rebuilt from disk)."""

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from exposure_lab.checkpoints import build_task, load_model, load_task
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.scoring import benchmark
from exposure_lab.metrics import higher_is_better

log = logging.getLogger(__name__)


def metric_mode(metric_key: str) -> str:
    """'max' or 'min' for a logged key such as `val/psnr`, from the metric's direction."""
    return "max" if higher_is_better(metric_key) else "min"


def register_resolvers() -> None:
    """Register `${metric_mode:val/psnr}`; safe to call more than once."""
    OmegaConf.register_new_resolver("metric_mode", metric_mode, replace=True)


def run_dir() -> Path:
    """The current Hydra run (or multirun job) directory."""
    return Path(HydraConfig.get().runtime.output_dir)


def group_choice(group: str) -> str | None:
    """Which option of a config group this run uses, e.g. `model` → `unet`."""
    return HydraConfig.get().runtime.choices.get(group)


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain containers with every interpolation resolved."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def save_resolved_config(cfg: DictConfig, directory: Path) -> Path:
    """Write `config_resolved.yaml` (all interpolations applied) into `directory`."""
    path = directory / "config_resolved.yaml"
    OmegaConf.save(OmegaConf.create(resolved(cfg)), path)
    return path


def instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every non-null entry of a `name → config` mapping (callbacks, loggers)."""
    if not group:
        return []
    return [
        hydra.utils.instantiate(node) for node in group.values() if node is not None and "_target_" in node
    ]


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
