"""IEA40K (He et al., NeurIPS 2024): images with per-pixel exposure residual maps, listed by split CSVs.

Layout of the release: `<root>/IEA_img/<img_id>` (PNG), `<root>/label/exposure_condition/<img_id stem>.npy`
(signed residual stored in [−255, 255]; +under, −over) and split CSVs with the columns `img_id,ref_id,score`
(`train_256.csv`, `train_256_2ev.csv`, `valid_256_2ev.csv`). Image ids carry this set's own exposure
suffixes `_N1.._N4` (under) and `_P0.._P4` (over), e.g. `a0001-jmac_DSC1459_N1.png`.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np

from exposure_lab.data.layouts._common import as_root, require_dir, shown
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError, ImageReadError

IEA40K_COLUMNS: tuple[str, ...] = ("img_id", "ref_id", "score")
IEA40K_EV_SUFFIXES: dict[str, float] = {
    **{f"N{k}": -float(k) for k in range(1, 5)},
    **{f"P{k}": float(k) for k in range(5)},
}
IEA40K_IMAGE_FOLDER = "IEA_img"
IEA40K_LABEL_FOLDER = "label/exposure_condition"
IEA40K_LABEL_SCALE = 255.0


def iea40k_ev(stem: str) -> float | None:
    """EV of an IEA40K image stem: `..._N2` → −2, `..._P0` → 0; None without one of this set's suffixes."""
    base, sep, suffix = stem.rpartition("_")
    return IEA40K_EV_SUFFIXES.get(suffix) if sep and base else None


def read_iea40k_csv(csv_path: str | Path) -> list[tuple[str, str, float]]:
    """The (img_id, ref_id, score) rows of an IEA40K split CSV, after checking its header and values.

    Raises DataLayoutError naming the file for a missing file, a header other than img_id,ref_id,score, a
    malformed row (with its line number), duplicate or suffix-less image ids, or no rows at all.
    """
    csv_path = as_root(csv_path)
    if not csv_path.is_file():
        raise DataLayoutError(f"iea40k: expected the split list CSV {csv_path}, found nothing there")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [column.strip() for column in next(reader, [])]
        if tuple(header) != IEA40K_COLUMNS:
            found = ",".join(header) if header else "an empty file"
            raise DataLayoutError(
                f"{csv_path}: expected the header {','.join(IEA40K_COLUMNS)}, found {found}"
            )
        rows: list[tuple[str, str, float]] = []
        for fields in reader:
            if not fields:
                continue
            fields = [value.strip() for value in fields]
            score = _score(fields[2]) if len(fields) == 3 and fields[0] and fields[1] else None
            if score is None:
                raise DataLayoutError(
                    f"{csv_path} line {reader.line_num}: expected img_id,ref_id,<number>, "
                    f"found {','.join(fields)}"
                )
            rows.append((fields[0], fields[1], score))
    if not rows:
        raise DataLayoutError(
            f"{csv_path}: expected rows of img_id,ref_id,score after the header, found none"
        )
    counts = Counter(img_id for img_id, _, _ in rows)
    duplicates = sorted(img_id for img_id, n in counts.items() if n > 1)
    if duplicates:
        raise DataLayoutError(
            f"{csv_path}: {len(duplicates)} img_id values occur more than once: {shown(duplicates)}"
        )
    no_ev = [img_id for img_id, _, _ in rows if iea40k_ev(Path(img_id).stem) is None]
    if no_ev:
        raise DataLayoutError(
            f"{csv_path}: {len(no_ev)} of {len(rows)} img_id values lack an exposure suffix "
            f"(_N1.._N4 or _P0.._P4 before the extension): {shown(no_ev)}"
        )
    return rows


def iea40k_samples(root: str | Path, csv_path: str | Path) -> list[Sample]:
    """The samples listed by `csv_path` (relative paths resolve against `root`), sorted by name.

    `input` is `IEA_img/<img_id>`, `label` the residual map `label/exposure_condition/<stem>.npy` (read it
    with `load_iea40k_label`), `name` the img_id, `scene` the ref_id's stem, `ev` from the suffix (N1..N4 →
    −1..−4, P0..P4 → 0..4), `subset` "under" for N and "over" for P (P0 counts as over), `score` the
    holistic score; `target` is None. Raises DataLayoutError for a bad CSV (see `read_iea40k_csv`), a missing
    folder, or listed images or labels that are missing (listed by name, with their count).
    """
    root = as_root(root)
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_absolute():
        csv_path = root / csv_path
    rows = read_iea40k_csv(csv_path)
    image_dir = require_dir(root / IEA40K_IMAGE_FOLDER, "iea40k", "the image folder")
    label_dir = require_dir(root / IEA40K_LABEL_FOLDER, "iea40k", "the label folder")
    images, labels = set(os.listdir(image_dir)), set(os.listdir(label_dir))
    missing = [img_id for img_id, _, _ in rows if img_id not in images]
    if missing:
        raise DataLayoutError(
            f"iea40k: {len(missing)} of {len(rows)} images listed in {csv_path} are missing from "
            f"{image_dir}: {shown(missing)}"
        )
    unlabelled = [img_id for img_id, _, _ in rows if f"{Path(img_id).stem}.npy" not in labels]
    if unlabelled:
        raise DataLayoutError(
            f"iea40k: {len(unlabelled)} of {len(rows)} images listed in {csv_path} have no label "
            f"<stem>.npy in {label_dir}: {shown(unlabelled)}"
        )
    samples = []
    for img_id, ref_id, score in rows:
        ev = iea40k_ev(Path(img_id).stem)
        samples.append(
            Sample(
                input=image_dir / img_id,
                name=img_id,
                scene=Path(ref_id).stem,
                ev=ev,
                subset="under" if ev is not None and ev < 0 else "over",
                label=label_dir / f"{Path(img_id).stem}.npy",
                score=score,
            )
        )
    return sorted(samples, key=lambda sample: sample.name)


def load_iea40k_label(path: str | Path) -> np.ndarray:
    """An IEA40K residual map as float32 (H, W) in [−1, 1]: the stored values divided by 255 (as the
    released loader does); +1 = under-exposed, −1 = over-exposed, 0 = ideal.

    Raises ImageReadError naming the file when it is missing or unreadable, or is not a 2-D numeric array.
    """
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise ImageReadError(f"{path}: cannot read IEA40K label (expected a .npy array): {reason}") from exc
    if not isinstance(array, np.ndarray):
        raise ImageReadError(f"{path}: expected a single .npy array (H, W), found an .npz archive")
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ImageReadError(
            f"{path}: expected a 2-D (H, W) numeric exposure residual map, found {array.dtype} of shape "
            f"{tuple(array.shape)}"
        )
    return array.astype(np.float32) / np.float32(IEA40K_LABEL_SCALE)


def _score(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
