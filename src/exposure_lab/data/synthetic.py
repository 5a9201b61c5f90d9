"""Synthetic exposure set rendered from photographs shipped inside installed packages (no download).

Each scene is a crop of a well-exposed photo (the ground truth, the "expert render"). Inputs emulate a camera
at several exposure values: the sRGB scene is linearised (inverse sRGB EOTF), scaled by 2^EV, clipped at 1
(sensor saturation), passed through a per-scene camera response (gamma, then an S-curve blend) and quantised
to 8 bits. So even the 0 EV input differs from the ground truth, as in Afifi et al. (CVPR 2021), whose folder
layout and file naming the set follows: `training|validation|testing/{INPUT_IMAGES,GT_IMAGES}`, inputs
`<scene>_{N1.5,N1,0,P1,P1.5}.png`, targets `<scene>.png`. Train/val/test never share a source photo.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from exposure_lab.config import plain
from exposure_lab.data.io import write_array
from exposure_lab.data.paired import PairedDataModule
from exposure_lab.data.pairing import EV_TO_SUFFIX
from exposure_lab.errors import DataLayoutError

log = logging.getLogger(__name__)

SPLITS = ("training", "validation", "testing")
MANIFEST = "MANIFEST.json"
_FORMAT = "exposure_lab synthetic exposure set v1"


def _skimage(name: str, index: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        image = getattr(data, name)()
        return image if index is None else image[index]

    return load


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as handle, Image.open(handle) as image:
        return np.asarray(image.convert("RGB"))


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


# name → (source description, loader of an (H, W, 3) uint8 array, package that must be importable)
PHOTOS: dict[str, tuple[str, Callable[[], np.ndarray], str]] = {
    "astronaut": ("skimage.data.astronaut()", _skimage("astronaut"), "skimage"),
    "coffee": ("skimage.data.coffee()", _skimage("coffee"), "skimage"),
    "chelsea": ("skimage.data.chelsea()", _skimage("chelsea"), "skimage"),
    "rocket": ("skimage.data.rocket()", _skimage("rocket"), "skimage"),
    "motorcycle": (
        "skimage.data.stereo_motorcycle()[0] (left view)",
        _skimage("stereo_motorcycle", 0),
        "skimage",
    ),
    "immunohistochemistry": (
        "skimage.data.immunohistochemistry()",
        _skimage("immunohistochemistry"),
        "skimage",
    ),
    "hubble_deep_field": ("skimage.data.hubble_deep_field()", _skimage("hubble_deep_field"), "skimage"),
    "retina": ("skimage.data.retina()", _skimage("retina"), "skimage"),
    "grace_hopper": ("matplotlib sample_data/grace_hopper.jpg", _grace_hopper, "matplotlib"),
    "china": ("sklearn.datasets.load_sample_image('china.jpg')", _sklearn("china.jpg"), "sklearn"),
    "flower": ("sklearn.datasets.load_sample_image('flower.jpg')", _sklearn("flower.jpg"), "sklearn"),
}


def available_photos() -> list[str]:
    """Names of the embedded photos whose package is installed (scikit-learn's two are optional)."""
    return [name for name, (_, _, package) in PHOTOS.items() if importlib.util.find_spec(package) is not None]


@dataclass(frozen=True)
class SynthOptions:
    """Options of the synthetic set; equal options (and software) give byte-identical files.

    `photos`: names from PHOTOS (None = every available one). `split`: for "validation" and "testing", a
    list of photo names or a fraction of the photos (seeded); the other photos are for training.
    `response`: ranges [low, high] of the per-scene camera-response parameters `gamma` and `contrast`
    (weight of the S-curve). `scene_size`: side of the square scenes, cropped at a random scale.
    """

    seed: int = 0
    scene_size: int = 160
    scenes_per_photo: int = 8
    photos: list[str] | None = None
    split: dict[str, list[str] | float] = field(
        default_factory=lambda: {"validation": ["coffee"], "testing": ["chelsea", "rocket"]}
    )
    evs: list[float] = field(default_factory=lambda: [-1.5, -1.0, 0.0, 1.0, 1.5])
    response: dict[str, list[float]] = field(
        default_factory=lambda: {"gamma": [1.8, 2.6], "contrast": [0.0, 0.5]}
    )

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> SynthOptions:
        """Validated, JSON-normalised options; unknown keys or bad values → one DataLayoutError."""
        fields = sorted(cls.__dataclass_fields__)
        problems = [
            f"unknown option {key!r} (expected one of {fields})" for key in options if key not in fields
        ]
        merged = {**asdict(cls()), **{k: plain(v) for k, v in options.items() if k in fields}}
        merged["evs"] = [float(ev) for ev in merged["evs"]]
        if not merged["evs"] or len(set(merged["evs"])) < len(merged["evs"]):
            problems.append("evs must be a non-empty list without repeats")
        if any(ev not in EV_TO_SUFFIX for ev in merged["evs"]):
            problems.append(f"evs must be taken from {list(EV_TO_SUFFIX)} (the Afifi et al. file suffixes)")
        for key, value in merged["split"].items():
            if key not in ("validation", "testing"):
                problems.append(f"split.{key}: only validation and testing are set (the other photos train)")
            elif not (isinstance(value, list) or (isinstance(value, int | float) and 0 <= value < 1)):
                problems.append(f"split.{key} must be a list of photo names or a fraction in [0, 1)")
        if merged["scene_size"] < 8 or merged["scenes_per_photo"] < 1:
            problems.append("scene_size must be >= 8 and scenes_per_photo >= 1")
        gamma, contrast = merged["response"].get("gamma"), merged["response"].get("contrast")
        if not (_is_range(gamma) and gamma[0] > 0 and _is_range(contrast) and contrast[1] <= 1):
            problems.append("response needs ranges gamma [low, high] with 0 < low and contrast within [0, 1]")
        if problems:
            raise DataLayoutError("synthetic set options: " + "; ".join(problems))
        return cls(**merged)


def camera_response(exposure: np.ndarray, gamma: float, contrast: float) -> np.ndarray:
    """Monotone tone curve on [0, 1]: `u = x^(1/gamma)`, blended with the smoothstep S-curve by `contrast`."""
    u = exposure ** (1.0 / gamma)
    return (1.0 - contrast) * u + contrast * (u * u * (3.0 - 2.0 * u))


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse sRGB EOTF (IEC 61966-2-1) on values in [0, 1]."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def render_exposure(ground_truth: np.ndarray, ev: float, gamma: float, contrast: float) -> np.ndarray:
    """One exposure (uint8 (H, W, 3)) of an sRGB uint8 scene: linearise, ×2^EV, clip, respond, quantise."""
    linear = srgb_to_linear(ground_truth.astype(np.float64) / 255.0)
    exposed = np.clip(linear * 2.0**ev, 0.0, 1.0)
    return np.round(camera_response(exposed, gamma, contrast) * 255.0).astype(np.uint8)


def render_synthetic_set(out_dir: str | Path, progress: bool = True, **options: Any) -> Path:
    """Render the synthetic exposure set into `out_dir` (see the module docstring and `SynthOptions`).

    A no-op when `out_dir` already holds a complete set with the same options; resumes an interrupted one.
    Raises DataLayoutError (never overwrites) when `out_dir` holds other files or a set with other options.
    """
    out_dir = Path(out_dir).expanduser()
    opts = SynthOptions.from_mapping(options)
    requested = asdict(opts)
    manifest_path = out_dir / MANIFEST
    if manifest_path.is_file():
        existing = _read_manifest(manifest_path)
        if existing.get("options") != requested:
            raise DataLayoutError(
                f"{out_dir}: holds a synthetic set rendered with other options "
                f"({_describe_difference(existing.get('options') or {}, requested)}); "
                "choose another folder (out=...) or delete this one"
            )
        if _is_complete(out_dir, existing):
            log.info("%s: synthetic set already complete, nothing to do", out_dir)
            return out_dir
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise DataLayoutError(
            f"{out_dir}: expected a new or empty folder for the synthetic set, found other files "
            f"(no {MANIFEST}); choose another folder (out=...) or delete this one"
        )
    photos = _photo_split(opts)
    manifest: dict[str, Any] = {
        "format": _FORMAT,
        "complete": False,
        "options": requested,
        "model": "sRGB → linear (inverse sRGB EOTF) → ×2^EV → clip at 1 → x^(1/gamma) blended with "
        "smoothstep by contrast → 8-bit; ground truth = the photo crop",
        "software": _software_versions(photos),
        "photos": {},
        "scenes": {},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(out_dir, manifest)
    with tqdm(
        total=len(photos) * opts.scenes_per_photo,
        desc="Rendering synthetic exposures",
        unit="scene",
        disable=not progress,
    ) as bar:
        for photo, split in photos.items():
            _render_photo(out_dir, opts, photo, split, manifest, bar)
    manifest["complete"] = True
    _write_manifest(out_dir, manifest)
    return out_dir


def synthetic_set_complete(root: str | Path) -> bool:
    """True when `root` holds a complete synthetic set (manifest says so; all the files it lists exist)."""
    manifest_path = Path(root) / MANIFEST
    if not manifest_path.is_file():
        return False
    return _is_complete(Path(root), _read_manifest(manifest_path))


def _is_complete(root: Path, manifest: Mapping[str, Any]) -> bool:
    return bool(manifest.get("complete")) and all((root / f).is_file() for f in _files(manifest))


def render_from_config(cfg: Any) -> tuple[Path, str]:
    """Render the set that conf/synth.yaml describes (`exposure-lab data synth`): (its folder, a summary)."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True)
    options = {key: container[key] for key in SynthOptions.__dataclass_fields__ if key in container}
    layout = container.get("layout") or "synthetic"
    standard = container["out"] if layout == "synthetic" else container["source"]
    source = render_synthetic_set(standard, **options)
    manifest = _read_manifest(source / MANIFEST)
    if layout != "synthetic":
        from exposure_lab.data.synthetic_layouts import arrange_synthetic_set

        out_dir = arrange_synthetic_set(source, layout, Path(container["out"]).expanduser())
        return out_dir, f"Synthetic exposure set of {source} in the {layout} layout: {out_dir}"
    counts = {split: sum(s["split"] == split for s in manifest["scenes"].values()) for split in SPLITS}
    summary = (
        f"Synthetic exposure set in {source}: "
        + ", ".join(f"{split} {n} scene{'' if n == 1 else 's'}" for split, n in counts.items())
        + f" × {len(manifest['options']['evs'])} exposures, {manifest['options']['scene_size']} px"
    )
    return source, summary


class SyntheticExposureDataModule(PairedDataModule):
    """PairedDataModule over the synthetic set at `root`, rendered in `prepare_data()` when missing.

    `render` holds SynthOptions overrides used only when the set has to be rendered; an existing complete set
    is used as it is. Batches also carry `ev` and `subset` ("under" for negative EVs, "over" otherwise).
    """

    def __init__(
        self,
        root: str | Path,
        render: Mapping[str, Any] | None = None,
        name: str = "synthetic",
        **options: Any,
    ) -> None:
        root = Path(root).expanduser()
        super().__init__(
            input_dir=root / "testing" / "INPUT_IMAGES",
            target_dir=root / "testing" / "GT_IMAGES",
            train_input_dir=root / "training" / "INPUT_IMAGES",
            train_target_dir=root / "training" / "GT_IMAGES",
            val_input_dir=root / "validation" / "INPUT_IMAGES",
            val_target_dir=root / "validation" / "GT_IMAGES",
            name=name,
            **options,
        )
        self.root = root
        self.render_options = dict(plain(render or {}))

    def prepare_data(self) -> None:
        """Render the set when `root` does not hold a complete one (once per node)."""
        if not synthetic_set_complete(self.root):
            render_synthetic_set(self.root, **self.render_options)


def _photo_split(opts: SynthOptions) -> dict[str, str]:
    available = available_photos()
    names = available if opts.photos is None else list(opts.photos)
    missing = [n for n in names if n not in available]
    if missing:
        hint = " (china and flower need scikit-learn)" if set(missing) & {"china", "flower"} else ""
        raise DataLayoutError(
            f"synthetic set: photo(s) {missing} not available{hint}; available: {available}"
        )
    rng = np.random.default_rng(opts.seed)
    pool = [n for n in sorted(names) if not any(n in v for v in opts.split.values() if isinstance(v, list))]
    pool = [pool[i] for i in rng.permutation(len(pool))]
    assignment: dict[str, str] = {}
    for split in ("validation", "testing"):
        chosen = opts.split.get(split, [])
        if isinstance(chosen, list):
            outside = [n for n in chosen if n not in names]
            if outside:
                raise DataLayoutError(
                    f"synthetic set: split.{split} names photo(s) {outside} not among {names}"
                )
        else:
            count = max(1, round(chosen * len(names))) if chosen > 0 else 0
            chosen, pool = pool[:count], pool[count:]
        for n in chosen:
            if n in assignment:
                raise DataLayoutError(f"synthetic set: photo {n!r} is in split.validation and split.testing")
            assignment[n] = split
    training = [n for n in names if n not in assignment]
    if not training:
        raise DataLayoutError(f"synthetic set: no photo left for training after the split {opts.split}")
    return {n: assignment.get(n, "training") for n in names}


def _render_photo(
    out_dir: Path, opts: SynthOptions, photo: str, split: str, manifest: dict[str, Any], bar: tqdm
) -> None:
    """Crop the scenes of one photo, write ground truths and exposures, and record them in `manifest`."""
    image = _load_photo(photo)
    height, width = image.shape[:2]
    short = min(height, width)
    if short < opts.scene_size:
        raise DataLayoutError(f"synthetic set: photo {photo!r} is {width}×{height}, smaller than scene_size")
    manifest["photos"][photo] = {
        "source": PHOTOS[photo][0],
        "size": [height, width],
        "sha256": hashlib.sha256(image.tobytes()).hexdigest(),
        "split": split,
    }
    largest = max(opts.scene_size, round(0.6 * short))
    for k in range(opts.scenes_per_photo):
        rng = np.random.default_rng([opts.seed, zlib.crc32(photo.encode()), k])
        side = int(rng.integers(opts.scene_size, largest + 1))
        top, left = int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1))
        gamma = round(float(rng.uniform(*opts.response["gamma"])), 4)
        contrast = round(float(rng.uniform(*opts.response["contrast"])), 4)
        crop = Image.fromarray(image[top : top + side, left : left + side])
        if side != opts.scene_size:
            crop = crop.resize((opts.scene_size, opts.scene_size), Image.Resampling.LANCZOS)
        ground_truth = np.array(crop)
        name = f"{photo}_{k:02d}"
        target = f"{split}/GT_IMAGES/{name}.png"
        inputs = [f"{split}/INPUT_IMAGES/{name}_{EV_TO_SUFFIX[ev]}.png" for ev in opts.evs]
        write_array(out_dir / target, ground_truth)
        for ev, relative in zip(opts.evs, inputs, strict=True):
            write_array(out_dir / relative, render_exposure(ground_truth, ev, gamma, contrast))
        manifest["scenes"][name] = {
            "photo": photo,
            "split": split,
            "crop": [top, left, side],
            "response": {"gamma": gamma, "contrast": contrast},
            "target": target,
            "inputs": inputs,
        }
        bar.update()


def _load_photo(name: str) -> np.ndarray:
    image = np.asarray(PHOTOS[name][1]())
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise DataLayoutError(f"synthetic set: photo {name!r} did not load as an RGB uint8 image")
    return np.ascontiguousarray(image[:, :, :3])


def _software_versions(photos: Mapping[str, str]) -> dict[str, str]:
    from importlib.metadata import version

    packages = ["exposure_lab", "numpy", "pillow", "scikit-image", "matplotlib"]
    if {"china", "flower"} & set(photos):
        packages.append("scikit-learn")
    return {"python": platform.python_version(), **{p: version(p) for p in packages}}


def _files(manifest: Mapping[str, Any]) -> list[str]:
    return [f for scene in manifest.get("scenes", {}).values() for f in (scene["target"], *scene["inputs"])]


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataLayoutError(
            f"{path}: unreadable synthetic-set manifest ({exc}); delete the folder"
        ) from exc
    if manifest.get("format") != _FORMAT:
        raise DataLayoutError(
            f"{path}: not a manifest of an exposure_lab synthetic set; choose another folder"
        )
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    texts = {
        MANIFEST: json.dumps(manifest, indent=2, sort_keys=True) + "\n",
        "MANIFEST.md": _markdown(manifest),
    }
    for name, text in texts.items():
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out_dir / name)


def _markdown(manifest: Mapping[str, Any]) -> str:
    opts = manifest["options"]
    lines = [
        "# Synthetic exposure set",
        "",
        f"Rendered by exposure_lab ({'complete' if manifest['complete'] else 'INCOMPLETE'}); "
        "machine-readable details, including each scene's crop and camera-response parameters, "
        f"are in {MANIFEST}.",
        "",
        f"- Model: {manifest['model']}",
        f"- EVs: {opts['evs']}; seed {opts['seed']}; {opts['scenes_per_photo']} scenes of "
        f"{opts['scene_size']}×{opts['scene_size']} px per photo",
        f"- Camera response ranges: gamma {opts['response']['gamma']}, "
        f"contrast {opts['response']['contrast']}",
        "- Software: " + ", ".join(f"{k} {v}" for k, v in manifest["software"].items()),
        "",
        "| photo | source | size (H×W) | split |",
        "|---|---|---|---|",
    ]
    for name, info in manifest["photos"].items():
        lines.append(f"| {name} | {info['source']} | {info['size'][0]}×{info['size'][1]} | {info['split']} |")
    return "\n".join(lines) + "\n"


def _describe_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)} → {new.get(k)}" for k in keys)


def _is_range(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and 0 <= value[0] <= value[1]
