"""Enhancing image files with a net: one file or every image of a folder, written under the same names."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from exposure_lab.data.io import array_to_tensor, decode_image, image_inputs, write_array, write_image
from exposure_lab.errors import ExposureLabError, ImageReadError
from exposure_lab.prediction.outputs import UnreadableImages, check_on_error, check_output_folder
from exposure_lab.prediction.tiled import enhance_array, tiles_in_rows

_SIXTEEN_BIT_SUFFIXES = frozenset({".png", ".tif", ".tiff"})


def predict_paths(
    task: nn.Module,
    input: Path | str,
    output: Path | str,
    device: str | torch.device = "cpu",
    on_error: str = "continue",
) -> list[Path]:
    """Enhance an image file, or every image in a folder (sorted, not recursive), into the folder `output`.

    Each result keeps its input's file name and extension and is written atomically, clamped to [0,1]: 16-bit
    when the input is a 16-bit PNG/TIFF, else 8-bit. `output` is created; it may not be the folder holding the
    inputs (nothing is overwritten). `task` maps (1,3,H,W) in [0,1] to the enhanced (1,3,H,W): a task's
    forward, which pads and tiles as its own settings say; it is moved to `device` and put in eval mode. A
    file that cannot be decoded is skipped and, once every other file is written, UnreadableImages names
    each such file (`on_error="stop"`: its ImageReadError at once). Returns the written paths in input order.
    """
    check_on_error(on_error)
    input, output = Path(input), Path(output)
    paths = image_inputs(input)
    check_output_folder(output, paths)
    output.mkdir(parents=True, exist_ok=True)
    task = task.to(device).eval()
    written, problems = [], []
    for path in tqdm(paths, desc="predict", unit="img", disable=len(paths) < 2):
        try:
            array = decode_image(path)
        except ImageReadError as exc:
            if on_error == "stop":
                raise
            problems.append(str(exc))
            continue
        with out_of_memory_hint(path, array.shape):
            if tiles_in_rows(task, *array.shape[:2]):  # large: tiles from and into integer buffers
                written.append(
                    write_array(output / path.name, enhance_array(task, array, device, in_place=True))
                )
                continue
            y = enhance_image(task, array_to_tensor(array).to(device))
        written.append(write_image(output / path.name, y, bits=output_bits(array, path)))
    if problems:
        raise UnreadableImages(problems, written)
    return written


def enhance_image(task: nn.Module, image: Tensor) -> Tensor:
    """The task's forward on one (3,H,W) image in [0,1] → the enhanced (3,H,W), clamped to [0,1]."""
    with torch.inference_mode():
        return task(image.unsqueeze(0))[0].clamp(0.0, 1.0)


def output_bits(array: np.ndarray, path: Path) -> int:
    """The bit depth predict writes for an input decoded as `array` from `path`: 16 for a 16-bit PNG/TIFF."""
    return 16 if array.dtype == np.uint16 and path.suffix.lower() in _SIXTEEN_BIT_SUFFIXES else 8


@contextlib.contextmanager
def out_of_memory_hint(path: Path, shape: tuple[int, ...]) -> Iterator[None]:
    """Turn running out of memory on the image `path` of `shape` (H, W, C) into one line suggesting tiles."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError | torch.OutOfMemoryError) and "alloc" not in str(exc):
            raise
        height, width = shape[:2]
        raise ExposureLabError(
            f"{path}: out of memory enhancing this {width}×{height} image; run it in tiles with "
            "tile_size=512 (or smaller)"
        ) from exc
