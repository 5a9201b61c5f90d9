"""Where the Hydra configs live, and config values as plain Python."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import Container, OmegaConf


def config_dir() -> Path:
    """The `conf/` folder: inside the installed wheel, or at the top of a source checkout."""
    packaged = Path(__file__).parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "conf"


def plain(value: Any) -> Any:
    """Config values as plain JSON-comparable Python: OmegaConf containers resolved, mappings with string
    keys, tuples as lists, Paths as strings, numpy scalars as Python numbers."""
    if isinstance(value, Container):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
