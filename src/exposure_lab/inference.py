"""Running a net on whole images of any size: padding to its size multiple, cropping back, tiling with
feathered overlaps, and the inference options (precision, channels-last, compile, fused kernels, backend)."""

import ctypes
import functools
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError

PRECISIONS = ("fp32", "bf16")
BACKENDS = ("torch", "onnxruntime")


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

    >>> padded, hw = pad_to_multiple(torch.arange(6.0).view(1, 1, 2, 3), 4)
    >>> padded.shape, hw, padded[0, 0, 0].tolist()
    (torch.Size([1, 1, 4, 4]), (2, 3), [0.0, 1.0, 2.0, 1.0])
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


def tile_weights(size: int, tile: int, stride: int) -> list[tuple[int, int, Tensor]]:
    """Tiles along one axis as (start, end, feather weights (end − start,)).

    A tile's weight is 0 in the outer quarter of each overlap it shares with a neighbour, rises linearly over
    the overlap's middle half and is 1 elsewhere, so a weighted pixel lies at least ``overlap // 4`` pixels
    inside every tile that contributes to it.
    """
    if size <= tile:
        return [(0, size, torch.ones(size))]
    starts = [*range(0, size - tile, stride), size - tile]
    spans = []
    for k, start in enumerate(starts):
        weight = torch.ones(tile)
        if k > 0:
            weight[: starts[k - 1] + tile - start] *= _ramp(starts[k - 1] + tile - start)
        if k < len(starts) - 1:
            weight[starts[k + 1] - start :] *= _ramp(start + tile - starts[k + 1]).flip(0)
        spans.append((start, start + tile, weight))
    return spans


def _ramp(overlap: int) -> Tensor:
    """(overlap,) weights: 0 on the first quarter, rising linearly in (0, 1) over the middle half, then 1."""
    margin = overlap // 4
    band = overlap - 2 * margin
    return torch.cat([torch.zeros(margin), (torch.arange(band) + 0.5) / band, torch.ones(margin)])


def enhance(net: nn.Module, x: Tensor, tile_size: int | None = None, tile_overlap: int = 32) -> Tensor:
    """Run ``net`` on (B,3,H,W) in [0,1] of any size → its output (B,C,H,W), not clamped.

    The image is padded to ``net.size_multiple`` and the output cropped back. When ``tile_size`` is set and
    the padded image is larger than it, the net runs on overlapping tiles of ``tile_size`` (rounded up to the
    size multiple; starts on multiples of it, consecutive tiles overlapping by at least ``tile_overlap``)
    blended by linear feathering across the middle half of each overlap (`tile_weights`): no visible seam
    for nets with image-wide context, and, where the tiles agree, exactly their value. A net whose
    receptive-field radius is at most ``tile_overlap // 4`` therefore gives exactly its untiled output. Runs
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
        tile = None if tile_size is None else -(-tile_size // multiple) * multiple
        if tile is None or max(height, width) <= tile:
            return crop_to(primary_output(net(padded)), hw)
        stride = max(multiple, (tile - tile_overlap) // multiple * multiple)
        result = total = None
        for top, bottom, weight_y in tile_weights(height, tile, stride):
            for left, right, weight_x in tile_weights(width, tile, stride):
                out = primary_output(net(padded[..., top:bottom, left:right]))
                if result is None:
                    result = out.new_zeros((*out.shape[:-2], height, width))
                    total = out.new_zeros((height, width))
                weight = (weight_y[:, None] * weight_x[None, :]).to(out)
                region = total[top:bottom, left:right]
                region += weight
                # Running weighted mean as lerp: tiles that agree give exactly their value.
                share = torch.where(region > 0, weight / region.clamp_min(1e-12), 0.0)
                target = result[..., top:bottom, left:right]
                target.copy_(torch.lerp(target, out, share))
        return crop_to(result, hw)


@dataclass(frozen=True)
class InferenceOptions:
    """How a net runs at inference: the option set of predict, eval, benchmark, assess, video and bench.

    `precision`: "fp32" (exact) or "bf16" (autocast; outputs differ from fp32, and on CPUs without native
    bf16, e.g. AVX2-only ones, it is slower). `channels_last`: NHWC weights and activations (exact up to
    float rounding). `compile`: `torch.compile` of the net's forward (compiled on the first call of each new
    shape family; minutes on a small CPU). `backend`: "torch" or "onnxruntime" (`model_file` = the exported
    .onnx). `fused`: the nets' fused implementations (modules with a `fused` attribute: Zero-DCE's curve,
    P-IEANet's folded convolutions), equal to the reference ones up to float rounding. `reuse_memory`: keep
    freed heap memory in the process (glibc), so large activations do not page-fault on every allocation.
    """

    precision: str = "fp32"
    channels_last: bool = True
    compile: bool = False
    backend: str = "torch"
    model_file: str | None = None
    fused: bool = True
    reuse_memory: bool = True

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ExposureLabError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.backend not in BACKENDS:
            raise ExposureLabError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend == "onnxruntime" and not self.model_file:
            raise ExposureLabError("backend=onnxruntime needs model_file=<exported .onnx file>")

    @classmethod
    def eager(cls) -> "InferenceOptions":
        """The reference path: fp32, NCHW, reference implementations, glibc's default allocator behaviour."""
        return cls(channels_last=False, fused=False, reuse_memory=False)

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "InferenceOptions":
        """From a config mapping with any of the fields (missing ones keep their defaults)."""
        cfg = dict(cfg or {})
        known = {k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg and cfg[k] is not None}
        return cls(**known)

    def describe(self) -> str:
        """One line for the protocol of results tables, e.g. "inference: fp32, channels-last"."""
        if self.backend == "onnxruntime":
            return f"inference: ONNX Runtime ({self.model_file}), fp32"
        parts = ["bf16 autocast (not exact)" if self.precision == "bf16" else "fp32"]
        parts += [
            name for name, on in (("channels-last", self.channels_last), ("compiled", self.compile)) if on
        ]
        return "inference: " + ", ".join(parts)


def set_memory_reuse(enabled: bool) -> None:
    """glibc only (a no-op elsewhere): `enabled` serves every allocation from the heap and never trims it, so
    freed activations are reused instead of being unmapped and page-faulted in again (the dominant cost of
    element-wise ops on large images in a VM); disabled restores glibc's default thresholds."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4
    libc.mallopt(m_mmap_max, 0 if enabled else 65536)
    libc.mallopt(m_trim_threshold, 2**31 - 1 if enabled else 128 * 1024)
    if not enabled:
        libc.malloc_trim(0)


def prepare_net(net: nn.Module, options: InferenceOptions) -> nn.Module:
    """Apply `options` to `net` in place (and return it): the fused implementations on or off, channels-last
    parameters (activations follow the weights' layout), `torch.compile` of its forward, memory reuse."""
    for module in net.modules():
        if hasattr(module, "fused"):
            module.fused = options.fused
    net.to(memory_format=torch.channels_last if options.channels_last else torch.contiguous_format)
    net.__dict__.pop("forward", None)
    if options.compile:
        compile_forward(net)
    set_memory_reuse(options.reuse_memory)
    return net


def compile_forward(net: nn.Module) -> None:
    """Replace `net.forward` by its `torch.compile`d version (dynamic shapes; compiled kernels are cached for
    the process) and print to stderr, once, how long the first call took with its compilation."""
    compiled = torch.compile(net.forward, dynamic=True)
    first_call = True

    def forward(*args: object, **kwargs: object) -> object:
        nonlocal first_call
        if not first_call:
            return compiled(*args, **kwargs)
        start = time.perf_counter()
        out = compiled(*args, **kwargs)
        first_call = False
        print(
            f"compile: {type(net).__name__} compiled in {time.perf_counter() - start:.1f} s "
            "(first call; cached for this run)",
            file=sys.stderr,
        )
        return out

    net.forward = forward


@functools.cache
def native_bf16_cpu() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX-512 BF16 or AMX); elsewhere it is emulated."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@functools.cache
def note_emulated_bf16(option: str) -> None:
    """Print to stderr, once per process and `option` (e.g. "precision=bf16"), that bf16 on this CPU is
    emulated and slower than fp32, when it is; nothing on CPUs with native bf16."""
    if not native_bf16_cpu():
        print(
            f"{option}: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native bf16 "
            "(AVX-512 BF16 or AMX): bf16 runs emulated here, slower than fp32",
            file=sys.stderr,
        )


@contextmanager
def precision_context(options: InferenceOptions, device: torch.device | str) -> Iterator[None]:
    """bf16 autocast on `device` when `options.precision` is "bf16" (noting once on a CPU without native
    bf16 that it is emulated there); nothing otherwise."""
    device_type = torch.device(device).type
    if options.precision == "bf16" and device_type == "cpu":
        note_emulated_bf16("precision=bf16")
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=options.precision == "bf16"):
        yield
