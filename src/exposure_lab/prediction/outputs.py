"""Output-side safety of the commands that write next to the user's files: never into the input folder,
never two results under one name, and every bad input of a folder run reported after the good ones."""

from collections.abc import Iterable
from pathlib import Path

from exposure_lab.errors import ExposureLabError, ImageReadError

ON_ERROR = ("continue", "stop")


class UnreadableImages(ImageReadError):
    """Some images of a folder run could not be read: one line per file. `written` holds what the run wrote
    for the others."""

    def __init__(self, problems: list[str], written: list[Path]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.written = written


def check_output_folder(output: Path, inputs: Iterable[Path]) -> None:
    """One-line error when `output` is an existing file, or the folder of one of `inputs` (results would
    overwrite inputs, and a later run would read its own outputs as inputs)."""
    if output.exists() and not output.is_dir():
        raise ExposureLabError(f"{output}: output must be a folder, but a file of that name exists")
    folders = {path.parent.resolve() for path in inputs}
    if output.resolve() in folders:
        raise ExposureLabError(
            f"{output}: output folder is the folder of the inputs; choose another so no input is overwritten"
        )


def check_distinct(outputs: dict[Path, str]) -> None:
    """One-line error when two inputs would write one output: `outputs` maps each input to the name of what
    it writes (e.g. `a.jpg` and `a.png` both → `a_heatmap.png`)."""
    seen: dict[str, Path] = {}
    for source, name in outputs.items():
        if name in seen:
            raise ExposureLabError(
                f"{seen[name]} and {source} would both be written as {name}; rename one of them"
            )
        seen[name] = source


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ExposureLabError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
