"""Official released checkpoints: read a release file and convert it onto the net of a model config.

The net of `conf/model/<model>.yaml` (or `<model>_release.yaml` where the release is a network of its own,
e.g. P-IEANet's simplified released code) maps the official key layout onto its own with its
`convert_official_state_dict` method; this module reads the file, checks the result key by key and shape by
shape, and writes the checkpoint.
"""

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.checkpoints.releases import verify_release
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError

WRAPPER_KEYS = ("state_dict", "model", "params_ema", "params", "net")
SHOWN_KEYS = 8


def release_config_name(model: str) -> str:
    """`<model>_release` when that model config exists (the released network differs from the paper's),
    else `model`."""
    release = f"{model}_release"
    return release if (config_dir() / "model" / f"{release}.yaml").is_file() else model


def read_official_state_dict(source: Path) -> dict[str, Tensor]:
    """The tensors of a released .pth: unwrapped from a `state_dict`/`model`/`params(_ema)`/`net` entry and
    stripped of DataParallel's `module.` prefix."""
    if not source.is_file():
        raise ExposureLabError(f"{source}: official checkpoint not found")
    try:
        loaded = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ExposureLabError(
            f"{source}: not a readable PyTorch file ({type(exc).__name__}: {exc})"
        ) from exc
    while isinstance(loaded, Mapping) and not any(isinstance(v, Tensor) for v in loaded.values()):
        wrapper = next((key for key in WRAPPER_KEYS if isinstance(loaded.get(key), Mapping)), None)
        if wrapper is None:
            raise ExposureLabError(
                f"{source}: no tensors and no state_dict entry (keys: {sorted(loaded)[:10]})"
            )
        loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping):
        raise ExposureLabError(f"{source}: holds a {type(loaded).__name__}, not a state dict")
    tensors = {key: value for key, value in loaded.items() if isinstance(value, Tensor)}
    if all(key.startswith("module.") for key in tensors):
        tensors = {key.removeprefix("module."): value for key, value in tensors.items()}
    return tensors


def _named(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else "")


def check_state_dict(converted: Mapping[str, Tensor], expected: Mapping[str, Tensor], source: Path) -> None:
    """Raise one error naming the missing keys, unexpected keys and shape mismatches of `converted`."""
    missing = [key for key in expected if key not in converted]
    unexpected = [key for key in converted if key not in expected]
    mismatched = [
        f"{key} {tuple(converted[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in converted and converted[key].shape != value.shape
    ]
    problems = [
        f"{label} ({len(keys)}): {_named(keys)}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
        if keys
    ]
    if problems:
        raise ExposureLabError(f"{source}: weights do not fit the model: " + "; ".join(problems))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_official(
    model: str,
    source: str | Path,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    verify: bool = True,
) -> Path:
    """Convert the official weights `source` for `conf/model/<model>.yaml` (its `_release` sibling when there
    is one; with `overrides` of its keys, e.g. `net.scale_factor=12`) into the exposure_lab checkpoint `out`
    (default `<model>_official.ckpt`). A file named as a known release of `model` must hash to it unless
    `verify` is False (see `checkpoints.releases`)."""
    source = Path(source)
    config_name = release_config_name(model)
    out = Path(out) if out else Path(f"{model}_official.ckpt")
    if out.exists() and not overwrite:
        raise ExposureLabError(f"{out}: already exists; choose another out= or pass overwrite=true")
    official = read_official_state_dict(source)
    sha256 = sha256_of(source)
    release = verify_release(model, source, sha256) if verify else None
    model_cfg = compose_model_config(config_name, [f"model.{o.removeprefix('model.')}" for o in overrides])
    task = build_task(model_cfg)
    net = task.net
    convert = getattr(net, "convert_official_state_dict", None)
    if convert is None:
        raise ExposureLabError(
            f"model {config_name!r} ({type(net).__name__}) has no converter for official weights"
        )
    converted = convert(official)
    expected = net.state_dict()
    check_state_dict(converted, expected, source)
    net.load_state_dict(converted)
    stored: dict[str, Any] = {
        "model_name": config_name,
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "imported_from": {
            "path": str(source.resolve()),
            "sha256": sha256,
            "release": None if release is None else release.source,
            "tensors": len(official),
        },
    }
    return write_checkpoint(task, stored, out)
