"""Offline training patches as in LMSPEC (Afifi et al., CVPR 2021) and Endo-LMSPEC (García-Vega et al.,
ISBI 2023).

The windows kept by `exposure_lab.data.patch_rules` are cut from every exposure of the scene and from its
ground truth; `extract_patches` writes them to disk once (`exposure-lab data patches`, `patches=offline`) in
the official folders `<root>/<training|validation|testing>/{INPUT,GT}_IMAGES_P_<size>`, resumably, with a
manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from exposure_lab.config import plain
from exposure_lab.data.io import array_to_tensor, decode_image, write_array
from exposure_lab.data.layouts.afifi import AFIFI_SPLIT_FOLDERS
from exposure_lab.data.pairing import split_ev_suffix
from exposure_lab.data.patch_rules import REASONS, PatchRules, choose_corners
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

FORMATS = {"png": ".png", "jpg": ".jpg"}
MANIFEST = "MANIFEST.json"
_FORMAT = "exposure_lab patches v1"
# Keys of a data config that only shape the training loader; every other key defines the source images.
_LOADER_KEYS = frozenset(
    {
        "patch_size",
        "batch_size",
        "val_patch_size",
        "val_batch_size",
        "num_workers",
        "pin_memory",
        "cache_images",
        "augment",
        "patches",
        "save_split_to",
    }
)


def patch_dirs(root: Path, split: str, size: int) -> tuple[Path, Path]:
    """(input, ground-truth) patch folders of `split` and `size` under `root`, named as the official code:
    `root/<training|validation|testing>/{INPUT_IMAGES,GT_IMAGES}_P_<size>`."""
    if split not in AFIFI_SPLIT_FOLDERS:
        raise DataLayoutError(
            f"patches: unknown split {split!r}; expected one of {', '.join(AFIFI_SPLIT_FOLDERS)}"
        )
    folder = Path(root) / AFIFI_SPLIT_FOLDERS[split]
    return folder / f"INPUT_IMAGES_P_{size}", folder / f"GT_IMAGES_P_{size}"


@dataclass(frozen=True)
class PatchOptions:
    """Options of an offline extraction. `per_image[split][size]` is the number of patches kept per reference
    image at most; `format` "png" (lossless, default) or "jpg" (as the official patches, `jpeg_quality` 75 =
    MATLAB imwrite's default); `seed` seeds one generator per (split, size, scene)."""

    rules: PatchRules
    sizes: tuple[int, ...] = (128, 256, 512)
    splits: tuple[str, ...] = ("train", "val")
    per_image: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    seed: int = 0
    format: str = "png"
    jpeg_quality: int = 75

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PatchOptions:
        """Options from conf/extract_patches.yaml (`patches` holds the rules); one DataLayoutError for all
        problems, naming the key to set."""
        config = plain(config)
        rules = PatchRules.from_config(config.get("patches") or {})
        problems: list[str] = []
        sizes = config.get("sizes") or []
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 2 for s in sizes) or not sizes:
            problems.append(f"sizes must be a non-empty list of patch sides >= 2, got {sizes!r}")
            sizes = []
        splits = config.get("splits") or []
        if not splits or any(s not in AFIFI_SPLIT_FOLDERS for s in splits):
            problems.append(
                f"splits must be a non-empty list of {', '.join(AFIFI_SPLIT_FOLDERS)}, got {splits!r}"
            )
            splits = []
        raw = config.get("per_image") or {}
        per_image: dict[str, dict[int, int]] = {}
        for split in splits:
            counts = {_as_size(size): n for size, n in (raw.get(split) or {}).items()}
            for size in sizes:
                n = counts.get(size)
                if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                    found = "not set" if n is None else repr(n)
                    problems.append(
                        f"per_image.{split}.{size} must be a positive number of patches per image, {found} "
                        f"(set it with +per_image.{split}.{size}=N)"
                    )
            per_image[split] = {size: counts.get(size, 0) for size in sizes}
        image_format = config.get("format", "png")
        if image_format not in FORMATS:
            problems.append(f"format must be one of {', '.join(FORMATS)}, got {image_format!r}")
        quality = config.get("jpeg_quality", 75)
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            problems.append(f"jpeg_quality must be an integer in 1..100, got {quality!r}")
        seed = config.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            problems.append(f"seed must be an integer, got {seed!r}")
        if len(set(sizes)) < len(sizes) or len(set(splits)) < len(splits):
            problems.append("sizes and splits must not repeat")
        if problems:
            raise DataLayoutError("patch extraction options: " + "; ".join(problems))
        return cls(rules, tuple(sizes), tuple(splits), per_image, seed, image_format, quality)

    def recorded(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The options a folder of patches is bound to (sizes, splits and counts are recorded per split)."""
        return {
            "data": plain(data),
            "rules": self.rules.to_config(),
            "seed": self.seed,
            "format": self.format,
            "jpeg_quality": self.jpeg_quality,
        }


@dataclass(frozen=True)
class _Group:
    """Images that share one set of windows: a scene (or, for reference "input", one input and its GT)."""

    key: str
    scene: str
    reference: Path
    target: Path | None
    inputs: tuple[Sample, ...]
    gt_named_like_input: bool


def data_fingerprint(data_config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a resolved data config that decide which source images a split holds."""
    return {k: v for k, v in plain(data_config).items() if k not in _LOADER_KEYS}


def extract_patches(
    samples: Mapping[str, Sequence[Sample]],
    out_dir: str | Path,
    options: PatchOptions,
    data: Mapping[str, Any],
    progress: bool = True,
) -> dict[str, Any]:
    """Cut the patches of `samples[split]` for each split and size of `options` into `out_dir`.

    `data` identifies the source (e.g. `data_fingerprint` of the data config; recorded and compared). Each
    scene gets its own generator (seed, split, size, scene), so a resumed run writes the files a fresh run
    would. Scenes recorded in the manifest whose files exist are skipped; the manifest is rewritten
    atomically after each scene. New sizes or splits may be added to a folder; any other option change, a
    changed per-image count, or a non-empty folder without a manifest raises DataLayoutError. Returns the
    manifest.
    """
    out_dir = Path(out_dir).expanduser()
    missing = [split for split in options.splits if split not in samples]
    if missing:
        raise ValueError(f"extract_patches: no samples given for split(s) {missing}")
    manifest = _open_manifest(out_dir, options, data)
    groups = {split: _groups(samples[split], options.rules, split) for split in options.splits}
    extension = FORMATS[options.format]
    out_dir.mkdir(parents=True, exist_ok=True)
    _save_manifest(out_dir, manifest)
    total = sum(len(g) for g in groups.values())
    with tqdm(total=total, desc="Extracting patches", unit="scene", disable=not progress) as bar:
        for split, split_groups in groups.items():
            records = manifest["splits"][split]["scenes"]
            for group in split_groups:
                todo = [
                    size
                    for size in options.sizes
                    if not _finished(records.get(group.key), group, out_dir, split, size, extension)
                ]
                if todo:
                    record = records.setdefault(group.key, {"patches": {}})
                    _extract_group(group, todo, record, out_dir, split, options)
                    _save_manifest(out_dir, manifest)
                bar.update()
                bar.set_postfix(split=split, kept=sum(s["kept"] for s in manifest["summary"][split].values()))
    return manifest


def extract_from_config(cfg: Any) -> tuple[Path, str]:
    """Extract the patches of `cfg.data` as conf/extract_patches.yaml says (`exposure-lab data patches`);
    (the output folder, the per-size summary table)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    options = PatchOptions.from_config(OmegaConf.to_container(cfg, resolve=True))
    data_config = OmegaConf.to_container(cfg.data, resolve=True)
    # The source images are read here, so the data set's own training-patch mode plays no part.
    extra = {"patches": {"mode": "random"}} if "patches" in cfg.data else {}
    datamodule = instantiate(cfg.data, **extra)
    datamodule.prepare_data()
    samples = {split: datamodule.split_samples(split) for split in options.splits}
    out_dir = Path(str(cfg.out)).expanduser().resolve()
    manifest = extract_patches(samples, out_dir, options, data_fingerprint(data_config))
    return out_dir, format_summary(manifest)


def format_summary(manifest: Mapping[str, Any]) -> str:
    """Plain-text table per split and size: scenes, patches kept, files, rejected by reason, skipped."""
    options = manifest["options"]
    rules = options["rules"]
    header = ["split", "size", "scenes", "kept", "files", "dark", "bright", "flat", "too small"]
    rows = [
        [
            split,
            size,
            s["scenes"],
            s["kept"],
            s["files"],
            *(s["rejected"][r] for r in REASONS[1:]),
            s["skipped"],
        ]
        for split, sizes in manifest["summary"].items()
        for size, s in sizes.items()
    ]
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=True)]
    lines = [
        f"Patches of {options['data'].get('name', 'the data set')}: rule {rules['rule']}, reference "
        f"{rules['reference']}, {options['format']}, seed {options['seed']} (rejected = candidate windows; "
        "too small = scenes not larger than the patch)",
        *("  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)) for row in [header, *rows]),
    ]
    return "\n".join(lines)


def _as_size(key: Any) -> int | str:
    return int(key) if str(key).isdigit() else str(key)


def _groups(samples: Sequence[Sample], rules: PatchRules, split: str) -> list[_Group]:
    """The groups of a split, sorted by key; checks references exist and patch names do not collide."""
    by_scene: dict[str, list[Sample]] = {}
    for sample in samples:
        by_scene.setdefault(sample.scene, []).append(sample)
    groups: list[_Group] = []
    for scene, members in sorted(by_scene.items()):
        targets = sorted({str(s.target) for s in members})
        if len(targets) > 1:
            raise DataLayoutError(
                f"{split} split, scene {scene!r}: expected one ground truth for all its inputs, found "
                f"{len(targets)}: {', '.join(targets)}"
            )
        target = members[0].target
        if rules.reference == "input":
            groups += [_Group(s.name, scene, s.input, target, (s,), True) for s in members]
            continue
        if rules.reference == "gt":
            if target is None:
                raise DataLayoutError(
                    f"{split} split, scene {scene!r} ({members[0].input}): patches.reference=gt expects a "
                    "ground-truth image, found none; use patches.reference=input or an EV such as 0"
                )
            reference = target
        else:
            at_ev = [s for s in members if s.ev == rules.reference_ev]
            if len(at_ev) != 1:
                evs = sorted({"none" if s.ev is None else f"{s.ev:g}" for s in members})
                raise DataLayoutError(
                    f"{split} split, scene {scene!r} ({members[0].input.parent}): patches.reference="
                    f"{rules.reference} expects one input at EV {rules.reference}, found {len(at_ev)} "
                    f"(EVs of the scene: {', '.join(evs)})"
                )
            reference = at_ev[0].input
        groups.append(_Group(scene, scene, reference, target, tuple(members), False))
    _check_unique_names(groups, split)
    return groups


def _check_unique_names(groups: Sequence[_Group], split: str) -> None:
    owners: dict[tuple[str, Path], Path] = {}
    for group in groups:
        for source, relative, folder in _files_of(group, 1, ".png"):
            previous = owners.setdefault((folder, relative), source)
            if previous != source:
                raise DataLayoutError(
                    f"{split} split: {previous} and {source} would both be cut into patches named "
                    f"{relative}; input names must differ by scene, folder or EV suffix"
                )


def _files_of(group: _Group, k: int, extension: str) -> list[tuple[Path, Path, str]]:
    """(source image, patch path relative to its folder, "input"|"gt") of patch number `k` of `group`.

    Inputs: `<scene>_<k>_<EV suffix>` (or `<scene>_<k>` without suffix), in the sub-folder of their name.
    GT: `<scene>_<k>`, or named as its input patch when each input has its own windows.
    """
    files = []
    for sample in group.inputs:
        name = Path(sample.name)
        base, ev = split_ev_suffix(name.stem)
        suffix = name.stem[len(base) :] if ev is not None else ""
        files.append((sample.input, name.parent / f"{group.scene}_{k}{suffix}{extension}", "input"))
    if group.target is not None:
        gt_name = files[0][1] if group.gt_named_like_input else Path(f"{group.scene}_{k}{extension}")
        files.append((group.target, gt_name, "gt"))
    return files


def _patch_folders(out_dir: Path, split: str, size: int) -> dict[str, Path]:
    input_dir, gt_dir = patch_dirs(out_dir, split, size)
    return {"input": input_dir, "gt": gt_dir}


def _output_paths(group: _Group, out_dir: Path, split: str, size: int, count: int, ext: str) -> list[Path]:
    folders = _patch_folders(out_dir, split, size)
    return [
        folders[kind] / relative
        for k in range(1, count + 1)
        for _, relative, kind in _files_of(group, k, ext)
    ]


def _finished(
    record: Mapping[str, Any] | None, group: _Group, out_dir: Path, split: str, size: int, ext: str
) -> bool:
    patches = (record or {}).get("patches", {}).get(str(size))
    if patches is None:
        return False
    return all(p.is_file() for p in _output_paths(group, out_dir, split, size, len(patches["corners"]), ext))


def _scene_generator(seed: int, split: str, size: int, key: str) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}\0{split}\0{size}\0{key}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def _extract_group(
    group: _Group,
    sizes: Sequence[int],
    record: dict[str, Any],
    out_dir: Path,
    split: str,
    options: PatchOptions,
) -> None:
    """Screen the reference, cut the kept windows from every image of the group, and fill `record`."""
    reference = decode_image(group.reference)
    height, width = reference.shape[:2]
    reference_tensor = array_to_tensor(reference)
    searches = {
        size: choose_corners(
            reference_tensor,
            size,
            options.per_image[split][size],
            options.rules,
            _scene_generator(options.seed, split, size, group.key),
        )
        for size in sizes
    }
    images: dict[Path, np.ndarray] = {group.reference: reference}
    if any(search.corners for search in searches.values()):
        for source, _, _ in _files_of(group, 1, ""):
            if source not in images:
                images[source] = decode_image(source)
            if images[source].shape[:2] != (height, width):
                found = images[source].shape
                raise DataLayoutError(
                    f"{source}: expected the size of its scene's reference {group.reference} "
                    f"({width}×{height}), found {found[1]}×{found[0]}"
                )
    extension = FORMATS[options.format]
    record.update(
        scene=group.scene,
        reference=str(group.reference),
        target=None if group.target is None else str(group.target),
        inputs=[str(s.input) for s in group.inputs],
        height=height,
        width=width,
    )
    for size, search in searches.items():
        folders = _patch_folders(out_dir, split, size)
        for k, (top, left) in enumerate(search.corners, start=1):
            for source, relative, kind in _files_of(group, k, extension):
                crop = images[source][top : top + size, left : left + size]
                if options.format == "jpg" and crop.dtype == np.uint16:
                    crop = np.round(crop / 257.0).astype(np.uint8)
                write_array(folders[kind] / relative, crop, quality=options.jpeg_quality)
        record["patches"][str(size)] = {
            "corners": [list(corner) for corner in search.corners],
            "rejected": search.rejected,
            "tries": search.tries,
            "skipped": height <= size or width <= size,
        }


def _open_manifest(out_dir: Path, options: PatchOptions, data: Mapping[str, Any]) -> dict[str, Any]:
    """The existing manifest (checked against `options`) or a new one; registers the requested splits."""
    requested = options.recorded(data)
    path = out_dir / MANIFEST
    if path.is_file():
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataLayoutError(f"{path}: unreadable patch manifest ({exc}); delete the folder") from exc
        if manifest.get("format") != _FORMAT:
            raise DataLayoutError(f"{path}: not a manifest of exposure_lab patches; choose another out=")
        differences = _differences(manifest.get("options", {}), requested)
        if differences:
            raise DataLayoutError(
                f"{out_dir}: holds patches extracted with other options ({'; '.join(differences)}); "
                "choose another out= or delete this folder"
            )
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise DataLayoutError(
            f"{out_dir}: expected a new or empty folder for patches, found other files (no {MANIFEST}); "
            "choose another out= or delete this folder"
        )
    else:
        manifest = {"format": _FORMAT, "options": requested, "splits": {}}
    for split in options.splits:
        entry = manifest["splits"].setdefault(split, {"per_image": {}, "scenes": {}})
        for size in options.sizes:
            wanted = options.per_image[split][size]
            recorded = entry["per_image"].setdefault(str(size), wanted)
            if recorded != wanted:
                raise DataLayoutError(
                    f"{out_dir}: holds patches extracted with other options (per_image.{split}.{size}: "
                    f"{recorded} → {wanted}); choose another out= or delete this folder"
                )
    return manifest


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return [
            difference
            for key in sorted(set(old) | set(new))
            for difference in _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        ]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} → {new!r}"]


def _summary(manifest: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for split, entry in manifest["splits"].items():
        for size in sorted(entry["per_image"], key=int):
            done = [r for r in entry["scenes"].values() if size in r["patches"]]
            patches = [r["patches"][size] for r in done]
            summary.setdefault(split, {})[size] = {
                "scenes": len(done),
                "kept": sum(len(p["corners"]) for p in patches),
                "files": sum(
                    len(p["corners"]) * (len(r["inputs"]) + (r["target"] is not None))
                    for r, p in zip(done, patches, strict=True)
                ),
                "rejected": {reason: sum(p["rejected"][reason] for p in patches) for reason in REASONS[1:]},
                "skipped": sum(p["skipped"] for p in patches),
            }
    return summary


def _save_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Refresh the manifest's summary and write MANIFEST.json and MANIFEST.md atomically (if changed)."""
    manifest["summary"] = _summary(manifest)
    texts = {
        MANIFEST: json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n",
        "MANIFEST.md": _markdown(manifest),
    }
    for name, text in texts.items():
        if (out_dir / name).is_file() and (out_dir / name).read_text() == text:
            continue
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out_dir / name)


def _markdown(manifest: Mapping[str, Any]) -> str:
    options = manifest["options"]
    rules = options["rules"]
    lines = [
        "# Training patches",
        "",
        f"Extracted by `exposure-lab data patches`; each scene's source files, reference and patch corners "
        f"(top, left) are in {MANIFEST}. Folders: "
        "`<training|validation|testing>/{INPUT,GT}_IMAGES_P_<size>`; GT patches `<scene>_<k>`, input patches "
        "`<scene>_<k>_<EV suffix>`.",
        "",
        f"- Data: {json.dumps(options['data'], sort_keys=True)}",
        f"- Rule {rules['rule']} on the {rules['reference']} image (reference), thresholds "
        f"{json.dumps(rules['thresholds'], sort_keys=True)}, up to {rules['max_tries']} rejected candidates "
        "per image and size",
        f"- Format {options['format']}"
        + (f" (quality {options['jpeg_quality']})" if options["format"] == "jpg" else "")
        + f", seed {options['seed']}",
        "",
        "| split | size | per image | scenes | kept | files | rejected dark | rejected bright "
        "| rejected flat | too small |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split, sizes in manifest["summary"].items():
        for size, s in sizes.items():
            per_image = manifest["splits"][split]["per_image"][size]
            cells = [split, size, per_image, s["scenes"], s["kept"], s["files"]]
            cells += [s["rejected"][reason] for reason in REASONS[1:]]
            lines.append("| " + " | ".join(str(c) for c in [*cells, s["skipped"]]) + " |")
    return "\n".join(lines) + "\n"
