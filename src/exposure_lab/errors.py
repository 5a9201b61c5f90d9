"""User-facing errors: the commands print each line of their message as one `error:` line and exit with status
2. Anything else is a bug and keeps its traceback."""

import errno

# OSErrors about the user's files or machine (permissions, a full or read-only disk, a path that is a file or
# is missing), not about the program: said in one line naming the path.
ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENOENT,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    }
)
_WORKER_TRACEBACK = "\nOriginal Traceback (most recent call last):"


class ExposureLabError(Exception):
    """Caused by the user's input or configuration; the message is a complete one-line explanation (one line
    per problem when there are several)."""


class ImageReadError(ExposureLabError):
    """An image file is missing, empty, truncated or cannot be decoded."""


class DataLayoutError(ExposureLabError):
    """A data set folder does not have the expected layout, or inputs and targets do not pair up."""


class WeightsNotFoundError(ExposureLabError):
    """Pretrained weights needed for a reported number are not available offline."""


class ConfigError(ExposureLabError):
    """An option has a value it cannot take, or names something that does not exist."""


class TrainingDivergedError(ExposureLabError):
    """The training loss stopped being a finite number."""


class CommandFailed(BaseException):
    """Raised where an `Exception` would be swallowed (Hydra's callbacks catch them): the command ends with
    its message as `error:` line(s) and exit status 2."""


def user_error_of(exc: BaseException) -> ExposureLabError | None:
    """`exc` or the first `ExposureLabError` in its chain of causes; None when there is none."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ExposureLabError):
            return current
        current = current.__cause__
    return None


def user_message(exc: BaseException) -> str | None:
    """What to tell the user about `exc` when they can act on it: the message of the first `ExposureLabError`
    in its chain of causes (also when a data-loader worker raised it: Torch re-raises it prefixed with the
    worker's traceback, which is dropped), or `<path>: <reason>` of an OSError about their files or machine;
    None for anything else."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ExposureLabError | CommandFailed):
            return _without_worker_traceback(current)
        if isinstance(current, OSError) and current.errno in ENVIRONMENT_ERRNOS:
            return os_error_message(current)
        current = current.__cause__
    return None


def os_error_message(exc: OSError) -> str:
    """`<path>: <reason>` of an OSError (`<path> → <second path>` for a rename), e.g. `out/a.png: Permission
    denied`."""
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    reason = exc.strerror or str(exc)
    return f"{' → '.join(paths)}: {reason}" if paths else reason


def _without_worker_traceback(exc: BaseException) -> str:
    # torch.utils.data re-raises a worker's exception as `type(exc)("Caught <type> in DataLoader worker
    # process N.\nOriginal Traceback ...\n<module>.<type>: <message>")`: keep the original message.
    text = str(exc)
    if _WORKER_TRACEBACK not in text:
        return text
    qualified = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    return text.rsplit(qualified, 1)[-1].strip() if qualified in text else text.splitlines()[0]
