"""Rebuild a task from a checkpoint alone (its stored config), or from a model config name.

Stored `_target_`s are public API: a target that moved is listed in `MOVED_TARGETS`, and checkpoints that
name it (or the old `loss_weights` key of the zero-reference task) load as before.
"""

import difflib
import pickle
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from exposure_lab import __version__
from exposure_lab.config import check_option_types, config_dir
from exposure_lab.errors import ExposureLabError

CHECKPOINT_CONFIG_KEY = "exposure_lab"
MOVED_TARGETS = {
    "exposure_lab.models.wavelet_assessor.wavelet_assessor": "exposure_lab.models.p_ieanet.p_ieanet"
}
RENAMED_KEYS = {"exposure_lab.tasks.zero_reference.ZeroReferenceEnhancement": {"loss_weights": "losses"}}


def upgrade_model_config(node: Any) -> Any:
    """A stored model config (plain containers) with moved targets and renamed keys in today's names."""
    if isinstance(node, list):
        return [upgrade_model_config(item) for item in node]
    if not isinstance(node, dict):
        return node
    target = MOVED_TARGETS.get(node.get("_target_"), node.get("_target_"))
    renamed = RENAMED_KEYS.get(target, {})
    upgraded = {renamed.get(key, key): upgrade_model_config(value) for key, value in node.items()}
    if target is not None:
        upgraded["_target_"] = target
    return upgraded


def load_weights_only(path: str | Path) -> Any:
    """`torch.load(path, weights_only=True)` on the CPU: tensors and plain data only, so a crafted file cannot
    run code. One-line ExposureLabError when the file is missing, truncated, or holds other objects."""
    path = Path(path)
    if not path.is_file():
        raise ExposureLabError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = str(exc).splitlines()
        found = next(
            (line.strip() for line in lines if "Unsupported global" in line), lines[0] if lines else ""
        )
        raise ExposureLabError(
            f"{path}: holds Python objects besides tensors and plain data, so it is not loaded "
            f"(that could run code): {found}"
        ) from exc
    except Exception as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ExposureLabError(
            f"{path}: not a readable checkpoint, truncated or not torch.save'd ({reason})"
        ) from exc


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by exposure_lab (weights_only); clear one-line errors otherwise."""
    path = Path(path)
    checkpoint = load_weights_only(path)
    if not isinstance(checkpoint, dict) or CHECKPOINT_CONFIG_KEY not in checkpoint:
        raise ExposureLabError(
            f"{path}: no exposure_lab config inside; official weights must be converted with "
            "`exposure-lab import <model> <file>` first"
        )
    return checkpoint


def build_task(model_cfg: DictConfig | dict[str, Any]) -> L.LightningModule:
    """Instantiate the LightningModule (with its net) described by a `model` config, after checking its
    option values against the type hints of their targets."""
    check_option_types(model_cfg, "model")
    return hydra.utils.instantiate(model_cfg, _convert_="partial")


def load_task(
    path: str | Path, overrides: DictConfig | dict[str, Any] | None = None
) -> tuple[L.LightningModule, dict[str, Any]]:
    """Task rebuilt from the checkpoint's stored model config, with its weights; also the stored config.

    `overrides` (the command line's `+model.<key>=<value>`, e.g. LMSPEC's `pyramid_scales`) are merged into
    the stored model config first; the returned config holds the merged model config.
    """
    checkpoint = read_checkpoint(path)
    stored = checkpoint[CHECKPOINT_CONFIG_KEY]
    stored = {**stored, "model": upgrade_model_config(stored["model"])}
    if overrides:
        model = OmegaConf.merge(OmegaConf.create(stored["model"]), overrides)
        stored = {**stored, "model": OmegaConf.to_container(model, resolve=True)}
    task = build_task(OmegaConf.create(stored["model"]))
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise ExposureLabError(f"{path}: weights do not fit the stored model config ({exc})") from exc
    task.run_config = stored
    return task, stored


def write_checkpoint(task: L.LightningModule, stored: dict[str, Any], path: str | Path) -> Path:
    """Save `task`'s weights with the config `stored` (at least `model` and `model_name`) in the checkpoint
    format `load_task` reads; written to a temporary file first, so an interrupted write leaves nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(
        {"state_dict": task.state_dict(), CHECKPOINT_CONFIG_KEY: {"version": __version__, **stored}}, partial
    )
    partial.replace(path)
    return path


def compose_model_config(name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The `conf/model/<name>.yaml` config (defaults applied), e.g. a classical baseline; `overrides` are
    Hydra overrides of that config such as `model.net.scale_factor=12`."""
    available = sorted(p.stem for p in (config_dir() / "model").glob("*.yaml"))
    if name not in available:
        close = difflib.get_close_matches(name, available, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ExposureLabError(
            f"unknown model {name!r}{hint} not a checkpoint file nor one of: {', '.join(available)}"
        )
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():  # inside a running Hydra app: reuse its search path
        context = nullcontext()
    else:
        context = initialize_config_dir(config_dir=str(config_dir()), version_base="1.3")
    with context:
        return compose(config_name="model_only", overrides=[f"model={name}", *overrides]).model


def load_model(
    spec: str, overrides: DictConfig | dict[str, Any] | None = None
) -> tuple[str, L.LightningModule]:
    """(display name, task) from a checkpoint path or a model config name; `overrides` (see `load_task`) apply
    to checkpoints only."""
    if spec.endswith(".ckpt") or Path(spec).is_file():
        task, stored = load_task(spec, overrides)
        model_name = stored.get("model_name") or Path(spec).stem
        return f"{model_name} ({Path(spec).name})", task
    return spec, build_task(compose_model_config(spec))
