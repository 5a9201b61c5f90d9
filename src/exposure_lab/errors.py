"""User-facing errors: the commands print their message as one line and exit with status 2."""


class ExposureLabError(Exception):
    """Caused by the user's input or configuration; the message is a complete one-line explanation."""


class ImageReadError(ExposureLabError):
    """An image file is missing, empty, truncated or cannot be decoded."""


class DataLayoutError(ExposureLabError):
    """A data set folder does not have the expected layout, or inputs and targets do not pair up."""


class WeightsNotFoundError(ExposureLabError):
    """Pretrained weights needed for a reported number are not available offline."""


def user_error_of(exc: BaseException) -> ExposureLabError | None:
    """`exc` or the first `ExposureLabError` in its chain of causes; None when there is none."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ExposureLabError):
            return current
        current = current.__cause__
    return None
