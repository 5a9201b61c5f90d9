"""Running a net on whole images of any size: padding to its size multiple, cropping back, and tiling."""

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def primary_output(out: Tensor | Sequence | Mapping) -> Tensor:
    """The image a net returned: the tensor, the first element of a tuple/list, or ``out["output"]``."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, Mapping):
        if "output" not in out:
            raise TypeError(f"net returned a dict without an 'output' key (keys: {sorted(out)})")
        return out["output"]
    if isinstance(out, Sequence) and len(out) > 0 and isinstance(out[0], Tensor):
        return out[0]
    raise TypeError(f"net returned {type(out).__name__}; expected a Tensor, a tuple/list of them or a dict")


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad (..., H, W) at the bottom and right so both sizes are multiples of ``multiple``.

    Reflect padding; an axis whose pad is not smaller than its size (reflection impossible) is padded by
    replication instead. Returns the padded tensor and the original (H, W) for :func:`crop_to`.
    """
    if multiple < 1:
        raise ValueError(f"pad_to_multiple: multiple must be >= 1, got {multiple}")
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_w:
        x = F.pad(x, (0, pad_w, 0, 0), mode="reflect" if pad_w < width else "replicate")
    if pad_h:
        x = F.pad(x, (0, 0, 0, pad_h), mode="reflect" if pad_h < height else "replicate")
    return x, (height, width)


def crop_to(x: Tensor, hw: tuple[int, int]) -> Tensor:
    """The top-left (H, W) = ``hw`` region of (..., H', W'): undoes :func:`pad_to_multiple`."""
    return x[..., : hw[0], : hw[1]]


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(B,C,H,W) → (B,C,*size), bilinear with antialias (torchvision `Resize` on tensors, as the official
    P-IEANet scripts use); `x` itself when it already has that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _tile_spans(size: int, tile: int, stride: int) -> list[tuple[int, int, int, int]]:
    """Tiles along one axis as (start, end, keep_from, keep_to).

    Consecutive tiles split their overlap at its middle, so every kept pixel lies at least
    ``floor(overlap / 2)`` pixels inside its tile, except on the image border.
    """
    if size <= tile:
        return [(0, size, 0, size)]
    starts = [*range(0, size - tile, stride), size - tile]
    ends = [start + tile for start in starts]
    cuts = [0] + [(starts[k + 1] + ends[k]) // 2 for k in range(len(starts) - 1)] + [size]
    return [(starts[k], ends[k], cuts[k], cuts[k + 1]) for k in range(len(starts))]


def enhance(net: nn.Module, x: Tensor, tile_size: int | None = None, tile_overlap: int = 32) -> Tensor:
    """Run ``net`` on (B,3,H,W) in [0,1] of any size → its output (B,C,H,W), not clamped.

    The image is padded to ``net.size_multiple`` and the output cropped back. When ``tile_size`` is set and
    the padded image is larger than it, the net runs on overlapping tiles of ``tile_size`` (rounded up to the
    size multiple; starts on multiples of it, consecutive tiles overlapping by at least ``tile_overlap``) and
    each output pixel is taken from the tile that holds it farthest from that tile's edge. A net whose
    receptive-field radius is at most ``tile_overlap // 2`` therefore gives exactly its untiled output. Runs
    under ``torch.inference_mode()``; the net's train/eval mode is left to the caller.
    """
    if tile_size is not None and (tile_size < 1 or not 0 <= tile_overlap < tile_size):
        raise ValueError(
            f"enhance: need tile_size >= 1 and 0 <= tile_overlap < tile_size, "
            f"got tile_size={tile_size}, tile_overlap={tile_overlap}"
        )
    multiple = int(getattr(net, "size_multiple", 1))
    with torch.inference_mode():
        padded, hw = pad_to_multiple(x, multiple)
        height, width = padded.shape[-2:]
        if tile_size is None:
            tile, stride = max(height, width), 1
        else:
            tile = -(-tile_size // multiple) * multiple
            stride = max(multiple, (tile - tile_overlap) // multiple * multiple)
        result = None
        for top, bottom, keep_top, keep_bottom in _tile_spans(height, tile, stride):
            for left, right, keep_left, keep_right in _tile_spans(width, tile, stride):
                out = primary_output(net(padded[..., top:bottom, left:right]))
                if result is None:
                    result = out.new_empty((*out.shape[:-2], height, width))
                result[..., keep_top:keep_bottom, keep_left:keep_right] = out[
                    ..., keep_top - top : keep_bottom - top, keep_left - left : keep_right - left
                ]
        return crop_to(result, hw)
