"""Helpers shared by the entry points: the run directory, the resolved config, instantiation of lists."""

from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


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
