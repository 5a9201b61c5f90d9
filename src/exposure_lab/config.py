"""Where the Hydra configs live, config values as plain Python, and option values checked against the type
hints of what they configure (a word where a number is expected is one clear error, not a traceback from
inside the object that received it)."""

import inspect
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from hydra.utils import get_object
from omegaconf import Container, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from exposure_lab.errors import ConfigError


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


_NUMBERS = (int, float)


def check_option_types(node: Any, key: str) -> None:
    """Raise ConfigError for the first value under `node` (a config whose `_target_` nodes describe objects;
    `key` is its full key, e.g. `model`) that the target's type hints rule out: a string where only numbers
    or booleans are allowed, a non-integral number for an int, or a value outside a Literal."""
    if isinstance(node, DictConfig):
        try:
            node = OmegaConf.to_container(node, resolve=True)
        except OmegaConfBaseException:  # an unresolvable value: OmegaConf reports it where it is used
            return
    if isinstance(node, Mapping):
        if isinstance(node.get("_target_"), str):
            _check_target(node, key)
        for name, value in node.items():
            check_option_types(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            check_option_types(value, f"{key}[{index}]")


def _check_target(node: Mapping[str, Any], key: str) -> None:
    hints = _hints(node["_target_"])
    for name, value in node.items():
        if name.startswith("_") or name not in hints or isinstance(value, Mapping | list):
            continue
        expected = _mismatch(hints[name], value)
        if expected is not None:
            target = node["_target_"].rsplit(".", 1)[-1]
            raise ConfigError(f"{key}.{name}={value!r}: {target} expects {expected}")


def _hints(target: str) -> dict[str, Any]:
    """The type hints of the parameters of `target` (a class's __init__ or a function); {} when they
    cannot be resolved."""
    try:
        obj = get_object(target)
        function = obj.__init__ if inspect.isclass(obj) else obj
        return typing.get_type_hints(function)
    except Exception:  # an unimportable target or unresolvable hints: Hydra reports the former itself
        return {}


def _members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(hint) for m in _members(arg)]
    return [hint]


def _mismatch(hint: Any, value: Any) -> str | None:
    """What `hint` expects when it rules `value` out, else None (also when it cannot tell)."""
    members = _members(hint)
    literals = [arg for m in members if typing.get_origin(m) is typing.Literal for arg in typing.get_args(m)]
    plain = [m for m in members if typing.get_origin(m) is not typing.Literal]
    if value is None:
        return None
    if any(m is Any or m is object or isinstance(m, typing.TypeVar) for m in plain):
        return None
    if literals and not plain:
        return None if value in literals else f"one of {', '.join(map(repr, literals))}"
    classes = [typing.get_origin(m) or m for m in plain]
    classes = [c for c in classes if isinstance(c, type)]
    if len(classes) < len(plain):
        return None
    if isinstance(value, str):
        if any(issubclass(c, str | PurePath | os.PathLike) for c in classes):
            return None
        if any(c is not bool and issubclass(c, _NUMBERS) for c in classes):
            return "a number"
        return "true or false" if bool in classes else None
    if isinstance(value, float) and not value.is_integer() and classes and all(c is int for c in classes):
        return "a whole number"
    return None
