"""Torch datasets over `Sample` lists: paired images (with optional expert references) and unpaired images."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from exposure_lab.data.io import array_to_tensor, decode_image
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

log = logging.getLogger(__name__)

Window = tuple[slice, slice]


def dihedral(image: torch.Tensor, index: int) -> torch.Tensor:
    """Dihedral transform `index` (0–7) of a (..., H, W) tensor: `index % 4` quarter turns, then a mirror
    when `index >= 4`."""
    out = torch.rot90(image, index % 4, dims=(-2, -1))
    return out.flip(-1) if index >= 4 else out


def metadata(sample: Sample) -> dict[str, Any]:
    """The batch fields every dataset item carries: `name`, `ev` (NaN when unknown) and `subset`."""
    return {
        "name": sample.name,
        "ev": math.nan if sample.ev is None else sample.ev,
        "subset": sample.subset,
    }


class ImageCache:
    """Decodes images, keeping them in memory (per process) when `enabled`, so each file is decoded once."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._images: dict[Path, np.ndarray] = {}

    def __call__(self, path: Path) -> np.ndarray:
        if not self.enabled:
            return decode_image(path)
        if path not in self._images:
            self._images[path] = decode_image(path)
        return self._images[path]


class SampleDataset(Dataset):
    """A dataset over `samples`, decoding images through an optional in-memory cache."""

    def __init__(self, samples: Sequence[Sample], cache_images: bool = False) -> None:
        self.samples = list(samples)
        self.decode = ImageCache(cache_images)

    def __len__(self) -> int:
        return len(self.samples)


class PairedImageDataset(SampleDataset):
    """Samples with a `target` as dicts of float32 (3, h, w) tensors in [0, 1].

    `patch_size=None` gives full images. With a `patch_size`, `augment=True` takes a random crop (chosen by
    `patch_rules` when given: the first of up to `max_tries` random windows whose reference passes the patch
    rejection rules, else a plain random one) and a random dihedral transform, the same for input, target and
    experts (randomness from torch's RNG, seeded per worker by the DataLoader); `augment=False` takes the
    centre crop. Items also hold `experts` ({letter: (3, h, w)}) when the samples have several references.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        patch_size: int | None = None,
        augment: bool = False,
        cache_images: bool = False,
        patch_rules: Any = None,
    ) -> None:
        missing = [s.name for s in samples if s.target is None]
        if missing:
            raise DataLayoutError(f"{len(missing)} samples have no target image: {', '.join(missing[:10])}")
        super().__init__(samples, cache_images)
        self.patch_size = patch_size
        self.augment = augment
        self.patch_rules = patch_rules
        self.fallback_crops = 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        assert sample.target is not None
        images = {"input": self.decode(sample.input), "target": self.decode(sample.target)}
        experts = {letter: self.decode(path) for letter, path in sample.experts}
        references = [("target", sample.target, images["target"])]
        references += [
            (f"expert {letter} rendition", path, experts[letter]) for letter, path in sample.experts
        ]
        for label, path, array in references:
            _require_same_size(sample.input, images["input"], path, array, label)
        tensors = {key: array_to_tensor(array) for key, array in images.items()}
        expert_tensors = {letter: array_to_tensor(array) for letter, array in experts.items()}
        if self.patch_size is not None:
            window = self._window(sample, tensors)
            tensors = {key: t[:, window[0], window[1]] for key, t in tensors.items()}
            expert_tensors = {k: t[:, window[0], window[1]] for k, t in expert_tensors.items()}
        if self.augment:
            k = int(torch.randint(8, ()).item())
            tensors = {key: dihedral(t, k).contiguous() for key, t in tensors.items()}
            expert_tensors = {key: dihedral(t, k).contiguous() for key, t in expert_tensors.items()}
        item = {**tensors, **metadata(sample)}
        if expert_tensors:
            item["experts"] = expert_tensors
        return item

    def _window(self, sample: Sample, tensors: Mapping[str, torch.Tensor]) -> Window:
        size = self.patch_size
        assert size is not None
        height, width = tensors["input"].shape[-2:]
        screened = self.augment and self.patch_rules is not None
        top, left = crop_corner(sample.input, height, width, size, randomly=self.augment and not screened)
        if screened:
            top, left = self._screened_corner(sample, tensors)
        return slice(top, top + size), slice(left, left + size)

    def _screened_corner(self, sample: Sample, tensors: Mapping[str, torch.Tensor]) -> tuple[int, int]:
        from exposure_lab.data.patch_rules import choose_corners

        size = self.patch_size
        assert size is not None
        reference = tensors["target"] if self.patch_rules.reference == "gt" else tensors["input"]
        height, width = reference.shape[-2:]
        if height == size or width == size:  # one window along that side: nothing to choose between
            return random_corner(height, width, size)
        search = choose_corners(reference, size, 1, self.patch_rules)
        if search.corners:
            return search.corners[0]
        self.fallback_crops += 1
        if self.fallback_crops in (1, 100, 10_000):
            log.warning(
                "%d training crop(s) fell back to a plain random window: no window of %s passed the patch "
                "rules in %d tries (latest: %s)",
                self.fallback_crops,
                size,
                self.patch_rules.max_tries,
                sample.name,
            )
        return random_corner(height, width, size)


class UnpairedImageDataset(SampleDataset):
    """Samples without a target as dicts with an `input` float32 (3, h, w) tensor in [0, 1] and metadata.

    `size` (int) brings every image to `size`×`size`: `mode="resize"` resizes (bilinear, antialiased; as
    Zero-DCE's 512×512 training images), `mode="crop"` takes a random crop (`augment`) or the centre crop;
    `size=None` keeps full images. `augment` adds a random dihedral transform.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        size: int | None = None,
        mode: str = "resize",
        augment: bool = False,
        cache_images: bool = False,
    ) -> None:
        if mode not in ("resize", "crop"):
            raise DataLayoutError(f"unpaired data: mode must be 'resize' or 'crop', got {mode!r}")
        super().__init__(samples, cache_images)
        self.size = size
        self.mode = mode
        self.augment = augment

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        image = array_to_tensor(self.decode(sample.input))
        if self.size is not None:
            image = self._fit(image, sample)
        if self.augment:
            image = dihedral(image, int(torch.randint(8, ()).item())).contiguous()
        return {"input": image, **metadata(sample)}

    def _fit(self, image: torch.Tensor, sample: Sample) -> torch.Tensor:
        size = self.size
        assert size is not None
        if self.mode == "resize":
            resized = F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True)
            return resized[0].clamp(0, 1)
        top, left = crop_corner(sample.input, *image.shape[-2:], size, self.augment, size_name="crop size")
        return image[:, top : top + size, left : left + size]


def crop_corner(
    path: Path, height: int, width: int, size: int, randomly: bool, size_name: str = "patch_size"
) -> tuple[int, int]:
    """Top-left corner of a `size`×`size` crop of the `height`×`width` image at `path`: uniformly random when
    `randomly`, else the centre; one-line DataLayoutError when the image is smaller than `size`."""
    if height < size or width < size:
        raise DataLayoutError(f"{path}: image is {width}×{height}, smaller than {size_name} {size}")
    return random_corner(height, width, size) if randomly else ((height - size) // 2, (width - size) // 2)


def random_corner(height: int, width: int, size: int) -> tuple[int, int]:
    """A uniformly random top-left corner of a `size`×`size` window in a `height`×`width` image."""
    top = int(torch.randint(height - size + 1, ()).item())
    left = int(torch.randint(width - size + 1, ()).item())
    return top, left


def _require_same_size(
    input_path: Path, source: np.ndarray, other_path: Path, other: np.ndarray, label: str
) -> None:
    if source.shape[:2] != other.shape[:2]:
        raise DataLayoutError(
            f"input {input_path} is {source.shape[1]}×{source.shape[0]} but its {label} {other_path} is "
            f"{other.shape[1]}×{other.shape[0]}; paired images must have the same size"
        )
