"""An exposure assessor's outputs for image files: residual maps, heatmaps, a colour bar and per-image
statistics (`exposure-lab assess`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from exposure_lab.data.io import atomic_output, image_inputs, read_image, write_array
from exposure_lab.data.pairing import split_ev_suffix
from exposure_lab.errors import ExposureLabError, ImageReadError
from exposure_lab.prediction.outputs import (
    UnreadableImages,
    check_distinct,
    check_on_error,
    check_output_folder,
)

MAP_FORMATS = ("png", "npy")
COLORMAP = "bwr"  # blue (0,0,1) → white → red (1,0,0), the official heat-map colours, on −R
SCORE_COLUMNS = (
    "name",
    "ev",
    "mean_residual",
    "mean_abs_residual",
    "under_fraction",
    "over_fraction",
    "score",
)


def heatmap(residual: Tensor) -> np.ndarray:
    """(1,H,W) or (H,W) residual (+ under / − over) → uint8 RGB (H,W,3) with fixed limits [−1, 1]: linear
    blue (+1, under-exposed) → white (0, ideal) → red (−1, over-exposed), matplotlib's `bwr` on −R."""
    over = (-residual.detach().float().cpu().reshape(residual.shape[-2:])).clamp(-1, 1)
    red = torch.where(over >= 0, torch.ones_like(over), 1 + over)
    blue = torch.where(over <= 0, torch.ones_like(over), 1 - over)
    rgb = torch.stack([red, 1 - over.abs(), blue], -1)
    return (rgb * 255.0).round().to(torch.uint8).numpy()


def write_colour_bar(path: Path) -> Path:
    """A PNG colour bar of the heatmap scale: −1 over-exposed (red) … 0 ideal … +1 under-exposed (blue)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.colors import Normalize

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(1.6, 4.0), dpi=100)
    mappable = plt.cm.ScalarMappable(norm=Normalize(-1.0, 1.0), cmap=f"{COLORMAP}_r")
    bar = figure.colorbar(mappable, cax=axis)
    bar.set_ticks([-1.0, -0.5, 0.0, 0.5, 1.0])
    bar.set_ticklabels(["−1 over", "−0.5", "0 ideal", "+0.5", "+1 under"])
    bar.set_label("exposure residual")
    with atomic_output(path) as partial:
        figure.savefig(partial, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def write_residual(path: Path, residual: Tensor) -> Path:
    """Save a (1,H,W) residual map as `path`: `.png` (16-bit grey, value = round((R + 1) / 2 · 65535)) or
    `.npy` (float32 (H,W)); returns the path."""
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in MAP_FORMATS:
        raise ExposureLabError(f"{path}: residual maps are written as .png or .npy, not {path.suffix!r}")
    values = residual.detach().float().cpu().reshape(residual.shape[-2:]).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "npy":
        with atomic_output(path) as partial, partial.open("wb") as handle:
            np.save(handle, values.astype(np.float32))
    else:
        encoded = np.round((np.clip(values, -1.0, 1.0) + 1.0) / 2.0 * 65535.0).astype(np.uint16)
        with atomic_output(path) as partial:
            Image.fromarray(encoded).save(partial, format="PNG")
    return path


def read_residual_png(path: Path) -> np.ndarray:
    """The float32 (H,W) residual of a map written by `write_residual(..., "png")`."""
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.float32) / 65535.0 * 2.0 - 1.0


def exposure_statistics(residual: Tensor, threshold: float) -> dict[str, float]:
    """Per-image statistics of a (1,H,W) residual: signed and absolute mean, the shares of under-exposed
    (R > threshold) and over-exposed (R < −threshold) pixels, and `score` = 10·(1 − mean|R|)."""
    values = residual.detach().float()
    mean_abs = float(values.abs().mean())
    return {
        "mean_residual": float(values.mean()),
        "mean_abs_residual": mean_abs,
        "under_fraction": float((values > threshold).float().mean()),
        "over_fraction": float((values < -threshold).float().mean()),
        "score": 10.0 * (1.0 - mean_abs),
    }


def write_heatmap(path: Path, residual: Tensor) -> Path:
    """Save the heatmap of a (1,H,W) residual as an 8-bit RGB image at `path` (format by extension)."""
    return write_array(path, heatmap(residual))


def write_scores(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write `scores.csv`: one row per image with the columns of `SCORE_COLUMNS` (ev empty when unknown)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as partial, partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SCORE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row[key] for key in SCORE_COLUMNS})
    return path


def residual_of(task: Any, image: Tensor) -> Tensor:
    """(1,H,W) residual of a (3,H,W) image in [0,1] by any object with `residual_map`, in inference mode."""
    with torch.inference_mode():
        return task.residual_map(image[None])[0]


def assess_paths(
    task: Any,
    input: Path,
    output: Path,
    device: str = "cpu",
    map_format: str = "png",
    threshold: float = 0.1,
    on_error: str = "continue",
) -> list[dict[str, Any]]:
    """Write the residual map, heatmap and statistics of every image of `input` into `output` (see
    conf/assess.yaml); `task` is any object with `residual_map`. Returns the scores.csv rows.

    `output` may not be the folder of the inputs, and two inputs may not share a stem (`a.jpg`, `a.png`:
    their maps would overwrite each other). Every file is written atomically, replacing (not following) a
    link of its name. An unreadable image is skipped and named in UnreadableImages once the others are
    written (`on_error="stop"`: at once).
    """
    if map_format not in MAP_FORMATS:
        raise ExposureLabError(f"map_format must be one of {', '.join(MAP_FORMATS)}, got {map_format!r}")
    check_on_error(on_error)
    paths = image_inputs(input)
    check_output_folder(output, paths)
    check_distinct({path: f"{path.stem}_heatmap.png" for path in paths})
    output.mkdir(parents=True, exist_ok=True)
    task = task.to(device).eval()
    rows, problems = [], []
    for path in tqdm(paths, desc="assess", unit="img", disable=len(paths) < 2):
        try:
            image = read_image(path)
        except ImageReadError as exc:
            if on_error == "stop":
                raise
            problems.append(str(exc))
            continue
        residual = residual_of(task, image.to(device)).cpu()
        write_residual(output / f"{path.stem}_residual.{map_format}", residual)
        write_heatmap(output / f"{path.stem}_heatmap.png", residual)
        rows.append(
            {
                "name": path.name,
                "ev": split_ev_suffix(path.stem)[1],
                **exposure_statistics(residual, threshold),
            }
        )
    write_colour_bar(output / "colour_bar.png")
    write_scores(output / "scores.csv", rows)
    if problems:
        raise UnreadableImages(problems, [output / "scores.csv"])
    return rows
