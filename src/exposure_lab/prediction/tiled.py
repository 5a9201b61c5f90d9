"""Tiled enhancement of a large image kept as 8- or 16-bit integers: only one row of tiles is held as floats,
so an image of N pixels needs one integer buffer (3 · N bytes at 8 bits; `predict` overwrites the input with
the output) plus that row, instead of several whole-image float copies."""

import numpy as np
import torch
from torch import Tensor, nn

from exposure_lab.inference import primary_output, tile_weights
from exposure_lab.tasks.paired import PairedRestoration


def tiles_in_rows(task: nn.Module, height: int, width: int) -> bool:
    """Whether `task` on a `height`×`width` image is the plain tiled `enhance` of its net (PairedRestoration's
    forward) over more than one tile, so that `enhance_array` gives its output."""
    if type(task).forward is not PairedRestoration.forward or task.tile_size is None:
        return False
    multiple = int(getattr(task.net, "size_multiple", 1))
    tile = -(-task.tile_size // multiple) * multiple
    return max(height + -height % multiple, width + -width % multiple) > tile


def padded_indices(size: int, padded: int) -> np.ndarray:
    """The source index of each of `padded` positions when `size` is padded at the end as `pad_to_multiple`
    pads: reflected (no edge repeat), or replicated when the pad is not smaller than `size`."""
    positions = np.arange(padded)
    beyond = positions >= size
    positions[beyond] = 2 * (size - 1) - positions[beyond] if padded - size < size else size - 1
    return positions


def enhance_array(
    task: nn.Module, array: np.ndarray, device: str | torch.device = "cpu", in_place: bool = False
) -> np.ndarray:
    """(H,W,3) uint8 or uint16 image → the enhanced image of the same dtype: `task`'s forward clamped to
    [0,1] and rounded, by the tiles, feather weights and running weighted mean of `inference.enhance` in its
    order, one row of tiles at a time in one reused float buffer. `task.net` runs on `device` in inference
    mode. `in_place`: the result overwrites `array` when it is writable and tiles span at least two size
    multiples (rows are written once no later tile reads them), which saves a whole-image buffer."""
    net, multiple = task.net, int(getattr(task.net, "size_multiple", 1))
    height, width = array.shape[:2]
    peak = 65535.0 if array.dtype == np.uint16 else 255.0
    rows = padded_indices(height, height + -height % multiple)
    cols = padded_indices(width, width + -width % multiple)
    tile = -(-task.tile_size // multiple) * multiple
    stride = max(multiple, (tile - task.tile_overlap) // multiple * multiple)
    # the bottom reflect padding reads up to 2·pad + 1 < 2·multiple rows back: all inside the last tile row
    overwrite = in_place and array.flags.writeable and tile >= 2 * multiple
    output = array if overwrite else np.empty_like(array)
    result, total = torch.zeros(3, tile, len(cols)), torch.zeros(tile, len(cols))  # rows first, first + tile
    first = 0
    with torch.inference_mode():
        for top, bottom, weight_y in tile_weights(len(rows), tile, stride):
            done = top - first  # rows no later tile reaches: final
            if done:
                _write_rows(result[:, :done], first, output, peak)
                _shift_up(result, done)
                _shift_up(total, done)
                first = top
            for left, right, weight_x in tile_weights(len(cols), tile, stride):
                pixels = array[np.ix_(rows[top:bottom], cols[left:right])]
                x = torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1).div_(peak)
                out = primary_output(net(x[None].to(device)))[0].float().cpu()
                weight = weight_y[:, None] * weight_x[None, :]
                region = total[: bottom - top, left:right]
                region += weight
                share = torch.where(region > 0, weight / region.clamp_min(1e-12), 0.0)
                target = result[:, : bottom - top, left:right]
                target.copy_(torch.lerp(target, out, share))
        _write_rows(result, first, output, peak)
    return output


def _write_rows(rows: Tensor, first: int, output: np.ndarray, peak: float) -> None:
    """Rows (3, n, W') of the blended result, clamped and rounded in place, into `output[first:]` (cropped
    to it)."""
    height, width = output.shape[:2]
    count = min(rows.shape[1], height - first)
    if count > 0:  # in place and integer before the (H,W,C) copy: no float copy of the rows
        dtype = torch.uint8 if output.dtype == np.uint8 else torch.int32
        values = rows[:, :count, :width].clamp_(0, 1).mul_(peak).round_().to(dtype)
        output[first : first + count] = values.permute(1, 2, 0).numpy()


def _shift_up(buffer: Tensor, rows: int) -> None:
    """Move rows [rows:] of `buffer` (…, R, W) to the top and zero the freed rows, in place: copied in
    blocks of `rows` so no block overlaps its source and no copy of the buffer is made."""
    height = buffer.shape[-2]
    for start in range(0, height - rows, rows):
        end = min(start + rows, height - rows)
        buffer[..., start:end, :] = buffer[..., start + rows : end + rows, :]
    buffer[..., height - rows :, :] = 0.0
