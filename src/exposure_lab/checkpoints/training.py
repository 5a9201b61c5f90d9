"""Checkpoints given to `train`: `ckpt_path=` resumes a run (epoch, optimizer, schedule, random state),
`init_from=` starts a new run from a checkpoint's weights only (a fresh optimizer and schedule)."""

from collections.abc import Mapping
from pathlib import Path

from torch import nn

from exposure_lab.checkpoints import CHECKPOINT_CONFIG_KEY, load_weights_only
from exposure_lab.errors import ExposureLabError

SHOWN = 6


def training_checkpoint(path: str | Path) -> Path:
    """`path`, checked to be a checkpoint a training run wrote (weights, optimizer, loops); one-line error for
    a missing, truncated or crafted file, for weights without a training state (suggesting `init_from=`)
    and for foreign files (suggesting `exposure-lab import`)."""
    path = Path(path)
    checkpoint = load_weights_only(path)
    if isinstance(checkpoint, dict) and {"state_dict", "optimizer_states", "loops"} <= checkpoint.keys():
        return path
    if isinstance(checkpoint, dict) and CHECKPOINT_CONFIG_KEY in checkpoint:
        raise ExposureLabError(
            f"{path}: holds weights but no training state (epoch, optimizer, schedule), like the checkpoints "
            f"`import` writes; start a run from its weights with init_from={path} instead of ckpt_path="
        )
    raise ExposureLabError(
        f"{path}: not a training checkpoint of exposure_lab; convert released weights with "
        f"`exposure-lab import <model> {path}`, then start from them with init_from=<that checkpoint>"
    )


def load_initial_weights(task: nn.Module, path: str | Path) -> list[str]:
    """Copy the weights of checkpoint `path` (written by `train`, `import` or `export`) into `task`. Every
    tensor of its net must be there with the same shape; the task's other tensors that the file lacks (a
    discriminator, a frozen loss network) stay as built and their names are returned."""
    path = Path(path)
    checkpoint = load_weights_only(path)
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, Mapping):
        raise ExposureLabError(
            f"{path}: no state_dict inside; convert released weights: `exposure-lab import <model> {path}`"
        )
    own = task.state_dict()
    missing = [key for key in own if key.startswith("net.") and key not in state]
    mismatched = [
        f"{key} {tuple(state[key].shape)} vs {tuple(value.shape)}"
        for key, value in own.items()
        if key in state and tuple(state[key].shape) != tuple(value.shape)
    ]
    problems = [
        f"{label} ({len(keys)}): {', '.join(keys[:SHOWN])}{' …' if len(keys) > SHOWN else ''}"
        for label, keys in (("missing", missing), ("wrong shape", mismatched))
        if keys
    ]
    if problems:
        raise ExposureLabError(f"{path}: weights do not fit this model (init_from=): " + "; ".join(problems))
    task.load_state_dict({key: value for key, value in state.items() if key in own}, strict=False)
    return [key for key in own if key not in state]
