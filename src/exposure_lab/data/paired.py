"""Paired (input, target) image data: a dataset with aligned crops and a LightningDataModule over folders."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from exposure_lab.data.io import array_to_tensor, decode_image, list_images
from exposure_lab.data.pairing import pair_by_stem, split_ev_suffix, subset_of_ev
from exposure_lab.errors import DataLayoutError

Pair = tuple[Path, Path]


def dihedral(image: torch.Tensor, index: int) -> torch.Tensor:
    """Dihedral transform `index` (0–7) of a (..., H, W) tensor: `index % 4` quarter turns, then a mirror
    when `index >= 4`."""
    out = torch.rot90(image, index % 4, dims=(-2, -1))
    return out.flip(-1) if index >= 4 else out


class PairedImageDataset(Dataset):
    """(input, target) image pairs as dicts of float32 (3, h, w) tensors in [0, 1].

    `patch_size=None` gives full images. With a `patch_size`, `augment=True` takes a random crop and a random
    dihedral transform (the same for input and target; randomness from torch's RNG, seeded per worker by
    the DataLoader); `augment=False` takes the centre crop. `cache_images` keeps decoded images in memory
    (per process), so each file is decoded once.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        patch_size: int | None = None,
        augment: bool = False,
        cache_images: bool = False,
    ) -> None:
        self.pairs = [(Path(i), Path(t)) for i, t in pairs]
        self.patch_size = patch_size
        self.augment = augment
        self.cache_images = cache_images
        self._cache: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        input_path, target_path = self.pairs[index]
        source, target = self._decode(input_path), self._decode(target_path)
        if source.shape != target.shape:
            raise DataLayoutError(
                f"input {input_path} is {source.shape[1]}×{source.shape[0]} but its target {target_path} "
                f"is {target.shape[1]}×{target.shape[0]}; paired images must have the same size"
            )
        if self.patch_size is not None:
            source, target = self._crop(source, target, input_path)
        source_t, target_t = array_to_tensor(source), array_to_tensor(target)
        if self.augment:
            k = int(torch.randint(8, ()).item())
            source_t, target_t = dihedral(source_t, k).contiguous(), dihedral(target_t, k).contiguous()
        ev = split_ev_suffix(input_path.stem)[1]
        return {
            "input": source_t,
            "target": target_t,
            "name": input_path.name,
            "ev": math.nan if ev is None else ev,
            "subset": subset_of_ev(ev),
        }

    def _decode(self, path: Path) -> np.ndarray:
        if not self.cache_images:
            return decode_image(path)
        if path not in self._cache:
            self._cache[path] = decode_image(path)
        return self._cache[path]

    def _crop(self, source: np.ndarray, target: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
        size = self.patch_size
        height, width = source.shape[:2]
        if height < size or width < size:
            raise DataLayoutError(f"{path}: image is {width}×{height}, smaller than patch_size {size}")
        if self.augment:
            top = int(torch.randint(height - size + 1, ()).item())
            left = int(torch.randint(width - size + 1, ()).item())
        else:
            top, left = (height - size) // 2, (width - size) // 2
        window = (slice(top, top + size), slice(left, left + size))
        return source[window], target[window]


def split_by_scene(pairs: Sequence[Pair], val_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Split pairs into (train, val) by scene (= target stem), so all exposures of a scene share a side.

    The val scenes are a seeded random `val_fraction` of the sorted scene names (at least one, and at least
    one scene left for training); the order of `pairs` is kept within each side.
    """
    scenes = sorted({target.stem for _, target in pairs})
    if len(scenes) < 2:
        raise DataLayoutError(
            f"val split: expected at least 2 scenes to split off val_fraction={val_fraction}, "
            f"found {len(scenes)} in {pairs[0][1].parent if pairs else 'no pairs'}"
        )
    n_val = min(max(1, round(val_fraction * len(scenes))), len(scenes) - 1)
    order = np.random.default_rng(seed).permutation(len(scenes))
    val_scenes = {scenes[i] for i in order[:n_val]}
    train = [pair for pair in pairs if pair[1].stem not in val_scenes]
    val = [pair for pair in pairs if pair[1].stem in val_scenes]
    return train, val


class PairedDataModule(LightningDataModule):
    """Paired data from input/target folders (pairing by file stem, EV suffixes understood).

    `input_dir`/`target_dir` are the test (and predict) set. Train pairs come from `train_input_dir`/
    `train_target_dir` when given, else from the test folders; val pairs from `val_input_dir`/`val_target_dir`
    when given, else a seeded scene-level `val_fraction` split of the train pairs. Batches are dicts
    `{"input": (B,3,h,w), "target": (B,3,h,w), "name": list[str], "ev": (B,) float64 (NaN when unknown),
    "subset": list[str]}`; training uses random `patch_size` crops with dihedral augmentation (centre crops
    when `augment=False`), val/test full images (or centre crops of `val_patch_size`). `pin_memory=None` pins
    only when training on CUDA.
    """

    def __init__(
        self,
        input_dir: str | Path | None = None,
        target_dir: str | Path | None = None,
        train_input_dir: str | Path | None = None,
        train_target_dir: str | Path | None = None,
        val_input_dir: str | Path | None = None,
        val_target_dir: str | Path | None = None,
        name: str = "paired",
        patch_size: int = 128,
        batch_size: int = 8,
        val_patch_size: int | None = None,
        val_batch_size: int = 1,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        num_workers: int = 2,
        pin_memory: bool | None = None,
        cache_images: bool = False,
        augment: bool = True,
    ) -> None:
        arguments = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        # Plain values only: Lightning puts these in checkpoints, which are loaded with weights_only=True.
        self.save_hyperparameters(
            {k: str(v) if isinstance(v, Path) else v for k, v in arguments.items()}, logger=False
        )
        self.name = name
        self.dirs: dict[str, tuple[Path | None, Path | None]] = {
            "test": (_as_path(input_dir), _as_path(target_dir)),
            "train": (_as_path(train_input_dir), _as_path(train_target_dir)),
            "val": (_as_path(val_input_dir), _as_path(val_target_dir)),
        }
        self.pairs: dict[str, list[Pair]] = {}

    @property
    def test_is_training_data(self) -> bool:
        """True when no train folders are given, so train/val pairs come from the test folders."""
        return not any(self.dirs["train"])

    def setup(self, stage: str | None = None) -> None:
        """Find and pair the files of the splits `stage` needs; one-line DataLayoutError if they are wrong."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in needed.get(stage or "", ("train", "val", "test")):
            self._split(split)

    def _split(self, split: str) -> list[Pair]:
        if split in self.pairs:
            return self.pairs[split]
        if split == "test":
            self.pairs["test"] = self._find_pairs("test", "", *self.dirs["test"])
            return self.pairs["test"]
        if any(self.dirs["train"]):
            train_pairs = self._find_pairs("train", "train_", *self.dirs["train"])
        else:
            train_pairs = self._find_pairs("train/val", "", *self.dirs["test"])
        if any(self.dirs["val"]):
            self.pairs["train"] = train_pairs
            self.pairs["val"] = self._find_pairs("val", "val_", *self.dirs["val"])
        else:
            self.pairs["train"], self.pairs["val"] = split_by_scene(
                train_pairs, self.hparams.val_fraction, self.hparams.split_seed
            )
        return self.pairs[split]

    def _find_pairs(
        self, split: str, prefix: str, input_dir: Path | None, target_dir: Path | None
    ) -> list[Pair]:
        keys = {f"data.{prefix}input_dir": input_dir, f"data.{prefix}target_dir": target_dir}
        unset = [key for key, value in keys.items() if value is None]
        if unset:
            raise DataLayoutError(
                f"{self.name} {split} split: expected {' and '.join(keys)} (folders of input and target "
                f"images with matching file names), but {' and '.join(unset)} not set"
            )
        inputs, targets = list_images(input_dir), list_images(target_dir)
        for folder, files in ((input_dir, inputs), (target_dir, targets)):
            if not files:
                raise DataLayoutError(
                    f"{self.name} {split} split: expected image files (.png/.jpg/.bmp/.tif) in {folder}, "
                    "found none"
                )
        return pair_by_stem(inputs, targets)

    def train_dataloader(self) -> DataLoader:
        return self._loader(
            PairedImageDataset(
                self._split("train"), self.hparams.patch_size, self.hparams.augment, self.hparams.cache_images
            ),
            self.hparams.batch_size,
            shuffle=True,
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def _eval_loader(self, split: str) -> DataLoader:
        dataset = PairedImageDataset(
            self._split(split), self.hparams.val_patch_size, False, self.hparams.cache_images
        )
        return self._loader(dataset, self.hparams.val_batch_size, shuffle=False)

    def _loader(self, dataset: PairedImageDataset, batch_size: int, shuffle: bool) -> DataLoader:
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(dataset) >= batch_size,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=self._pin_memory(),
        )

    def _pin_memory(self) -> bool:
        if self.hparams.pin_memory is not None:
            return bool(self.hparams.pin_memory)
        if self.trainer is not None:
            return self.trainer.strategy.root_device.type == "cuda"
        return torch.cuda.is_available()


def _as_path(value: str | Path | None) -> Path | None:
    return None if value is None or str(value) == "" else Path(value).expanduser()
