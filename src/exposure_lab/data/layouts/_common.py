"""Shared checks of the layout parsers: folders that must exist, image lists, stem matching, error text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from exposure_lab.data.io import IMAGE_EXTENSIONS, list_images
from exposure_lab.errors import DataLayoutError

SPLITS = ("train", "val", "test")
SHOWN = 10
IMAGE_TYPES = "/".join(sorted(IMAGE_EXTENSIONS))


def as_root(root: str | Path) -> Path:
    """`root` as a Path with `~` expanded."""
    return Path(root).expanduser()


def check_split(split: str) -> None:
    """Raise ValueError unless `split` is a canonical split name."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


def shown(names: Sequence[str]) -> str:
    """The first 10 names joined by commas, then "…" when there are more."""
    return ", ".join(names[:SHOWN]) + (", …" if len(names) > SHOWN else "")


def holds(folder: Path) -> str:
    """What `folder` holds, for an error message: "<folder> holds 2 entries: GT_IMAGES/, notes.txt"."""
    names = sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in folder.iterdir()
        if not entry.name.startswith(".")
    )
    if not names:
        return f"{folder} is empty"
    return f"{folder} holds {len(names)} {'entry' if len(names) == 1 else 'entries'}: {shown(names)}"


def nearest_holds(path: Path) -> str:
    """What the nearest existing folder above a missing `path` holds (see `holds`)."""
    parent = path.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    return holds(parent)


def found_instead(path: Path) -> str:
    """What is at a missing folder's place: "a file", or "nothing (<nearest existing folder> holds …)"."""
    return "a file" if path.exists() else f"nothing ({nearest_holds(path)})"


def require_dir(folder: Path, context: str, expected: str = "folder") -> Path:
    """`folder` if it is a directory, else a DataLayoutError saying what its parent holds instead."""
    if not folder.is_dir():
        raise DataLayoutError(f"{context}: expected {expected} {folder}, found {found_instead(folder)}")
    return folder


def first_dir(parent: Path, names: Iterable[str], context: str, expected: str) -> Path:
    """The first of `parent/<name>` that is a directory, else a DataLayoutError naming all that were tried."""
    names = list(names)
    for name in names:
        if (parent / name).is_dir():
            return parent / name
    tried = " or ".join(str(parent / name) for name in names)
    raise DataLayoutError(
        f"{context}: expected {expected} {tried}, found none ({nearest_holds(parent / names[0])})"
    )


def images_in(folder: Path, context: str, what: str, recursive: bool = False) -> list[Path]:
    """The sorted image files of `folder`; a DataLayoutError when it is missing or holds no images."""
    require_dir(folder, context, f"a folder of {what}")
    files = list_images(folder, recursive=recursive)
    if recursive:
        files = [
            path for path in files if not any(part.startswith(".") for part in path.relative_to(folder).parts)
        ]
    if not files:
        raise DataLayoutError(
            f"{context}: expected {what} ({IMAGE_TYPES} files{' in any subfolder' if recursive else ''}) "
            f"in {folder}, found none ({holds(folder)})"
        )
    return files


def index_by_stem(files: Sequence[Path], context: str) -> dict[str, Path]:
    """{stem: path}; a DataLayoutError when several files share a stem (e.g. x.jpg and x.png)."""
    counts = Counter(path.stem for path in files)
    duplicates = sorted(stem for stem, n in counts.items() if n > 1)
    if duplicates:
        raise DataLayoutError(
            f"{context}: {len(duplicates)} file stems occur more than once in {files[0].parent} "
            f"(expected one image per name): {shown(duplicates)}"
        )
    return {path.stem: path for path in files}


def match_by_stem(
    inputs: Sequence[Path],
    targets: Sequence[Path],
    context: str,
    rule: str,
    target_stem: Callable[[str], str | None] = lambda stem: stem,
) -> list[Path]:
    """The target of each input (in input order): the file of `targets` with stem `target_stem(input stem)`.

    `rule` describes the expected target name for the error message, which lists the unmatched inputs (first
    10, then "…") with their count.
    """
    by_stem = index_by_stem(targets, context)
    matched: list[Path] = []
    unmatched: list[str] = []
    for path in inputs:
        stem = target_stem(path.stem)
        target = by_stem.get(stem) if stem is not None else None
        if target is None:
            unmatched.append(path.name)
        else:
            matched.append(target)
    if unmatched:
        raise DataLayoutError(
            f"{context}: {len(unmatched)} of {len(inputs)} input images in {inputs[0].parent} have no "
            f"{rule} in {targets[0].parent}: {shown(unmatched)}"
        )
    return matched
