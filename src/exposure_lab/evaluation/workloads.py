"""Whole workloads of `make bench`: training images/s in fp32 and bf16-mixed beside the data loader's items/s,
tiled `predict` of large photographs (time per megapixel, peak resident memory), video frames per second, and
the seam error of tiled inference."""

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from torch import Tensor, nn

from exposure_lab.checkpoints import build_task, compose_model_config, load_task
from exposure_lab.data.io import write_array
from exposure_lab.evaluation.cost import median_seconds, paired_items_per_s, peak_memory_mb, seeded_net
from exposure_lab.inference import InferenceOptions, enhance, prepare_net, primary_output, set_memory_reuse
from exposure_lab.prediction.images import predict_paths
from exposure_lab.prediction.video import enhance_video

LARGE_IMAGE_SIZES = {6: (2000, 3000), 12: (3000, 4000), 24: (4000, 6000)}
DEFAULT_TRAIN_MODELS = ("unet", "lmspec", "mirnet_small", "zero_dce_pp")
DEFAULT_VIDEO_MODELS = ("zero_dce_pp:model.net.scale_factor=12", "lmspec")
DEFAULT_SEAM_MODELS = ("unet", "lmspec")


def task_of(spec: str) -> nn.Module:
    """The task of a checkpoint file (`*.ckpt`, e.g. a trained net, whose seams differ from an untrained
    one's) or of a `conf/model` config, `name` or `name:override,override` (e.g.
    `zero_dce_pp:model.net.scale_factor=12`), with the net on the default inference path in eval mode."""
    if spec.endswith(".ckpt"):
        task = load_task(spec)[0]
    else:
        name, _, overrides = spec.partition(":")
        task = build_task(compose_model_config(name, [o for o in overrides.split(",") if o]))
    prepare_net(task.net, InferenceOptions())
    return task.eval()


def photo_like(height: int, width: int, noise: int = 24, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8 smooth colour gradients plus uniform noise of `noise` levels: a stand-in for a
    photograph whose PNG encodes and decodes at realistic cost."""
    generator = np.random.default_rng(seed)
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    base = 40 + 150 * (0.6 * ys + 0.4 * xs) * np.array([1.0, 0.8, 0.6], dtype=np.float32)
    return base.astype(np.uint8) + generator.integers(0, noise + 1, size=(height, width, 3), dtype=np.uint8)


def training_images_per_s(
    net: nn.Module, size: int, batch: int, precision: str, fast: bool, repeats: int, budget_s: float
) -> float:
    """Images/s of an Adam step of `net` on (batch,3,size,size) in [0,1] with an L1-to-input loss, in fp32 or
    under bf16 autocast (Lightning's `bf16-mixed`: fp32 weights, bf16 matmuls and convolutions); `fast`: the
    layout `train` uses (`callbacks.TrainingSpeed`: channels-last weights, heap reuse), else NCHW with glibc's
    default allocator behaviour."""
    set_memory_reuse(fast)
    net.to(memory_format=torch.channels_last if fast else torch.contiguous_format).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    images = torch.rand(batch, 3, size, size)

    def step() -> None:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = (primary_output(net(images)).float() - images).abs().mean()
        loss.backward()
        optimizer.step()

    return batch / median_seconds(step, repeats, budget_s)


def bench_training(
    names: Sequence[str], size: int, batch: int, repeats: int, budget_s: float, loader_items_per_s: float
) -> list[dict[str, Any]]:
    """Per net: training images/s on the eager layout in fp32 (NCHW, glibc defaults: how `train` ran before
    `TrainingSpeed`), and on `train`'s layout in fp32 and in bf16-mixed, the speed-ups against eager fp32 and
    of bf16 against fp32, and how many training steps' worth of images one data-loader worker delivers
    (`loader_items_per_s` / the fastest step's images/s; above 1 one worker keeps up alone)."""
    rows = []
    for name in names:
        net = seeded_net(name)
        eager = training_images_per_s(net, size, batch, "fp32", False, repeats, budget_s)
        fp32 = training_images_per_s(net, size, batch, "fp32", True, repeats, budget_s)
        bf16 = training_images_per_s(net, size, batch, "bf16", True, repeats, budget_s)
        rows.append(
            {
                "model": name,
                "size": size,
                "batch": batch,
                "eager_fp32_images_per_s": eager,
                "fp32_images_per_s": fp32,
                "bf16_images_per_s": bf16,
                "fp32_speedup": fp32 / eager,
                "bf16_speedup": bf16 / eager,
                "bf16_over_fp32": bf16 / fp32,
                "loader_items_per_s": loader_items_per_s,
                "loader_over_step": loader_items_per_s / max(eager, fp32, bf16),
            }
        )
    return rows


def bench_large_images(
    spec: str, shapes: Sequence[tuple[int, int]], tile_size: int = 1024, tile_overlap: int = 32
) -> list[dict[str, Any]]:
    """`predict` of one PNG photograph per (height, width) in `shapes` (`make bench`: `LARGE_IMAGE_SIZES`)
    with the tiled path of model spec `spec` (see `task_of`): wall time (decode, tiles, encode), time per
    megapixel and the peak resident memory it adds to the process (`peak_memory_mb`)."""
    task = task_of(spec)
    task.tile_size, task.tile_overlap = tile_size, tile_overlap
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for height, width in shapes:
            source = write_array(Path(folder) / f"photo_{width}x{height}.png", photo_like(height, width))
            output = Path(folder) / f"out_{width}x{height}"
            start = time.perf_counter()
            added = peak_memory_mb(lambda s=source, o=output: predict_paths(task, s, o), torch.device("cpu"))
            seconds = time.perf_counter() - start
            megapixels = height * width / 1e6
            rows.append(
                {
                    "model": spec,
                    "megapixels": megapixels,
                    "size": f"{width}x{height}",
                    "tile": tile_size,
                    "seconds": seconds,
                    "ms_per_megapixel": 1000 * seconds / megapixels,
                    "peak_added_mb": added,
                }
            )
            source.unlink()
    return rows


def write_test_video(path: Path, frames: int, width: int = 1280, height: int = 720, fps: int = 25) -> Path:
    """An H.264 clip of `frames` moving gradient frames, `width`×`height`, at `fps`."""
    still = photo_like(height, width)
    with av.open(str(path), "w") as sink:
        stream = sink.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(still, 8 * k, axis=1), format="rgb24")
            sink.mux(stream.encode(frame))
        sink.mux(stream.encode())
    return path


def bench_video(
    specs: Sequence[str], frames: int = 16, width: int = 1280, height: int = 720, batch_size: int = 8
) -> list[dict[str, Any]]:
    """`predict` of a `width`×`height` H.264 clip of `frames` frames per model spec (see `task_of`): frames
    per second end to end (decode, enhance in batches of `batch_size`, encode)."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        clip = write_test_video(Path(folder) / "clip.mp4", frames, width, height)
        for spec in specs:
            task = task_of(spec)
            start = time.perf_counter()
            report = enhance_video(task, clip, Path(folder) / "out.mp4", batch_size=batch_size)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "model": spec,
                    "size": f"{width}x{height}",
                    "frames": report.frames,
                    "seconds": seconds,
                    "fps": report.frames / seconds,
                }
            )
    return rows


def seam_error(net: nn.Module, image: Tensor, tile_size: int, tile_overlap: int) -> dict[str, float]:
    """How `net`'s tiled output on (1,3,H,W) `image` in [0,1] departs from its whole-image output, in 8-bit
    grey levels (all clamped to [0,1]): max and mean abs difference (nets with image-wide context see other
    statistics per tile), and the seam itself, the largest change of a step between neighbouring pixels,
    for the feathered tiles and for the same tiles butted without overlap (a hard border shows as a step of
    the tiles' disagreement; feathering spreads it over the overlap)."""
    whole = enhance(net, image).clamp(0, 1).mul(255)
    feathered = enhance(net, image, tile_size=tile_size, tile_overlap=tile_overlap).clamp(0, 1).mul(255)
    butted = enhance(net, image, tile_size=tile_size, tile_overlap=0).clamp(0, 1).mul(255)
    difference = feathered - whole
    return {
        "max_grey_levels": float(difference.abs().max()),
        "mean_grey_levels": float(difference.abs().mean()),
        "max_step_grey_levels": _max_step(difference),
        "butted_max_step_grey_levels": _max_step(butted - whole),
    }


def _max_step(difference: Tensor) -> float:
    return float(max(difference.diff(dim=-1).abs().max(), difference.diff(dim=-2).abs().max()))


def bench_seams(
    specs: Sequence[str], height: int = 1024, width: int = 1536, tile_size: int = 512, tile_overlap: int = 32
) -> list[dict[str, Any]]:
    """Per model spec: the seam error of tiles of `tile_size` (overlap `tile_overlap`, feathered) against the
    whole-image output on a `height`×`width` noiseless gradient (noise would hide a seam among the steps the
    tiles' other gains give every pixel)."""
    image = torch.from_numpy(photo_like(height, width, noise=0)).permute(2, 0, 1)[None].float() / 255
    rows = []
    for spec in specs:
        task = task_of(spec)
        error = seam_error(task.net, image, tile_size, tile_overlap)
        rows.append(
            {"model": spec, "size": f"{width}x{height}", "tile": tile_size, "overlap": tile_overlap, **error}
        )
    return rows


def bench_workloads(options: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The workload sections the parsed bench `options` ask for (`train_models`, `large_images` with
    `large_model`, `video_models`, `seam_models`; empty lists skip a section)."""
    repeats, budget = options["repeats"], options["time_budget_s"]
    report: dict[str, list[dict[str, Any]]] = {}
    if options["train_models"]:
        loader = paired_items_per_s(repeats)
        report["training"] = bench_training(
            options["train_models"], options["train_size"], options["train_batch"], repeats, budget, loader
        )
    if options["large_images"]:
        shapes = [LARGE_IMAGE_SIZES[mp] for mp in options["large_images"]]
        report["large_images"] = bench_large_images(options["large_model"], shapes)
    if options["video_models"]:
        report["video"] = bench_video(options["video_models"])
    if options["seam_models"]:
        report["seams"] = bench_seams(options["seam_models"])
    return report


_TABLES = (
    (
        "training",
        "training (Adam step, L1 loss; eager: NCHW, glibc defaults; fast: train's channels-last, heap reuse)",
        "net | size × batch | eager fp32 images/s | fast fp32 | fast bf16-mixed | ×fp32 | ×bf16 "
        "| bf16 ÷ fp32 | loader items/s (1 worker) | loader ÷ step",
        lambda r: [
            r["model"],
            f"{r['size']}² × {r['batch']}",
            f"{r['eager_fp32_images_per_s']:.3g}",
            f"{r['fp32_images_per_s']:.3g}",
            f"{r['bf16_images_per_s']:.3g}",
            f"{r['fp32_speedup']:.2f}",
            f"{r['bf16_speedup']:.2f}",
            f"{r['bf16_over_fp32']:.2f}",
            f"{r['loader_items_per_s']:.3g}",
            f"{r['loader_over_step']:.2f}",
        ],
    ),
    (
        "large_images",
        "tiled predict of one PNG (decode, tiles, encode)",
        "net | image | MP | tile | s | ms/MP | peak added MiB",
        lambda r: [
            r["model"],
            r["size"],
            f"{r['megapixels']:.0f}",
            r["tile"],
            f"{r['seconds']:.1f}",
            f"{r['ms_per_megapixel']:.0f}",
            "–" if r["peak_added_mb"] is None else f"{r['peak_added_mb']:.0f}",
        ],
    ),
    (
        "video",
        "video predict (decode, enhance, H.264 encode)",
        "net | frames | size | s | fps",
        lambda r: [r["model"], r["frames"], r["size"], f"{r['seconds']:.1f}", f"{r['fps']:.2f}"],
    ),
    (
        "seams",
        "seams: feathered tiles vs the whole image (8-bit grey levels)",
        "net | image | tile / overlap | max diff | mean diff | max step change | without overlap",
        lambda r: [
            r["model"],
            r["size"],
            f"{r['tile']} / {r['overlap']}",
            f"{r['max_grey_levels']:.2f}",
            f"{r['mean_grey_levels']:.3f}",
            f"{r['max_step_grey_levels']:.2f}",
            f"{r['butted_max_step_grey_levels']:.2f}",
        ],
    ),
)


def workload_tables(report: dict[str, Any]) -> str:
    """The workload sections of a bench report as Markdown tables (sections absent from it are left out)."""
    sections = []
    for key, title, header, cells in _TABLES:
        if not report.get(key):
            continue
        columns = header.count("|") + 1
        lines = [f"| {header} |", "|:---|" + "---:|" * (columns - 1)]
        lines += ["| " + " | ".join(str(cell) for cell in cells(row)) + " |" for row in report[key]]
        sections.append(f"{title}:\n\n" + "\n".join(lines))
    return "\n\n".join(sections)
