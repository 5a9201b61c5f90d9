"""Base LightningDataModule: `Sample` splits from a layout, seeded val splits, patches, loaders."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from exposure_lab.config import plain
from exposure_lab.data.datasets import PairedImageDataset
from exposure_lab.data.io import list_images
from exposure_lab.data.pairing import split_ev_suffix, subset_of_ev
from exposure_lab.data.patch_rules import PatchRules
from exposure_lab.data.samples import Sample, split_by_scene
from exposure_lab.data.sampling import EpochSampler, SeededItems
from exposure_lab.errors import DataLayoutError

SPLITS = ("train", "val", "test")
PATCH_MODES = ("random", "online", "offline")


class ExposureDataModule(LightningDataModule):
    """Train/val/test splits of a data set, loaded as dict batches.

    Subclasses implement `find_samples(split)` (validating the layout); a `None` val split is split off the
    train scenes (`val_count` scenes, else `val_fraction` of them, seeded by `split_seed`), saved as JSON to
    `save_split_to` and reused from `load_split_from`. Training takes `patch_size` crops in batches of
    `batch_size` (both changeable between epochs with `set_train_patches`), chosen as `patches.mode` says:
    `random` (uniform windows), `online` (windows screened by the patch rejection rules) or `offline`
    (pre-extracted patches under `patches.root`, see `exposure-lab data patches`). Val/test use full images
    (or centre crops of `val_patch_size`). `pin_memory=None` pins only when training on CUDA. `subsets`
    (e.g. `[over]`) keeps only the images of those exposure subsets in every split.
    """

    target_kind: str | None = "image"  # what batches hold as `target`: "image", "exposure_map" or None

    def __init__(
        self,
        name: str,
        patch_size: int | None = 128,
        batch_size: int = 8,
        val_patch_size: int | None = None,
        val_batch_size: int = 1,
        val_fraction: float = 0.1,
        val_count: int | None = None,
        split_seed: int = 0,
        save_split_to: str | Path | None = None,
        load_split_from: str | Path | None = None,
        num_workers: int = 2,
        pin_memory: bool | None = None,
        cache_images: bool = False,
        augment: bool = True,
        patches: Mapping[str, Any] | None = None,
        subsets: Sequence[str] | None = None,
    ) -> None:
        self._base_arguments = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        self.name = name
        self.patch_size = patch_size
        self.batch_size = batch_size
        self.val_patch_size = val_patch_size
        self.val_batch_size = val_batch_size
        self.val_fraction = val_fraction
        self.val_count = val_count
        self.split_seed = split_seed
        self.save_split_to = as_path(save_split_to)
        self.load_split_from = as_path(load_split_from)
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.cache_images = cache_images
        self.augment = augment
        self.subsets = None if subsets is None else tuple(plain(subsets))
        self.patches = plain(patches or {"mode": "random"})
        if self.patches.get("mode") not in PATCH_MODES:
            raise DataLayoutError(
                f"{name}: patches.mode must be one of {', '.join(PATCH_MODES)}, "
                f"got {self.patches.get('mode')!r}"
            )
        self.patch_rules = PatchRules.from_config(self.patches) if self.patches["mode"] == "online" else None
        self._samples: dict[str, list[Sample]] = {}

    def record_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Save every loader setting and a subclass's constructor `arguments` (its `locals()`, whose
        `**options` are spread out) as plain values, for checkpoints loaded with weights_only."""
        own = {k: v for k, v in arguments.items() if k not in ("self", "__class__", "options")}
        merged = {**self._base_arguments, **own, **arguments.get("options", {})}
        self.save_hyperparameters({k: plain(v) for k, v in merged.items()}, logger=False)

    def find_samples(self, split: str) -> list[Sample] | None:
        """The validated samples of `split`; None when the data set has no such split (val is split off)."""
        raise NotImplementedError

    def make_dataset(self, samples: Sequence[Sample], training: bool) -> Dataset:
        """The dataset over `samples`: training crops and augmentation when `training`."""
        if training:
            return PairedImageDataset(
                samples, self.patch_size, self.augment, self.cache_images, patch_rules=self.patch_rules
            )
        return PairedImageDataset(samples, self.val_patch_size, False, self.cache_images)

    def set_train_patches(self, patch_size: int, batch_size: int) -> None:
        """Use `patch_size` crops in batches of `batch_size` from the next `train_dataloader()` call on."""
        self.patch_size, self.batch_size = int(patch_size), int(batch_size)

    @property
    def test_is_training_data(self) -> bool:
        """True when the test images are also the training images (no held-out test set)."""
        return False

    def setup(self, stage: str | None = None) -> None:
        """Find and validate the splits `stage` needs; one-line DataLayoutError when they are wrong."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in needed.get(stage or "", SPLITS):
            self.split_samples(split)

    def split_samples(self, split: str) -> list[Sample]:
        """The samples of `split` ("train", "val" or "test"), found and validated on first use."""
        if split not in SPLITS:
            raise DataLayoutError(
                f"{self.name}: unknown split {split!r}; expected one of {', '.join(SPLITS)}"
            )
        if split not in self._samples:
            if split == "test":
                self._samples["test"] = self._require(self._find("test"), "test")
            else:
                self._resolve_train_and_val()
        return self._samples[split]

    def _resolve_train_and_val(self) -> None:
        train = self._require(self._find("train"), "train")
        val = self._find("val")
        if val is None:
            train, val = self._split_off_val(train)
        self._samples["train"], self._samples["val"] = train, self._require(val, "val")

    def _find(self, split: str) -> list[Sample] | None:
        """`find_samples(split)` restricted to `subsets`; one-line error when none of them is there."""
        samples = self.find_samples(split)
        if not samples or self.subsets is None:
            return samples
        kept = [sample for sample in samples if sample.subset in self.subsets]
        if not kept:
            present = sorted({sample.subset or "(none)" for sample in samples})
            raise DataLayoutError(
                f"{self.name} {split} split: no images of subsets {list(self.subsets)}; it has {present}"
            )
        return kept

    def _require(self, samples: list[Sample] | None, split: str) -> list[Sample]:
        if not samples:
            raise DataLayoutError(f"{self.name} {split} split: expected images, found none")
        return samples

    def _split_off_val(self, samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
        if self.load_split_from is not None:
            return self._load_split(samples)
        train, val = split_by_scene(samples, self.split_seed, self.val_fraction, self.val_count)
        if self.save_split_to is not None and (self.trainer is None or self.trainer.is_global_zero):
            record = {
                "data": self.name,
                "split_seed": self.split_seed,
                "val_fraction": None if self.val_count is not None else self.val_fraction,
                "val_count": self.val_count,
                "train": sorted({s.scene for s in train}),
                "val": sorted({s.scene for s in val}),
            }
            self.save_split_to.parent.mkdir(parents=True, exist_ok=True)
            self.save_split_to.write_text(json.dumps(record, indent=1))
        return train, val

    def _load_split(self, samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
        path = self.load_split_from
        assert path is not None
        try:
            record = json.loads(path.read_text())
            val_scenes, train_scenes = set(record["val"]), set(record["train"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataLayoutError(
                f"{path}: not a saved data split with 'train' and 'val' lists ({exc})"
            ) from exc
        found = {s.scene for s in samples}
        unknown = sorted((val_scenes | train_scenes) - found)
        unassigned = sorted(found - val_scenes - train_scenes)
        if unknown or unassigned:
            problem = (
                f"{len(unknown)} scenes it lists are not in the data ({', '.join(unknown[:10])})"
                if unknown
                else f"{len(unassigned)} scenes of the data are in no list ({', '.join(unassigned[:10])})"
            )
            raise DataLayoutError(f"{path}: saved split does not match {self.name}: {problem}")
        train = [s for s in samples if s.scene in train_scenes]
        return train, [s for s in samples if s.scene in val_scenes]

    def _train_samples(self) -> list[Sample]:
        if self.patches["mode"] != "offline":
            return self.split_samples("train")
        return self._extracted_patches("train")

    def _val_samples(self) -> list[Sample]:
        if self.patches["mode"] == "offline" and self.patches.get("validate_on_patches"):
            return self._extracted_patches("val")
        return self.split_samples("val")

    def _extracted_patches(self, split: str) -> list[Sample]:
        from exposure_lab.data.patches import patch_dirs

        if self.patch_size is None:
            raise DataLayoutError(
                f"{self.name}: patches.mode=offline needs data.patch_size (the patch folder)"
            )
        input_dir, target_dir = patch_dirs(Path(self.patches["root"]), split, int(self.patch_size))
        if not input_dir.is_dir():
            raise DataLayoutError(
                f"{self.name}: patches.mode=offline expects extracted {self.patch_size} px patches in "
                f"{input_dir}, which does not exist; run `exposure-lab data patches data={self.name} "
                f"sizes=[{self.patch_size}]` or set patches.root"
            )
        return self.patch_samples(input_dir, target_dir)

    def patch_samples(self, input_dir: Path, target_dir: Path) -> list[Sample]:
        """Samples of pre-extracted patches: each input patch (subfolders too) with the GT patch of the same
        relative name, else the GT patch named by its scene (the name without EV suffix)."""
        targets = {
            p.relative_to(target_dir).with_suffix(""): p for p in list_images(target_dir, recursive=True)
        }
        samples, unmatched = [], []
        for path in list_images(input_dir, recursive=True):
            relative = path.relative_to(input_dir)
            scene = split_ev_suffix(path.stem)[0]
            target = targets.get(relative.with_suffix("")) or targets.get(Path(scene))
            if target is None:
                unmatched.append(relative.as_posix())
                continue
            ev = split_ev_suffix(path.stem)[1]
            samples.append(
                Sample(path, relative.as_posix(), target.stem, target, ev=ev, subset=subset_of_ev(ev))
            )
        if unmatched or not samples:
            raise DataLayoutError(
                f"{self.name}: {len(unmatched)} input patches in {input_dir} lack a GT patch in "
                f"{target_dir}: {', '.join(unmatched[:10])}{', …' if len(unmatched) > 10 else ''}"
                if unmatched
                else f"{self.name}: expected patches in {input_dir}, found none"
            )
        return samples

    def train_dataloader(self) -> DataLoader:
        dataset = self.make_dataset(self._train_samples(), training=True)
        return self._loader(dataset, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.make_dataset(self._val_samples(), False), self.val_batch_size, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.make_dataset(self.split_samples("test"), False), self.val_batch_size, False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        """Shuffled loaders draw order and crops from (the process's torch seed, epoch) alone (see
        `data.sampling`), so resumed runs and any number of workers see the same batches."""
        workers, seed, sampler = self.num_workers, torch.initial_seed(), None
        if shuffle:
            trainer = self.trainer
            replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
            dataset = SeededItems(dataset)
            sampler = EpochSampler(dataset, seed, num_replicas=replicas, rank=rank)
            if trainer is not None:  # Lightning iterates a new loader before its first set_epoch call
                sampler.set_epoch(trainer.fit_loop.epoch_progress.current.processed)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=shuffle and len(dataset) >= batch_size,  # type: ignore[arg-type]
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=self._pin_memory(),
            generator=torch.Generator().manual_seed(seed),
        )

    def _pin_memory(self) -> bool:
        if self.pin_memory is not None:
            return bool(self.pin_memory)
        if self.trainer is not None:
            return self.trainer.strategy.root_device.type == "cuda"
        return torch.cuda.is_available()


def as_path(value: str | Path | None) -> Path | None:
    """`value` as an expanded Path; None for None or an empty string."""
    return None if value is None or str(value) == "" else Path(value).expanduser()
