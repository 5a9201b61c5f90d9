"""The cost of nets, metrics and data loading on this machine: parameters, MACs, latency, peak memory and
training throughput (the measuring side of `exposure-lab bench`)."""

from __future__ import annotations

import copy
import ctypes
import functools
import platform
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.config import config_dir
from exposure_lab.errors import user_error_of
from exposure_lab.inference import (
    InferenceOptions,
    enhance,
    native_bf16_cpu,
    precision_context,
    prepare_net,
    primary_output,
)

if TYPE_CHECKING:
    from exposure_lab.data.patch_rules import PatchRules


def seeded_net(name: str) -> nn.Module:
    """The net of model config `name` initialised under seed 0: every bench run measures the same weights."""
    torch.manual_seed(0)
    return build_task(compose_model_config(name)).net


def count_parameters(net: nn.Module) -> int:
    """Number of parameters of a net (0 for classical baselines)."""
    return sum(p.numel() for p in net.parameters())


def median_seconds(
    function: Callable[[], object],
    repeats: int,
    budget_s: float = float("inf"),
    first_call_s: float | None = None,
) -> float:
    """Median wall time of `function` over `repeats` calls after a warm-up call (skipped when the caller
    already made one, taking `first_call_s`); fewer calls (at least one) when the warm-up shows that
    `repeats` would exceed `budget_s`."""
    if first_call_s is None:
        start = time.perf_counter()
        function()
        first_call_s = time.perf_counter() - start
    if first_call_s * repeats > budget_s:
        repeats = max(1, int(budget_s / first_call_s))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def count_macs(net: torch.nn.Module, size: int) -> float:
    """Multiply-accumulates of one forward pass on a (1,3,size,size) image (FlopCounterMode: convolutions and
    matrix products; element-wise ops and pooling are not counted). Counted on the meta device, or on a real
    image for nets whose forward needs values (e.g. `.item()`)."""
    try:
        meta = copy.deepcopy(net).to("meta")
        with FlopCounterMode(display=False) as counter:
            primary_output(meta(torch.empty(1, 3, size, size, device="meta")))
    except (NotImplementedError, RuntimeError):
        device = next(net.parameters()).device
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            primary_output(net(torch.rand(1, 3, size, size, device=device)))
    return counter.get_total_flops() / 2


def _proc_status_mb(key: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+) kB", text)[1]) / 1024


def peak_memory_mb(function: Callable[[], object], device: torch.device) -> float | None:
    """Peak memory `function` adds: CUDA's max allocated bytes, or on Linux CPUs the growth of the resident
    set's high-water mark (after returning freed heap to the system); None where neither is available."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        function()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        base = _proc_status_mb("VmRSS")
    except (OSError, TypeError, AttributeError):
        return None
    function()
    return _proc_status_mb("VmHWM") - base


def bench_net(net: torch.nn.Module, options: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Params, and per size MACs, forward latency and peak memory; training images/s when trainable."""
    net = net.to(device)
    repeats, budget = options["repeats"], options["time_budget_s"]
    entry: dict[str, Any] = {"params": count_parameters(net)}
    net.eval()
    for size in options["sizes"]:
        macs = count_macs(net, size) if entry["params"] else 0.0
        result: dict[str, Any] = {"gmacs": round(macs / 1e9, 6)}
        if macs / 1e9 > options["max_gmacs"]:
            result["skipped"] = f"{macs / 1e9:.0f} GMACs > max_gmacs={options['max_gmacs']}"
        else:
            x = torch.rand(1, 3, size, size, device=device)
            forward = lambda x=x: _synchronized(lambda: enhance(net, x), device)  # noqa: E731
            start = time.perf_counter()
            peak = peak_memory_mb(forward, device)
            first_call_s = time.perf_counter() - start
            seconds = median_seconds(forward, repeats, budget, first_call_s)
            result["forward_ms"] = round(1000 * seconds, 2)
            result["peak_memory_mb"] = None if peak is None else round(peak, 1)
        entry[str(size)] = result
    if entry["params"]:
        size, batch_size = options["train_size"], options["train_batch"]
        key = f"train_images_per_s_{size}px_b{batch_size}"
        train_gmacs = 3 * batch_size * count_macs(net, size) / 1e9
        if train_gmacs > options["max_gmacs"]:
            entry[key] = f"skipped: ~{train_gmacs:.0f} GMACs per step"
        else:
            net.train()
            optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
            batch = torch.rand(batch_size, 3, size, size, device=device)

            def step() -> None:
                optimizer.zero_grad()
                primary_output(net(batch)).abs().mean().backward()
                optimizer.step()

            seconds = median_seconds(lambda: _synchronized(step, device), repeats, budget)
            entry[key] = float(f"{batch_size / seconds:.3g}")
    return entry


def _synchronized(function: Callable[[], object], device: torch.device) -> object:
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result


def model_names(options: dict[str, Any]) -> list[str]:
    """The model configs to bench: `model`, `models`, or every conf/model config."""
    names = [options["model"]] if options["model"] else list(options["models"] or [])
    return names or sorted(path.stem for path in (config_dir() / "model").glob("*.yaml"))


def bench_models(options: dict[str, Any], device: torch.device) -> dict[str, dict[str, Any]]:
    """`bench_net` for the net of each selected `conf/model` config; a config that cannot be built here (e.g.
    missing pretrained weights) gets its error message instead when all configs are benched."""
    results: dict[str, dict[str, Any]] = {}
    for name in model_names(options):
        try:
            net = build_task(compose_model_config(name)).net
        except Exception as exc:
            error = user_error_of(exc)
            if error is None or options["model"] or options["models"]:
                raise
            results[name] = {"error": str(error)}
            continue
        results[name] = bench_net(net, options, device)
    return results


def bench_metrics(sizes: list[int], repeats: int) -> dict[str, dict[str, float]]:
    """Per-image time (ms) of each metric of the default suite, and of NIQE, PIQE and LOE, at each size."""
    from exposure_lab.metrics import MetricSuite
    from exposure_lab.metrics.loe import loe
    from exposure_lab.metrics.no_reference import BlindQuality

    results: dict[str, dict[str, float]] = {}
    for name in ("psnr", "ssim", "lpips"):
        suite = MetricSuite(names=[name])
        if name not in suite.names:
            results[name] = {"unavailable": suite.unavailable.get(name, "")}
            continue
        results[name] = {}
        for size in sizes:
            pred, target = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
            with torch.inference_mode():
                seconds = median_seconds(lambda p=pred, t=target, s=suite: s(p, t), repeats)
            results[name][f"ms_{size}"] = 1000 * seconds
    blind = {name: BlindQuality([name]) for name in ("niqe", "piqe")}
    measures = {name: (lambda p, t, b=b: b(p)) for name, b in blind.items() if name in b.names} | {"loe": loe}
    results |= {
        name: {"unavailable": b.unavailable[name]} for name, b in blind.items() if name in b.unavailable
    }
    for name, measure in measures.items():
        results[name] = {}
        for size in sizes:
            pred, target = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
            seconds = median_seconds(lambda p=pred, t=target, m=measure: m(p, t), repeats)
            results[name][f"ms_{size}"] = 1000 * seconds
    return results


@functools.cache
def _bench_scene() -> Tensor:
    """(3,700,1000) in [0,1]: skimage's astronaut photo resized to a 0.7-megapixel frame (one tensor, shared
    by the data benches: never written to)."""
    from skimage import data

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return torch.nn.functional.interpolate(photo, size=(700, 1000), mode="bicubic")[0].clamp(0, 1)


def paired_items_per_s(repeats: int, patch_rules: PatchRules | None = None) -> float:
    """Training items/s of a paired dataset: a photo as 1000×700 JPEGs (input and target), decoded per item,
    augmented 128 px crops at random windows (`patch_rules` None) or screened ones (a `PatchRules`)."""
    from exposure_lab.data.datasets import PairedImageDataset
    from exposure_lab.data.io import write_image
    from exposure_lab.data.samples import Sample

    scene = _bench_scene()
    with tempfile.TemporaryDirectory() as folder:
        target = write_image(Path(folder) / "scene.jpg", scene)
        source = write_image(Path(folder) / "scene_N1.jpg", scene * 0.5)
        samples = [Sample(source, source.name, "scene", target)] * 16
        dataset = PairedImageDataset(samples, patch_size=128, augment=True, patch_rules=patch_rules)
        seconds = median_seconds(lambda: [dataset[i] for i in range(len(dataset))], repeats)
    return len(samples) / seconds


def bench_data(repeats: int) -> dict[str, float]:
    """`paired_items_per_s` with random and with screened (patches=online) windows, and the LMSPEC corner
    search per image at 128/256/512 px with the official patch counts."""
    from exposure_lab.data.patch_rules import PatchRules, choose_corners

    rules = PatchRules()
    results = {
        f"paired_items_per_s_{mode}_128": paired_items_per_s(repeats, patch_rules)
        for mode, patch_rules in (("random", None), ("online", rules))
    }
    scene, generator = _bench_scene(), torch.Generator().manual_seed(0)
    for size, count in ((128, 10), (256, 6), (512, 4)):
        search = lambda size=size, count=count: choose_corners(scene, size, count, rules, generator)  # noqa: E731
        results[f"corner_search_ms_{size}_x{count}"] = 1000 * median_seconds(search, repeats)
    return results


def run(options: dict[str, Any]) -> dict[str, Any]:
    """The bench report for parsed `options` (see `parse_arguments`)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report: dict[str, Any] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "device": str(device),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "models": bench_models(options, device),
    }
    if not (options["model"] or options["models"]):
        report["metrics"] = bench_metrics(options["sizes"], options["repeats"])
        report["data"] = bench_data(options["repeats"])
    return report


DEFAULT_SPEED_RUNS = (
    "zero_dce:512",
    "zero_dce_pp:512",
    "sgz:512",
    "unet:512",
    "lmspec:512",
    "mirnet_small:512",
    "mirnet:512",
    "p_ieanet:256",
    "p_ieanet_release:256",
)
DEFAULT_ONNX_MODELS = ("zero_dce_pp", "unet")
DEFAULT_COMPILE_MODELS = ("p_ieanet", "p_ieanet_release")


def matmul_peak_gflops(dtype: torch.dtype, size: int, repeats: int = 3) -> float:
    """This machine's (size×size) @ (size×size) matmul rate in GFLOP/s for `dtype` (median of `repeats`)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    return 2 * size**3 / median_seconds(lambda: a @ b, repeats) / 1e9


def conv_peak_gflops(channels: int = 128, size: int = 128, repeats: int = 3) -> float:
    """This machine's fp32 rate in GFLOP/s (2 · MACs / s) of a channels-last 3×3 convolution, `channels` in
    and out, on (1, channels, size, size): the oneDNN kernels most nets run on. On AMD CPUs MKL's matmul can
    take an AVX2 code path while oneDNN uses AVX-512, so this can exceed the matmul rate."""
    conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).eval()
    conv.to(memory_format=torch.channels_last)
    x = torch.randn(1, channels, size, size).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        seconds = median_seconds(lambda: conv(x), repeats)
    return 2 * channels * channels * 9 * size * size / seconds / 1e9


def machine_peak() -> dict[str, Any]:
    """fp32 and bf16 matmul GFLOP/s (2048², and 512² for bf16 where it is emulated), the fp32 rate of a 3×3
    convolution (`conv_peak_gflops`), the fp32 peak used for the share column (the larger of the two), the
    CPU's vector ISA and whether oneDNN has native bf16 here."""
    fp32 = matmul_peak_gflops(torch.float32, 2048)
    bf16 = matmul_peak_gflops(torch.bfloat16, 512, repeats=1)
    if bf16 > fp32 / 4:
        bf16 = matmul_peak_gflops(torch.bfloat16, 2048)
    conv = conv_peak_gflops()
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16_cpu(),
        "fp32_matmul_gflops": round(fp32, 1),
        "fp32_conv3x3_gflops": round(conv, 1),
        "fp32_peak_gflops": round(max(fp32, conv), 1),
        "bf16_matmul_gflops": round(bf16, 1),
        "threads": torch.get_num_threads(),
    }


def psnr_db(output: Tensor, reference: Tensor) -> float:
    """PSNR (dB) of `output` against `reference`, both clamped to [0, 1]."""
    mse = (output.float().clamp(0, 1) - reference.float().clamp(0, 1)).pow(2).mean()
    return float("inf") if mse == 0 else float(-10 * torch.log10(mse))


def _timed(function: Callable[[], Tensor], repeats: int, budget_s: float) -> tuple[float, Tensor]:
    """(median seconds, the output) of `function` after one warm-up call."""
    start = time.perf_counter()
    output = function()
    first = time.perf_counter() - start
    return median_seconds(function, repeats, budget_s, first), output


def _timed_and_counted(
    function: Callable[[], Tensor], repeats: int, budget_s: float
) -> tuple[float, Tensor, float]:
    """(median seconds, the output, MACs the call executed) of `function`, the MACs counted during the
    warm-up call (FlopCounterMode: convolutions and matrix products)."""
    start = time.perf_counter()
    with FlopCounterMode(display=False) as counter:
        output = function()
    first = time.perf_counter() - start
    return median_seconds(function, repeats, budget_s, first), output, counter.get_total_flops() / 2


def bench_speed(options: dict[str, Any]) -> dict[str, Any]:
    """The speed table: machine peak, then per net and size the latency of each path — eager (today's fp32
    NCHW reference implementations, glibc's default allocator behaviour), fast (fp32: fused kernels,
    channels-last, memory reuse), bf16 autocast on the fast path, ONNX Runtime — with the speed-ups against
    eager, the MACs the fast path executes (its fused kernels can skip or fold work), its GFLOP/s from those
    and their share of the fp32 peak, and each path's max abs difference to eager (bf16 also as PSNR). Nets
    and images are seeded (0), so runs compare the same weights. All eager timings come first, before any
    path changes the allocator.
    bf16 is timed at the bench size only where oneDNN has native bf16; elsewhere its difference is measured
    at 128² (it is emulated and several times slower than fp32 there)."""
    from exposure_lab.prediction.onnx import OnnxRuntimeNet, export_onnx

    runs = [spec.rsplit(":", 1) for spec in options["speed"]]
    repeats, budget = options["repeats"], options["time_budget_s"]
    peak = machine_peak()
    nets = {name: seeded_net(name).eval() for name, _ in runs}
    generator = torch.Generator().manual_seed(0)
    images = {int(size): torch.rand(1, 3, int(size), int(size), generator=generator) for _, size in runs}
    rows: list[dict[str, Any]] = []
    eager_outputs = {}
    for name, size in runs:
        net = prepare_net(nets[name], InferenceOptions.eager())
        seconds, eager_outputs[name, size] = _timed(
            lambda n=net, s=size: enhance(n, images[int(s)]), repeats, budget
        )
        macs = count_macs(net, int(size))
        rows.append(
            {"model": name, "size": int(size), "gmacs": round(macs / 1e9, 2), "eager_ms": 1000 * seconds}
        )
    with tempfile.TemporaryDirectory() as folder:
        for row in rows:
            name, size = row["model"], str(row["size"])
            net, x, reference = (
                prepare_net(nets[name], InferenceOptions()),
                images[row["size"]],
                eager_outputs[name, size],
            )
            seconds, fast, fast_macs = _timed_and_counted(lambda n=net, x=x: enhance(n, x), repeats, budget)
            row["fast_ms"] = 1000 * seconds
            row["fast_speedup"] = row["eager_ms"] / row["fast_ms"]
            row["fast_max_abs_diff"] = float((fast - reference).abs().max())
            row["fast_gmacs"] = round(fast_macs / 1e9, 2)
            row["fast_gflops"] = 2 * fast_macs / 1e9 / seconds
            row["fast_share_of_peak"] = row["fast_gflops"] / peak["fp32_peak_gflops"]
            bf16 = InferenceOptions(precision="bf16")
            if peak["native_bf16"]:
                with precision_context(bf16, "cpu"):
                    seconds, low = _timed(lambda n=net, x=x: enhance(n, x), repeats, budget)
                row["bf16_ms"] = 1000 * seconds
                row["bf16_speedup"] = row["eager_ms"] / row["bf16_ms"]
                row["bf16_psnr_db"] = psnr_db(low, reference)
            else:
                small = x[..., :128, :128]
                with torch.inference_mode():
                    exact = enhance(net, small)
                with precision_context(bf16, "cpu"):
                    low = enhance(net, small)
                row["bf16_ms"] = None
                row["bf16_psnr_db_128px"] = psnr_db(low, exact)
            row["bf16_max_abs_diff"] = float(
                (low.float() - (reference if peak["native_bf16"] else exact)).abs().max()
            )
            if name in options["compile_models"] and peak["native_bf16"]:
                row |= _compiled_bf16(nets[name], x, reference, row["eager_ms"], repeats, budget)
            if name in options["onnx_models"]:
                path = export_onnx(
                    prepare_net(nets[name], InferenceOptions(channels_last=False)),
                    Path(folder) / f"{name}.onnx",
                    x,
                )
                runtime = OnnxRuntimeNet(path)
                seconds, by_ort = _timed(lambda r=runtime, x=x: enhance(r, x), repeats, budget)
                row["onnxruntime_ms"] = 1000 * seconds
                row["onnxruntime_speedup"] = row["eager_ms"] / row["onnxruntime_ms"]
                row["onnxruntime_max_abs_diff"] = float((by_ort - reference).abs().max())
    return {"machine_peak": peak, "rows": [_rounded(row) for row in rows]}


def _compiled_bf16(
    net: nn.Module, x: Tensor, reference: Tensor, eager_ms: float, repeats: int, budget_s: float
) -> dict[str, Any]:
    """`precision=bf16 compile=true` on the fast path: compile seconds (the first call), then median ms,
    speed-up against eager and PSNR to the eager output."""
    options = InferenceOptions(precision="bf16", compile=True)
    net = prepare_net(net, options)
    with precision_context(options, "cpu"):
        start = time.perf_counter()
        out = enhance(net, x)
        compile_s = time.perf_counter() - start
        seconds = median_seconds(lambda: enhance(net, x), repeats, budget_s, compile_s)
    prepare_net(net, InferenceOptions())
    return {
        "compile_s": compile_s,
        "compiled_bf16_ms": 1000 * seconds,
        "compiled_bf16_speedup": eager_ms / (1000 * seconds),
        "compiled_bf16_psnr_db": psnr_db(out, reference),
    }


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(f"{v:.3g}") if isinstance(v, float) else v for k, v in row.items()}


def speed_table(report: dict[str, Any]) -> str:
    """The speed rows as a Markdown table, with the machine peak above it."""
    peak = report["machine_peak"]
    lines = [
        f"machine peak: fp32 matmul {peak['fp32_matmul_gflops']} GFLOP/s, fp32 3×3 conv "
        f"{peak['fp32_conv3x3_gflops']} GFLOP/s (% peak: of the larger), bf16 matmul "
        f"{peak['bf16_matmul_gflops']} GFLOP/s ({peak['cpu_capability']}, "
        f"native bf16: {peak['native_bf16']}, {peak['threads']} threads)",
        "",
        "| net | size | GMACs | eager ms | fast ms | ×fast | fast diff | fast GMACs | GFLOP/s | % peak "
        "| bf16 ms | ×bf16 | bf16 PSNR dB | compiled bf16 ms | ×compiled bf16 | compile s | ORT ms | ×ORT "
        "| ORT diff |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        psnr = (
            _cell(row, "bf16_psnr_db")
            if "bf16_psnr_db" in row
            else _cell(row, "bf16_psnr_db_128px") + " (128²)"
        )
        cells = [row["model"], row["size"], row["gmacs"], _cell(row, "eager_ms"), _cell(row, "fast_ms")]
        cells += [
            _cell(row, "fast_speedup"),
            _cell(row, "fast_max_abs_diff", "{:.1e}"),
            _cell(row, "fast_gmacs"),
            _cell(row, "fast_gflops"),
        ]
        cells += [
            _cell(row, "fast_share_of_peak", "{:.0%}"),
            _cell(row, "bf16_ms"),
            _cell(row, "bf16_speedup"),
        ]
        cells += [psnr, _cell(row, "compiled_bf16_ms"), _cell(row, "compiled_bf16_speedup")]
        cells += [_cell(row, "compile_s", "{:.0f}"), _cell(row, "onnxruntime_ms")]
        cells += [_cell(row, "onnxruntime_speedup")]
        cells += [_cell(row, "onnxruntime_max_abs_diff", "{:.1e}")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str, fmt: str = "{:g}") -> str:
    value = row.get(key)
    return "–" if value is None else fmt.format(value)
