"""L5: one thin module per CLI command; each validates its options, makes one library call and prints."""

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from exposure_lab.errors import user_error_of

P = ParamSpec("P")
R = TypeVar("R")


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
