"""`make bench`: speed of every model config's net and of the metrics on this machine, printed as JSON.

python -m exposure_lab.bench [--sizes 256 512] [--repeats 5] [--out bench.json]
"""

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from exposure_lab.benchmarking import count_parameters
from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.config import config_dir
from exposure_lab.inference import enhance, primary_output


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of `function` over `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def bench_net(net: torch.nn.Module, sizes: list[int], repeats: int) -> dict[str, float]:
    """Forward latency (ms) at each square size; training images/s at 64×64, batch 8, when trainable."""
    entry: dict[str, float] = {"params": count_parameters(net)}
    net.eval()
    for size in sizes:
        x = torch.rand(1, 3, size, size)
        with torch.inference_mode():
            entry[f"forward_ms_{size}"] = 1000 * median_seconds(lambda x=x: enhance(net, x), repeats)
    if entry["params"]:
        net.train()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
        batch = torch.rand(8, 3, 64, 64)

        def step() -> None:
            optimizer.zero_grad()
            primary_output(net(batch)).abs().mean().backward()
            optimizer.step()

        entry["train_images_per_s_64px_b8"] = 8 / median_seconds(step, repeats)
    return entry


def bench_models(sizes: list[int], repeats: int) -> dict[str, dict[str, float]]:
    """`bench_net` for the net of every `conf/model` config."""
    return {
        path.stem: bench_net(build_task(compose_model_config(path.stem)).net, sizes, repeats)
        for path in sorted((config_dir() / "model").glob("*.yaml"))
    }


def bench_metrics(sizes: list[int], repeats: int) -> dict[str, dict[str, float]]:
    """Per-image time (ms) of each metric of the default suite at each size."""
    from exposure_lab.metrics import MetricSuite

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
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = parser.parse_args()
    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "models": bench_models(args.sizes, args.repeats),
        "metrics": bench_metrics(args.sizes, args.repeats),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
