"""Image decoding/encoding: formats, bit depths, channel layouts, EXIF orientation and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from exposure_lab.data.io import IMAGE_EXTENSIONS, list_images, read_image, write_image
from exposure_lab.errors import DataLayoutError, ImageReadError


def smooth_image(height: int = 24, width: int = 32) -> torch.Tensor:
    """A smooth RGB ramp (3, H, W) in [0, 1] that survives JPEG well."""
    y = torch.linspace(0, 1, height)[:, None].expand(height, width)
    x = torch.linspace(0, 1, width)[None, :].expand(height, width)
    return torch.stack([x, y, 0.5 * (x + y)])


def blocks_uint8(height: int, width: int) -> np.ndarray:
    """A flat colour per quadrant (orientation survives JPEG): TL red, TR green, BL blue, BR white."""
    image = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    image[:h, :w] = (255, 0, 0)
    image[:h, w:] = (0, 255, 0)
    image[h:, :w] = (0, 0, 255)
    image[h:, w:] = (255, 255, 255)
    return image


@pytest.mark.parametrize(
    ("suffix", "bits", "tolerance"),
    [
        (".png", 8, 0.5 / 255),
        (".png", 16, 0.5 / 65535),
        (".bmp", 8, 0.5 / 255),
        (".tif", 8, 0.5 / 255),
        (".tiff", 16, 0.5 / 65535),
        (".jpg", 8, 12 / 255),
    ],
)
def test_write_read_roundtrip(tmp_path, suffix, bits, tolerance):
    image = smooth_image()
    path = write_image(tmp_path / "sub" / f"ramp{suffix}", image, bits=bits)
    decoded = read_image(path)
    assert decoded.dtype == torch.float32 and decoded.shape == (3, 24, 32)
    assert (decoded - image).abs().max() <= tolerance + 1e-6
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_16bit_png_keeps_16_bits(tmp_path):
    values = np.array([[[1, 257, 65534], [300, 40000, 65535]]], dtype=np.uint16)  # not multiples of 257
    write_image(
        tmp_path / "deep.png", torch.from_numpy(values.astype(np.float32) / 65535).permute(2, 0, 1), bits=16
    )
    decoded = read_image(tmp_path / "deep.png")
    assert torch.equal(
        torch.round(decoded * 65535).to(torch.int64).permute(1, 2, 0),
        torch.from_numpy(values.astype(np.int64)),
    )


def test_16bit_grayscale_png_from_pillow(tmp_path):
    gray = np.array([[0, 1000], [33333, 65535]], dtype=np.uint16)
    Image.fromarray(gray).save(tmp_path / "gray16.png")
    decoded = read_image(tmp_path / "gray16.png")
    assert decoded.shape == (3, 2, 2)
    for channel in decoded:
        assert torch.allclose(channel, torch.from_numpy(gray / 65535.0).float(), atol=1e-7)


def test_16bit_rgb_tiff_from_tifffile(tmp_path):
    values = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3001
    tifffile.imwrite(tmp_path / "deep.tif", values, photometric="rgb")
    decoded = read_image(tmp_path / "deep.tif")
    assert torch.allclose(decoded.permute(1, 2, 0), torch.from_numpy(values / 65535.0).float(), atol=1e-7)


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_grayscale_becomes_three_equal_channels(tmp_path, mode):
    gray = (np.arange(6 * 5).reshape(6, 5) * 8).astype(np.uint8)
    Image.fromarray(gray).convert(mode).save(tmp_path / "gray.png")
    decoded = read_image(tmp_path / "gray.png")
    assert decoded.shape == (3, 6, 5)
    assert torch.equal(decoded[0], decoded[1]) and torch.equal(decoded[1], decoded[2])
    if mode != "1":
        assert torch.allclose(decoded[0], torch.from_numpy(gray / 255.0).float())


def test_rgba_alpha_is_dropped(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 200, 100, 50, 0  # fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    decoded = read_image(tmp_path / "rgba.png")
    assert decoded.shape == (3, 4, 4)
    assert torch.allclose(decoded[:, 0, 0], torch.tensor([200, 100, 50]) / 255.0)


def test_palette_image_expands_to_rgb(tmp_path):
    index = np.array([[0, 1], [2, 1]], np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    image.save(tmp_path / "palette.png")
    decoded = read_image(tmp_path / "palette.png")
    assert torch.equal(decoded[:, 0, 0], torch.tensor([1.0, 0, 0]))
    assert torch.equal(decoded[:, 0, 1], torch.tensor([0, 1.0, 0]))
    assert torch.equal(decoded[:, 1, 0], torch.tensor([0, 0, 1.0]))


def test_jpeg_exif_orientation_6_is_applied(tmp_path):
    stored = blocks_uint8(16, 32)  # H=16, W=32 as stored; orientation 6 = display rotated 90° clockwise
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    decoded = read_image(tmp_path / "rotated.jpg")
    assert decoded.shape == (3, 32, 16)
    expected = torch.from_numpy(np.rot90(stored, k=-1).copy()).permute(2, 0, 1).float() / 255
    assert (decoded - expected).abs().mean() < 0.03


def test_16bit_tiff_exif_orientation_is_applied(tmp_path):
    stored = blocks_uint8(4, 6).astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "rotated.tif", stored, photometric="rgb", extratags=[(274, "H", 1, 8, True)])
    decoded = read_image(tmp_path / "rotated.tif")
    expected = torch.from_numpy(np.rot90(stored, k=1) / 65535.0).float().permute(2, 0, 1)
    assert torch.equal(decoded, expected)


def _bad_files(tmp_path):
    good_png = write_image(tmp_path / "good.png", torch.rand(3, 64, 64)).read_bytes()
    good_png16 = write_image(tmp_path / "good16.png", torch.rand(3, 64, 64), bits=16).read_bytes()
    good_jpg = write_image(tmp_path / "good.jpg", torch.rand(3, 64, 64)).read_bytes()
    good_tif = write_image(tmp_path / "good.tif", torch.rand(3, 64, 64)).read_bytes()
    return {
        "empty.png": b"",
        "truncated.png": good_png[: len(good_png) // 2],
        "truncated16.png": good_png16[: len(good_png16) // 2],
        "truncated.jpg": good_jpg[: len(good_jpg) // 2],
        "truncated.tif": good_tif[: len(good_tif) // 2],
        "garbage.jpg": b"this is not an image at all" * 10,
    }


def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path):
    for name, content in _bad_files(tmp_path).items():
        path = tmp_path / "bad" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, message
    with pytest.raises(ImageReadError, match=r"missing\.png: cannot read"):
        read_image(tmp_path / "missing.png")


def test_zero_byte_message_says_empty(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"zero\.png: empty file \(0 bytes\)"):
        read_image(tmp_path / "zero.png")


def test_list_images_filters_and_sorts(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.tiff", "notes.txt", ".hidden.png", "d.bmp", "e.jpeg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.tiff", "d.bmp", "e.jpeg"]
    assert {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"} == IMAGE_EXTENSIONS


def test_list_images_missing_folder(tmp_path):
    with pytest.raises(DataLayoutError, match="nope: expected a folder of images, found nothing"):
        list_images(tmp_path / "nope")


def test_write_image_rejects_impossible_requests(tmp_path):
    with pytest.raises(ValueError, match="16-bit JPEG"):
        write_image(tmp_path / "x.jpg", torch.rand(3, 4, 4), bits=16)
    with pytest.raises(ValueError, match="extension"):
        write_image(tmp_path / "x.gif", torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        write_image(tmp_path / "x.png", torch.rand(1, 3, 4, 4))


def test_write_image_rounds_to_nearest_and_clamps(tmp_path):
    image = torch.tensor([0.4 / 255, 0.6 / 255, 1.7, -0.2]).reshape(1, 2, 2).expand(3, 2, 2)
    decoded = read_image(write_image(tmp_path / "r.png", image)) * 255
    assert decoded[0].flatten().tolist() == [0.0, 1.0, 255.0, 0.0]
