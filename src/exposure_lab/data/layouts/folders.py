"""Generic folder layouts: a tree of unpaired images, and two folders of images paired by file stem."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from exposure_lab.data.layouts._common import as_root, images_in
from exposure_lab.data.pairing import pair_by_stem, split_ev_suffix, subset_of_ev
from exposure_lab.data.samples import Sample


def unpaired_samples(root: str | Path, recursive: bool = True) -> list[Sample]:
    """Every image under `root` (in subfolders too when `recursive`; hidden files and folders skipped).

    `name` is the path relative to `root` with "/" separators, `scene` the same path without extension and
    without an Afifi EV suffix (`_N1.5 _N1 _0 _P1 _P1.5`), whose `ev` and `subset` are set when present;
    `target` is None. Sorted by name. Raises DataLayoutError when `root` is missing or holds no images.
    """
    root = as_root(root)
    samples = []
    for path in images_in(root, "unpaired", "images", recursive=recursive):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        base, ev = split_ev_suffix(relative.stem)
        samples.append(
            Sample(
                input=path,
                name=str(relative),
                scene=str(relative.with_name(base)),
                ev=ev,
                subset=subset_of_ev(ev),
            )
        )
    return sorted(samples, key=lambda sample: sample.name)


def paired_folder_samples(input_dir: str | Path, target_dir: str | Path) -> list[Sample]:
    """Inputs of `input_dir` paired with the images of `target_dir` by stem, or by EV-stripped stem.

    `name` is the input file name, `scene` the target's stem, `ev`/`subset` from an Afifi EV suffix of the
    input when present. Sorted by name. Raises DataLayoutError for a missing or empty folder, or inputs
    without a target (see `pairing.pair_by_stem`).
    """
    inputs = images_in(as_root(input_dir), "paired", "input images")
    targets = images_in(as_root(target_dir), "paired", "target images")
    samples = []
    for path, target in pair_by_stem(inputs, targets):
        ev = split_ev_suffix(path.stem)[1]
        samples.append(
            Sample(
                input=path, name=path.name, scene=target.stem, target=target, ev=ev, subset=subset_of_ev(ev)
            )
        )
    return sorted(samples, key=lambda sample: sample.name)
