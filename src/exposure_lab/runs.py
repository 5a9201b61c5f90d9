"""Run plumbing: the run directory, the resolved config, config resolvers, instantiation of lists, and a
training run (fit, then score the checkpoint rebuilt from disk)."""

import logging
import math
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from exposure_lab.callbacks.checkpointing import AtomicCheckpointIO
from exposure_lab.callbacks.divergence import StopOnDivergence
from exposure_lab.callbacks.resume import ExactResume
from exposure_lab.checkpoints import build_task, load_model, load_task
from exposure_lab.checkpoints.training import load_initial_weights, training_checkpoint
from exposure_lab.config import check_option_types
from exposure_lab.errors import ConfigError, ExposureLabError
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


def require_device(device: str | None, option: str) -> None:
    """One-line ConfigError when `device` (a torch device or a Lightning accelerator name, set by `option`)
    asks for CUDA on a machine without it."""
    if str(device).split(":")[0] in ("cuda", "gpu") and not torch.cuda.is_available():
        raise ConfigError(
            f"{option}={device}: no CUDA device is available here (torch {torch.__version__}); "
            f"use {'trainer=cpu' if option.startswith('trainer') else f'{option}=cpu'}"
        )


def check_tiles(tile_size: Any, tile_overlap: Any) -> None:
    """One-line ConfigError unless `tile_size` is null or a whole number >= 1 and `tile_overlap` a whole
    number with 0 <= tile_overlap < tile_size."""
    if tile_size is not None and (
        not isinstance(tile_size, int) or isinstance(tile_size, bool) or tile_size < 1
    ):
        raise ConfigError(
            f"tile_size={tile_size!r}: expected a whole number of pixels >= 1, or null (no tiles)"
        )
    if not isinstance(tile_overlap, int) or isinstance(tile_overlap, bool) or tile_overlap < 0:
        raise ConfigError(f"tile_overlap={tile_overlap!r}: expected a whole number of pixels >= 0")
    if tile_size is not None and tile_overlap >= tile_size:
        raise ConfigError(
            f"tile_overlap={tile_overlap} must be smaller than tile_size={tile_size} (tiles must advance)"
        )


def finite_or_none(value: Any) -> float | None:
    """`value` as a float, or None when it is missing, NaN or infinite (JSON has no such numbers)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def fit(cfg: DictConfig) -> dict[str, Any]:
    """Train `cfg.model` on `cfg.data`; returns the run summary written to `result.json`.

    `ckpt_path=` resumes a run exactly (see `callbacks.resume`), `init_from=` starts from a checkpoint's
    weights with a fresh optimizer and schedule; a NaN or infinite loss stops the run (TrainingDivergedError).
    """
    L.seed_everything(cfg.seed, workers=True)
    resume, init_from = cfg.get("ckpt_path"), cfg.get("init_from")
    if resume and init_from:
        raise ConfigError("give ckpt_path= (resume a run) or init_from= (start from weights), not both")
    resume = training_checkpoint(resume) if resume else None
    check_option_types(cfg.data, "data")
    check_option_types(cfg.trainer, "trainer")
    require_device(cfg.trainer.get("accelerator"), "trainer.accelerator")
    out_dir = run_dir()
    save_resolved_config(cfg, out_dir)
    datamodule = hydra.utils.instantiate(cfg.data)
    task = build_task(cfg.model)
    if not task.trainable:
        raise ExposureLabError(
            f"model {group_choice('model')!r} has no trainable parameters; "
            "score it with `exposure-lab benchmark` or run it with `exposure-lab predict`"
        )
    if init_from:
        kept = load_initial_weights(task, init_from)
        log.info("weights from %s (%d tensors left as built: %s)", init_from, len(kept), ", ".join(kept[:4]))
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
    callbacks = [*instantiate_all(cfg.get("callbacks")), ExactResume(), StopOnDivergence()]
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    for logger in loggers:
        logger.log_hyperparams(task.run_config["config"])
    trainer.fit(task, datamodule=datamodule, ckpt_path=resume, weights_only=True)

    checkpoint = best_checkpoint(trainer, out_dir)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # The other ranks end here; rank 0 tests alone, and a Trainer it makes must not wait for them.
        torch.distributed.destroy_process_group()
    monitored = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    value = monitored if monitored is not None else trainer.callback_metrics.get(cfg.optimized_metric)
    summary: dict[str, Any] = {
        "overrides": list(HydraConfig.get().overrides.task),
        "optimized_metric": cfg.optimized_metric,
        "mode": cfg.optimized_mode,
        "best_value": finite_or_none(value),
        "best_checkpoint": str(checkpoint),
        "seed": cfg.seed,
        "train_precision": str(trainer.precision),  # the test split is always scored in fp32
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
