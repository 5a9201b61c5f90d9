"""`make bench`: speed of every model config's net, the metrics and data loading on this machine, as JSON.

python -m exposure_lab.bench [--sizes 256 512] [--repeats 5] [--out bench.json]
"""

import argparse
import json
import platform
import tempfile
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


def bench_data(repeats: int) -> dict[str, float]:
    """Training items/s of a paired dataset (a photo as 1000×700 JPEGs, decoded per item, 128 px crops) with
    random and with screened (patches=online) windows, and the LMSPEC corner search per image at 128/256/512
    px with the official patch counts."""
    from skimage import data

    from exposure_lab.data.datasets import PairedImageDataset
    from exposure_lab.data.io import write_image
    from exposure_lab.data.patch_rules import PatchRules, choose_corners
    from exposure_lab.data.samples import Sample

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    scene = torch.nn.functional.interpolate(photo, size=(700, 1000), mode="bicubic")[0].clamp(0, 1)
    generator = torch.Generator().manual_seed(0)
    rules = PatchRules()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        target = write_image(Path(folder) / "scene.jpg", scene)
        source = write_image(Path(folder) / "scene_N1.jpg", scene * 0.5)
        samples = [Sample(source, source.name, "scene", target)] * 16
        for mode, patch_rules in (("random", None), ("online", rules)):
            dataset = PairedImageDataset(samples, patch_size=128, augment=True, patch_rules=patch_rules)
            seconds = median_seconds(lambda d=dataset: [d[i] for i in range(len(d))], repeats)
            results[f"paired_items_per_s_{mode}_128"] = len(samples) / seconds
    for size, count in ((128, 10), (256, 6), (512, 4)):
        search = lambda size=size, count=count: choose_corners(scene, size, count, rules, generator)  # noqa: E731
        results[f"corner_search_ms_{size}_x{count}"] = 1000 * median_seconds(search, repeats)
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
        "data": bench_data(args.repeats),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
