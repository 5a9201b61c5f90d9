"""The synthetic exposure set re-arranged into the folder layouts and file naming of the real data sets.

- `afifi`: `training|validation/{INPUT_IMAGES,GT_IMAGES}`, `testing/INPUT_IMAGES` and
  `testing/expert_{a..e}_testing_set`; inputs `a0001-<scene>_N1.5.JPG`, references `a0001-<scene>.jpg`. The
  five "experts" are tone renditions of the scene: C is the scene itself (C is the training reference), the
  others apply `EXPERT_TONES`.
- `endo4ie`: `training|validation|test/{Underexposed,Overexposed,Normal_frames}/<scene>.jpg` from the lowest
  and the highest EV; `endo4ie_exp_gt`: `training|validation|test/{exp_images,gt_images}/<scene>.jpg`, the
  lowest EV for even scenes and the highest for odd ones.
- `lol` (LOL-v1 `our485|eval15/{low,high}/<n>.png`), `lol_v2_real` (`Real_captured/Train|Test/Low/low<n>.png`
  ↔ `Normal/normal<n>.png`, five digits), `lol_v2_synthetic` (`Synthetic/Train|Test/{Low,Normal}/<n>.png`) and
  `lol_flat` (`train_val|test/{low,high}/<n>.png`), all from the lowest EV; training and validation scenes
  form the training folder, testing scenes the test folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from exposure_lab.data.io import decode_image, write_array
from exposure_lab.data.pairing import split_ev_suffix
from exposure_lab.errors import DataLayoutError

LAYOUTS = ("afifi", "endo4ie", "endo4ie_exp_gt", "lol", "lol_v2_real", "lol_v2_synthetic", "lol_flat")
MANIFEST = "MANIFEST.json"
EXPERT_TONES: dict[str, tuple[float, float]] = {  # expert → (gamma on [0,1], saturation gain)
    "a": (1.15, 0.90),
    "b": (0.92, 1.05),
    "c": (1.0, 1.0),
    "d": (0.85, 1.10),
    "e": (1.08, 1.20),
}
_ENDO_SPLITS = {"training": "training", "validation": "validation", "testing": "test"}

FileMap = dict[str, Callable[[], np.ndarray]]


def expert_rendition(image: np.ndarray, expert: str) -> np.ndarray:
    """A uint8 (H, W, 3) image re-toned as `expert`: a gamma on [0, 1], then a saturation gain about luma."""
    gamma, saturation = EXPERT_TONES[expert]
    toned = (image.astype(np.float64) / 255.0) ** gamma
    luma = toned @ np.array([0.299, 0.587, 0.114])
    toned = luma[..., None] + saturation * (toned - luma[..., None])
    return np.round(np.clip(toned, 0.0, 1.0) * 255.0).astype(np.uint8)


def arrange_synthetic_set(source: Path, layout: str, out_dir: Path, progress: bool = True) -> Path:
    """Write the complete synthetic set at `source` into `out_dir` in `layout` (one of LAYOUTS).

    A no-op when `out_dir` already holds the same arrangement; never overwrites other files.
    """
    if layout not in LAYOUTS:
        raise DataLayoutError(
            f"synthetic set: unknown layout {layout!r}; expected synthetic or one of {LAYOUTS}"
        )
    scenes = json.loads((source / MANIFEST).read_text())["scenes"]
    files = _plan(source, layout, scenes)
    record = {"layout": layout, "source": str(source), "files": sorted(files)}
    manifest_path = out_dir / MANIFEST
    if manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if {k: existing.get(k) for k in record} != record:
            raise DataLayoutError(
                f"{out_dir}: holds another arrangement of a synthetic set; choose another out= or delete it"
            )
        if all((out_dir / f).is_file() for f in files):
            return out_dir
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise DataLayoutError(f"{out_dir}: expected a new or empty folder, found other files (no {MANIFEST})")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps({**record, "complete": False}, indent=1))
    for relative, render in tqdm(files.items(), desc=f"Writing the {layout} layout", disable=not progress):
        if not (out_dir / relative).is_file():
            write_array(out_dir / relative, render())
    manifest_path.write_text(json.dumps({**record, "complete": True}, indent=1))
    return out_dir


def _plan(source: Path, layout: str, scenes: Mapping[str, Any]) -> FileMap:
    planners = {
        "afifi": _afifi,
        "endo4ie": _endo4ie,
        "endo4ie_exp_gt": _endo4ie_exp_gt,
        "lol": _lol_folders("our485", "eval15", "{}/low/{}.png", "{}/high/{}.png"),
        "lol_v2_real": _lol_folders(
            "Real_captured/Train", "Real_captured/Test", "{}/Low/low{:05d}.png", "{}/Normal/normal{:05d}.png"
        ),
        "lol_v2_synthetic": _lol_folders(
            "Synthetic/Train", "Synthetic/Test", "{}/Low/{}.png", "{}/Normal/{}.png"
        ),
        "lol_flat": _lol_folders("train_val", "test", "{}/low/{}.png", "{}/high/{}.png"),
    }
    files: FileMap = {}
    for index, (name, scene) in enumerate(sorted(scenes.items()), start=1):
        inputs = {split_ev_suffix(Path(p).stem)[1]: source / p for p in scene["inputs"]}
        planners[layout](files, index, name, scene["split"], source / scene["target"], inputs)
    return files


def _loader(path: Path, expert: str | None = None) -> Callable[[], np.ndarray]:
    if expert is None:
        return lambda: decode_image(path)
    return lambda: expert_rendition(decode_image(path), expert)


def _afifi(files: FileMap, index: int, name: str, split: str, target: Path, inputs: dict) -> None:
    from exposure_lab.data.pairing import EV_TO_SUFFIX

    stem = f"a{index:04d}-{name}"
    for ev, path in inputs.items():
        files[f"{split}/INPUT_IMAGES/{stem}_{EV_TO_SUFFIX[ev]}.JPG"] = _loader(path)
    if split == "testing":
        for expert in EXPERT_TONES:
            files[f"testing/expert_{expert}_testing_set/{stem}.jpg"] = _loader(target, expert)
    else:
        files[f"{split}/GT_IMAGES/{stem}.jpg"] = _loader(target)


def _endo4ie(files: FileMap, index: int, name: str, split: str, target: Path, inputs: dict) -> None:
    folder = _ENDO_SPLITS[split]
    files[f"{folder}/Normal_frames/{name}.jpg"] = _loader(target)
    files[f"{folder}/Underexposed/{name}.jpg"] = _loader(inputs[min(inputs)])
    files[f"{folder}/Overexposed/{name}.jpg"] = _loader(inputs[max(inputs)])


def _endo4ie_exp_gt(files: FileMap, index: int, name: str, split: str, target: Path, inputs: dict) -> None:
    folder = _ENDO_SPLITS[split]
    files[f"{folder}/gt_images/{name}.jpg"] = _loader(target)
    files[f"{folder}/exp_images/{name}.jpg"] = _loader(inputs[max(inputs) if index % 2 else min(inputs)])


def _lol_folders(train: str, test: str, low: str, high: str) -> Callable[..., None]:
    """A planner writing the lowest-EV input to `low` and the scene to `high` (formats of folder, index)."""

    def plan(files: FileMap, index: int, name: str, split: str, target: Path, inputs: dict) -> None:
        folder = test if split == "testing" else train
        files[high.format(folder, index)] = _loader(target)
        files[low.format(folder, index)] = _loader(inputs[min(inputs)])

    return plan
