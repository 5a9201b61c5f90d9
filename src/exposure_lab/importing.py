"""`exposure-lab import <model> <official .pth> [out=<ckpt>] [overwrite=true] [net.<arg>=<value> ...]`.

Converts a released checkpoint of a supported method into an exposure_lab checkpoint that `eval`, `predict`
and `benchmark` accept as `ckpt_path=`. The net of `conf/model/<model>.yaml` maps the official key layout onto
its own with its `convert_official_state_dict` method; this module reads the file, checks the result key by
key and shape by shape, and writes the checkpoint.
"""

import hashlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.errors import ExposureLabError, exit_on_user_error

USAGE = (
    "usage: exposure-lab import <model> <official .pth> [out=<ckpt>] [overwrite=true] [net.<arg>=<value> ...]"
)
WRAPPER_KEYS = ("state_dict", "model", "params_ema", "params", "net")
SHOWN_KEYS = 8


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
) -> Path:
    """Convert the official weights `source` for `conf/model/<model>.yaml` (with `overrides` of its keys, e.g.
    `net.scale_factor=12`) into the exposure_lab checkpoint `out` (default `<model>_official.ckpt`)."""
    source = Path(source)
    out = Path(out) if out else Path(f"{model}_official.ckpt")
    if out.exists() and not overwrite:
        raise ExposureLabError(f"{out}: already exists; choose another out= or pass overwrite=true")
    official = read_official_state_dict(source)
    model_cfg = compose_model_config(model, [f"model.{o.removeprefix('model.')}" for o in overrides])
    task = build_task(model_cfg)
    net = task.net
    convert = getattr(net, "convert_official_state_dict", None)
    if convert is None:
        raise ExposureLabError(
            f"model {model!r} ({type(net).__name__}) has no converter for official weights"
        )
    converted = convert(official)
    expected = net.state_dict()
    check_state_dict(converted, expected, source)
    net.load_state_dict(converted)
    stored: dict[str, Any] = {
        "model_name": model,
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "imported_from": {
            "path": str(source.resolve()),
            "sha256": sha256_of(source),
            "tensors": len(official),
        },
    }
    return write_checkpoint(task, stored, out)


def parse_arguments(args: Sequence[str]) -> dict[str, Any]:
    """`<model> <source> [out=…] [overwrite=true] [overrides…]` → keyword arguments of `import_official`."""
    positional = [a for a in args if "=" not in a]
    if len(positional) != 2:
        raise ExposureLabError(f"import needs a model name and an official checkpoint file\n{USAGE}")
    options = dict(a.split("=", 1) for a in args if a.startswith(("out=", "overwrite=")))
    overwrite = options.get("overwrite", "false").lower()
    if overwrite not in ("true", "false"):
        raise ExposureLabError(f"overwrite must be true or false, got {overwrite!r}")
    overrides = [a for a in args if "=" in a and not a.startswith(("out=", "overwrite="))]
    model, source = positional
    return {
        "model": model,
        "source": Path(source),
        "out": options.get("out"),
        "overrides": overrides,
        "overwrite": overwrite == "true",
    }


@exit_on_user_error
def main() -> None:
    arguments = parse_arguments(sys.argv[1:])
    path = import_official(**arguments)
    stored = torch.load(path, map_location="cpu", weights_only=True)
    net_tensors = {k: v for k, v in stored["state_dict"].items() if k.startswith("net.")}
    print(
        f"imported {arguments['source']} as model {arguments['model']!r}: {len(net_tensors)} tensors, "
        f"{sum(v.numel() for v in net_tensors.values()):,} values"
    )
    print(f"sha256 {stored['exposure_lab']['imported_from']['sha256']}")
    print(path.resolve())


if __name__ == "__main__":
    main()
