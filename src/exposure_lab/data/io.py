"""Image decoding and encoding: files ↔ float32 RGB tensors (3, H, W) in [0, 1]."""

from __future__ import annotations

import contextlib
import os
import re
import struct
import uuid
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from exposure_lab.errors import DataLayoutError, ImageReadError

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
_ORIENTATION_TAG = 0x0112
LARGE_IMAGE_PIXELS = 1 << 24  # PNGs above this decode through libpng (see _is_large)
_DECODE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    SyntaxError,
    zlib.error,
    Image.DecompressionBombError,
)
_TORCH_SOURCE = re.compile(r"^.*\.(?:cpp|h):\d+, ")  # torchvision prefixes C++ source locations


def list_images(folder: Path | str, recursive: bool = False) -> list[Path]:
    """Sorted image files (by extension, case-insensitive) in `folder`; hidden files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        found = "a file" if folder.exists() else "nothing"
        raise DataLayoutError(f"{folder}: expected a folder of images, found {found}")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in candidates
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith(".")
    )


def image_inputs(input: Path | str) -> list[Path]:
    """The image files a command reads: `input` itself when it is an image file, else the images of the
    folder `input` (sorted, not recursive)."""
    input = Path(input)
    extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
    if input.is_dir():
        paths = list_images(input)
        if not paths:
            raise DataLayoutError(f"{input}: no images in this folder (looked for {extensions})")
        return paths
    if not input.exists():
        raise DataLayoutError(f"{input}: no such file or folder")
    if input.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ImageReadError(f"{input}: not an image file name (expected one of {extensions})")
    return [input]


def decode_image(path: Path | str) -> np.ndarray:
    """Decode an image file to an RGB array (H, W, 3), uint8 or uint16 (16-bit PNG/TIFF keep 16 bits).

    Grayscale becomes 3 channels, alpha is dropped, palettes are expanded and EXIF orientation is applied.
    Raises ImageReadError naming the file when it is missing, empty, truncated or not a decodable image.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(32)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read image file ({exc.strerror or exc})") from exc
    if not head:
        raise ImageReadError(f"{path}: empty file (0 bytes), not an image")
    try:
        if head.startswith(_PNG_SIGNATURE) and len(head) > 24 and (head[24] == 16 or _is_large(head)):
            array = _decode_png16(np.fromfile(path, dtype=np.uint8))
        else:
            array = _decode_pillow(path)
    except _DECODE_ERRORS as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(
            f"{path}: truncated or corrupt image ({_TORCH_SOURCE.sub('', message)})"
        ) from exc
    return _to_rgb(array)


def read_image(path: Path | str) -> torch.Tensor:
    """Read an image file as a float32 RGB tensor (3, H, W) in [0, 1]; see `decode_image`."""
    return array_to_tensor(decode_image(path))


def array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8/uint16 array (H, W, 3) → float32 tensor (3, H, W) in [0, 1]."""
    scale = 65535.0 if array.dtype == np.uint16 else 255.0
    tensor = torch.from_numpy(np.ascontiguousarray(array).astype(np.float32, copy=False))
    return tensor.permute(2, 0, 1).div_(scale).contiguous()


def write_image(path: Path | str, image: torch.Tensor, bits: int = 8, quality: int = 95) -> Path:
    """Write a (3, H, W) tensor in [0, 1] (clamped, rounded to nearest) atomically; returns the path.

    The format follows the extension: PNG and TIFF take `bits` 8 or 16, JPEG (`quality`) and BMP 8 only.
    Parent folders are created.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"{path}: expected an image tensor of shape (3, H, W), got {tuple(image.shape)}")
    if bits not in (8, 16):
        raise ValueError(f"{path}: cannot write {bits}-bit images (8 or 16)")
    peak, dtype = (65535, np.uint16) if bits == 16 else (255, np.uint8)
    hwc = image.detach().float().cpu().clamp(0, 1).mul(peak).round().permute(1, 2, 0).numpy().astype(dtype)
    return write_array(path, hwc, quality)


def write_array(path: Path | str, array: np.ndarray, quality: int = 95) -> Path:
    """Write a uint8 or uint16 (H, W, 3) array atomically (temp file + rename), format by extension."""
    path = Path(path)
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported image extension (use one of {sorted(_WRITE_FORMATS)})")
    if array.dtype not in (np.uint8, np.uint16) or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{path}: expected a uint8/uint16 (H, W, 3) array, got {array.dtype} {array.shape}")
    if array.dtype == np.uint16 and fmt not in ("PNG", "TIFF"):
        raise ValueError(f"{path}: cannot write 16-bit {fmt}")
    with atomic_output(path) as tmp_name:
        if array.dtype == np.uint16 and fmt == "PNG":
            tmp_name.write_bytes(_encode_png16(array))
        elif fmt == "PNG" and array.shape[0] * array.shape[1] > LARGE_IMAGE_PIXELS:
            tmp_name.write_bytes(_encode_large_png(array))
        elif array.dtype == np.uint16:
            import tifffile

            tifffile.imwrite(tmp_name, array, photometric="rgb")
        else:
            options = {"quality": quality} if fmt == "JPEG" else {}
            Image.fromarray(np.ascontiguousarray(array)).save(tmp_name, format=fmt, **options)
    return path


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """A temporary path beside `path` to write a file to; renamed onto `path` when the block succeeds (a link
    at `path` is replaced, never followed, and readers never see half a file), deleted when it fails. Parent
    folders are created; an OSError (no space, no permission) names `path`, not the temporary file."""
    path = Path(path)
    tmp_name = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp_name
        os.replace(tmp_name, path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    finally:
        tmp_name.unlink(missing_ok=True)


def _decode_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        if image.format == "TIFF" and image.mode in ("RGB", "RGBA") and _tiff_bits(image) > 8:
            return _orient(_decode_tiff_high_bit_depth(path), image.getexif().get(_ORIENTATION_TAG, 1))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # in place: no second copy of a large image
        if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            return np.clip(np.asarray(image, dtype=np.int64), 0, 65535).astype(np.uint16)
        if image.mode == "F":
            return (np.clip(np.asarray(image, dtype=np.float32), 0, 1) * 65535 + 0.5).astype(np.uint16)
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _tiff_bits(image: Image.Image) -> int:
    bits = image.tag_v2.get(258, (8,))
    return max(bits) if isinstance(bits, tuple) else int(bits)


def _decode_tiff_high_bit_depth(path: Path) -> np.ndarray:
    # Pillow reduces 16-bit RGB TIFF to 8 bits; tifffile keeps the precision.
    import tifffile

    array = tifffile.imread(path)
    if array.dtype.kind == "f":
        return (np.clip(array, 0, 1) * 65535 + 0.5).astype(np.uint16)
    if array.dtype != np.uint16 or array.ndim != 3:
        raise ValueError(f"unsupported TIFF layout {array.dtype} {array.shape}")
    return array


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1–8) to an (H, W, C) array, as Pillow's `ImageOps.exif_transpose` does."""
    if orientation in (5, 6, 7, 8):
        array = np.rot90(array, k={5: 1, 6: -1, 7: -1, 8: 1}[orientation])
    if orientation in (2, 5, 7):
        array = array[:, ::-1] if orientation == 2 else array[::-1]
    elif orientation in (3, 4):
        array = array[::-1] if orientation == 4 else array[::-1, ::-1]
    return np.ascontiguousarray(array)


def _is_large(png_head: bytes) -> bool:
    # Pillow holds about three copies of an 8-bit image while decoding it, libpng (torchvision) one: above
    # LARGE_IMAGE_PIXELS that is what keeps tiled predict of a 96-megapixel image under 2 GB.
    width, height = struct.unpack(">II", png_head[16:24])
    return width * height > LARGE_IMAGE_PIXELS


def _decode_png16(data: np.ndarray) -> np.ndarray:
    # 16-bit and large PNGs (`data`: the file's bytes). Pillow reduces 16-bit RGB(A) PNG to 8 bits;
    # torchvision's libpng decoder keeps 16 bits (its image I/O is deprecated from 0.29 in favour of
    # torchcodec, but torchvision is pinned, so the warning is muted).
    from torchvision.io import ImageReadMode, decode_png

    buffer = torch.from_numpy(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        chw = decode_png(buffer, ImageReadMode.UNCHANGED, apply_exif_orientation=True)
    return chw.permute(1, 2, 0).numpy()


def _to_rgb(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    if channels in (1, 2):
        array = np.repeat(array[:, :, :1], 3, axis=2)
    elif channels >= 3:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)


def _encode_large_png(hwc: np.ndarray) -> np.ndarray:
    # Pillow holds an RGB image as 4 bytes a pixel, a copy larger than the array; libpng encodes the (H,W,3)
    # array in place (the CHW view permutes back to it without a copy).
    from torchvision.io import encode_png

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        encoded = encode_png(torch.from_numpy(np.ascontiguousarray(hwc)).permute(2, 0, 1))
    return encoded.numpy()  # the file's bytes


def _encode_png16(hwc: np.ndarray) -> bytes:
    """Minimal 16-bit RGB PNG encoder (Pillow has no 48-bit mode); 'Sub' filter on every row."""
    height, width, _ = hwc.shape
    raw = np.ascontiguousarray(hwc, dtype=">u2").view(np.uint8).reshape(height, width * 6)
    filtered = raw.copy()
    filtered[:, 6:] = raw[:, 6:] - raw[:, :-6]
    scanlines = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
