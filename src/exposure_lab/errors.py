"""User-facing errors: the CLI prints their message as one line and exits with status 2."""

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class ExposureLabError(Exception):
    """Caused by the user's input or configuration; the message is a complete one-line explanation."""


class ImageReadError(ExposureLabError):
    """An image file is missing, empty, truncated or cannot be decoded."""


class DataLayoutError(ExposureLabError):
    """A data set folder does not have the expected layout, or inputs and targets do not pair up."""


class WeightsNotFoundError(ExposureLabError):
    """Pretrained weights needed for a reported number are not available offline."""


def exit_on_user_error(function: Callable[P, R]) -> Callable[P, R]:
    """Turn an `ExposureLabError` raised by an entry point (also when Hydra's `instantiate` wrapped it) into
    one `error:` line and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            user_error = user_error_of(exc)
            if user_error is None:
                raise
            print(f"error: {user_error}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper


def user_error_of(exc: BaseException) -> ExposureLabError | None:
    """`exc` or the first `ExposureLabError` in its chain of causes; None when there is none."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ExposureLabError):
            return current
        current = current.__cause__
    return None
