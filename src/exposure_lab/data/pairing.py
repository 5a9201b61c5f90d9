"""Pair input images with targets by file stem, and parse the exposure-value (EV) suffixes of Afifi et al."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from exposure_lab.errors import DataLayoutError

EV_SUFFIXES: dict[str, float] = {"N1.5": -1.5, "N1": -1.0, "0": 0.0, "P1": 1.0, "P1.5": 1.5}
EV_TO_SUFFIX: dict[float, str] = {ev: suffix for suffix, ev in EV_SUFFIXES.items()}


def split_ev_suffix(stem: str) -> tuple[str, float | None]:
    """`a0001-jmac_DSC1459_N1.5` → (`a0001-jmac_DSC1459`, -1.5); a stem without EV suffix → (stem, None)."""
    base, sep, suffix = stem.rpartition("_")
    if sep and base and suffix in EV_SUFFIXES:
        return base, EV_SUFFIXES[suffix]
    return stem, None


def subset_of_ev(ev: float | None) -> str:
    """Subset name: "under" for ev < 0, "over" for ev >= 0 (as Afifi et al.), "" for None or NaN."""
    if ev is None or ev != ev:
        return ""
    return "under" if ev < 0 else "over"


def pair_by_stem(inputs: list[Path], targets: list[Path]) -> list[tuple[Path, Path]]:
    """Match each input to the target with the same stem, else to the target named by its EV-stripped stem.

    Returns (input, target) pairs in the order of `inputs`. Several inputs may share one target (one scene
    rendered at several exposures). Raises DataLayoutError when target stems are ambiguous or when inputs
    have no target (listing the first 10 unmatched names and their count).
    """
    counts = Counter(Path(t).stem for t in targets)
    duplicates = sorted(stem for stem, n in counts.items() if n > 1)
    if duplicates:
        shown = ", ".join(duplicates[:10])
        raise DataLayoutError(
            f"{Path(targets[0]).parent}: several target files share a stem ({len(duplicates)}): {shown}"
        )
    by_stem = {Path(t).stem: Path(t) for t in targets}
    pairs: list[tuple[Path, Path]] = []
    unmatched: list[str] = []
    for path in map(Path, inputs):
        target = by_stem.get(path.stem) or by_stem.get(split_ev_suffix(path.stem)[0])
        if target is None:
            unmatched.append(path.name)
        else:
            pairs.append((path, target))
    if unmatched:
        where = Path(targets[0]).parent if targets else "the (empty) target list"
        shown = ", ".join(unmatched[:10]) + (", …" if len(unmatched) > 10 else "")
        raise DataLayoutError(
            f"{len(unmatched)} of {len(inputs)} input images in {Path(inputs[0]).parent} have no target with "
            f"the same name (or the name without _N1.5/_N1/_0/_P1/_P1.5) in {where}: {shown}"
        )
    return pairs
