"""Enhancing files and folders: names, sizes and bit depth kept; bad inputs named; nothing overwritten."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from exposure_lab.data.io import decode_image, read_image, write_image
from exposure_lab.errors import DataLayoutError, ExposureLabError, ImageReadError
from exposure_lab.models.baselines import Gamma, Identity
from exposure_lab.prediction.images import predict_paths
from exposure_lab.tasks.paired import PairedRestoration


def task_of(net: torch.nn.Module, tile_size: int | None = None, tile_overlap: int = 32) -> PairedRestoration:
    return PairedRestoration(net, tile_size=tile_size, tile_overlap=tile_overlap)


SIZES = {"b_photo.jpg": (41, 29), "a_scan.png": (37, 53), "c_frame.PNG": (30, 45)}


def save_random(path: Path, height: int, width: int, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, **({"quality": 95} if path.suffix == ".jpg" else {}))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Odd-sized PNG and JPEG files plus a non-image file, in `inputs/`."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for seed, (name, (height, width)) in enumerate(SIZES.items()):
        save_random(folder / name, height, width, seed)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_keeps_names_extensions_and_sizes(folder, tmp_path):
    out = tmp_path / "out" / "nested"
    written = predict_paths(task_of(Gamma(2.2)), folder, out)
    assert [p.name for p in written] == sorted(SIZES)
    assert sorted(p.name for p in out.iterdir()) == sorted(SIZES)
    for path in written:
        assert path.parent == out
        assert tuple(read_image(path).shape[-2:]) == SIZES[path.name]
    expected = read_image(folder / "a_scan.png") ** (1 / 2.2)
    assert (read_image(out / "a_scan.png") - expected).abs().max() <= 0.5 / 255 + 1e-6


def test_single_file_goes_into_the_output_folder(folder, tmp_path):
    written = predict_paths(task_of(Identity()), folder / "a_scan.png", tmp_path / "single")
    assert written == [tmp_path / "single" / "a_scan.png"]
    assert torch.equal(read_image(written[0]), read_image(folder / "a_scan.png"))


def test_tiled_prediction_matches_untiled_for_a_pointwise_net(folder, tmp_path):
    whole = predict_paths(task_of(Gamma()), folder, tmp_path / "whole")
    tiled = predict_paths(task_of(Gamma(), tile_size=16, tile_overlap=4), folder, tmp_path / "tiled")
    for a, b in zip(whole, tiled, strict=True):
        assert torch.equal(read_image(a), read_image(b))


def test_sixteen_bit_png_stays_sixteen_bit(tmp_path):
    source = write_image(tmp_path / "in" / "deep.png", torch.rand(3, 21, 33), bits=16)
    (written,) = predict_paths(task_of(Identity()), source.parent, tmp_path / "out")
    array = decode_image(written)
    assert array.dtype == np.uint16
    assert np.array_equal(array, decode_image(source))


def test_refuses_to_write_into_the_input_folder(folder):
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(ExposureLabError, match="input"):
        predict_paths(task_of(Identity()), folder, folder)
    with pytest.raises(ExposureLabError, match="input"):
        predict_paths(task_of(Identity()), folder / "a_scan.png", folder / ".")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_corrupt_file_is_named_after_the_good_ones_are_written(folder, tmp_path):
    (folder / "b_photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    out = tmp_path / "out"
    with pytest.raises(ImageReadError, match=re.escape(str(folder / "b_photo.jpg"))) as info:
        predict_paths(task_of(Identity()), folder, out)
    assert [p.name for p in info.value.written] == ["a_scan.png", "c_frame.PNG"]
    assert torch.equal(read_image(out / "a_scan.png"), read_image(folder / "a_scan.png"))
    assert not (out / "b_photo.jpg").exists()
    assert (out / "c_frame.PNG").is_file()


def test_on_error_stop_ends_at_the_first_corrupt_file(folder, tmp_path):
    (folder / "b_photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    out = tmp_path / "out"
    with pytest.raises(ImageReadError, match=re.escape(str(folder / "b_photo.jpg"))):
        predict_paths(task_of(Identity()), folder, out, on_error="stop")
    assert (out / "a_scan.png").is_file() and not (out / "c_frame.PNG").exists()


def test_missing_input_empty_folder_and_non_image_file_are_user_errors(tmp_path):
    with pytest.raises(DataLayoutError, match="nowhere"):
        predict_paths(task_of(Identity()), tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataLayoutError, match="empty"):
        predict_paths(task_of(Identity()), tmp_path / "empty", tmp_path / "out")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageReadError, match=re.escape(str(tmp_path / "notes.txt"))):
        predict_paths(task_of(Identity()), tmp_path / "notes.txt", tmp_path / "out")
