"""L5: one thin module per CLI command; each validates its options, makes one library call and prints."""

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

from exposure_lab.errors import user_message

P = ParamSpec("P")
R = TypeVar("R")


def exit_on_user_error(function: Callable[P, R]) -> Callable[P, R]:
    """Turn a user error raised by an entry point (an `ExposureLabError`, also wrapped by Hydra's
    `instantiate` or re-raised by a data-loader worker, or an OSError about the user's files) into `error:`
    lines and exit status 2; any other exception propagates with its traceback."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            message = user_message(exc)
            if message is None:
                raise
            exit_with(message)

    return wrapper


def exit_with(message: str) -> NoReturn:
    """Print each line of `message` as an `error:` line on stderr, then exit with status 2."""
    for line in message.splitlines() or [message]:
        print(f"error: {line}", file=sys.stderr)
    raise SystemExit(2) from None
