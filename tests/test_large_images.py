"""Large images in `predict`: tiles are read from and written into integer buffers one row of tiles at a
time (the same output as the whole-image float path), a 96-megapixel image stays under 2 GB of peak resident
memory, and running out of memory ends in one line that suggests `tile_size=`."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tests.helpers import REPO

from exposure_lab.data.io import array_to_tensor, decode_image
from exposure_lab.models.baselines import Gamma
from exposure_lab.models.unet import UNet
from exposure_lab.prediction.images import enhance_image
from exposure_lab.prediction.tiled import enhance_array, padded_indices, tiles_in_rows
from exposure_lab.tasks.paired import PairedRestoration


def rounded(image: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    peak = 65535 if dtype == np.uint16 else 255
    return image.mul(peak).round().permute(1, 2, 0).numpy().astype(dtype)


@pytest.mark.parametrize(
    ("shape", "dtype"), [((45, 70), np.uint8), ((37, 29), np.uint16), ((3, 70), np.uint8)]
)
def test_rows_of_tiles_give_the_output_of_the_float_path(shape, dtype):
    torch.manual_seed(0)
    task = PairedRestoration(UNet(base_channels=4, depth=3), tile_size=16, tile_overlap=8).eval()
    peak = np.iinfo(dtype).max
    array = np.random.default_rng(0).integers(0, peak, (*shape, 3), dtype=dtype, endpoint=True)
    assert tiles_in_rows(task, *shape)
    expected = rounded(enhance_image(task, array_to_tensor(array)), dtype)
    assert np.array_equal(enhance_array(task, array), expected)
    array.flags.writeable = False  # read-only, as Pillow's decoded arrays: a separate output buffer
    assert np.array_equal(enhance_array(task, array, in_place=True), expected)
    array.flags.writeable = True
    assert np.array_equal(enhance_array(task, array, in_place=True), expected)
    assert np.array_equal(array, expected)


def test_tiles_of_one_size_multiple_keep_a_separate_output_buffer():
    # 41 rows pad to 48 by reflecting 7 rows, which reach back past the top of the last 8-row tile
    torch.manual_seed(0)
    task = PairedRestoration(UNet(base_channels=4, depth=3), tile_size=8, tile_overlap=4).eval()
    array = np.random.default_rng(1).integers(0, 255, (41, 30, 3), dtype=np.uint8, endpoint=True)
    original = array.copy()
    expected = rounded(enhance_image(task, array_to_tensor(array)), np.uint8)
    assert np.array_equal(enhance_array(task, array, in_place=True), expected)
    assert np.array_equal(array, original)


def test_padding_indices_reflect_or_replicate_as_pad_to_multiple():
    assert padded_indices(5, 8).tolist() == [0, 1, 2, 3, 4, 3, 2, 1]
    assert padded_indices(3, 8).tolist() == [0, 1, 2, 2, 2, 2, 2, 2]


def test_small_images_and_untiled_runs_keep_the_task_forward():
    assert not tiles_in_rows(PairedRestoration(Gamma(), tile_size=None), 5000, 5000)
    assert not tiles_in_rows(PairedRestoration(Gamma(), tile_size=1024), 800, 1024)


def peak_resident_mb(command: list[str], memory_limit: int = 0) -> tuple[int, int, str]:
    """Run `command` (with an address-space limit of `memory_limit` bytes when set) as the only child of a
    fresh interpreter: its exit status, its peak resident memory in MiB and its stderr."""
    script = (
        "import resource, subprocess, sys\n"
        "limit = int(sys.argv[1])\n"
        "def limited():\n"
        "    if limit:\n"
        "        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
        "done = subprocess.run(sys.argv[2:], capture_output=True, text=True, preexec_fn=limited)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(memory_limit), *command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    status, megabytes = done.stdout.split()[-2:]
    return int(status), int(megabytes), done.stderr


def predict_command(*options: str) -> list[str]:
    return [sys.executable, "-m", "exposure_lab.cli", "predict", *options]


def write_gradient(path: Path, height: int, width: int) -> None:
    rows, cols = np.mgrid[0:height, 0:width].astype(np.uint16)
    pixels = np.stack([cols % 256, rows % 256, (cols // 7 + rows // 5) % 256], -1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, compress_level=1)


@pytest.mark.slow
def test_tiled_predict_of_96_megapixels_stays_under_2_gb(tmp_path):
    source = tmp_path / "in" / "huge.png"
    write_gradient(source, 8000, 12000)
    out = tmp_path / "out"
    status, megabytes, stderr = peak_resident_mb(
        predict_command("model=gamma", f"input={source.parent}", f"output={out}")
    )
    assert status == 0, stderr[-2000:]
    assert megabytes < 2048, f"peak resident memory {megabytes} MiB"
    assert decode_image(out / "huge.png").shape == (8000, 12000, 3)


@pytest.mark.slow
def test_out_of_memory_suggests_tiles(tmp_path):
    source = tmp_path / "in" / "big.png"
    write_gradient(source, 3000, 4000)
    command = predict_command(
        "model=unet", "tile_size=null", f"input={source.parent}", f"output={tmp_path}/o"
    )
    status, _, stderr = peak_resident_mb(command, memory_limit=5 * 1024**3)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert status == 2 and len(errors) == 1, stderr[-2000:]
    assert "big.png" in errors[0] and "out of memory" in errors[0] and "tile_size=" in errors[0]
    assert "Traceback" not in stderr
