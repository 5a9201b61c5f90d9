"""Plots and image panels for reports, as PNG/JPEG bytes: quality vs latency (Pareto front), PSNR/SSIM per EV,
per-image distributions per model."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from exposure_lab.evaluation.tables import column_direction, column_header


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def pareto_front(points: Mapping[str, tuple[float, float]], higher_is_better: bool = True) -> list[str]:
    """Models not dominated in (latency ↓, quality ↑ or ↓), ordered by latency."""
    ordered = sorted(
        points, key=lambda name: (points[name][0], -points[name][1] if higher_is_better else points[name][1])
    )
    front, best = [], -math.inf
    for name in ordered:
        quality = points[name][1] if higher_is_better else -points[name][1]
        if quality > best:
            front.append(name)
            best = quality
    return front


def pareto_figure(panels: Mapping[str, Mapping[str, tuple[float, float]]], metric: str) -> bytes:
    """Quality (`metric`) vs latency (ms/MP, log axis) per model, one panel per data set; the Pareto front
    is drawn as a step line. `panels`: data set → model → (latency, quality)."""
    plt = _pyplot()
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    count = max(1, len(panels))
    figure, axes = plt.subplots(1, count, figsize=(4.2 * count, 3.4), squeeze=False)
    higher = column_direction(metric) is not False
    for axis, (name, points) in zip(axes[0], panels.items(), strict=False):
        points = {m: p for m, p in points.items() if all(v is not None and math.isfinite(v) for v in p)}
        for model, (latency, quality) in points.items():
            axis.scatter(latency, quality, s=30)
            axis.annotate(model, (latency, quality), fontsize=7, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(points, higher)
        if len(front) > 1:
            axis.step(
                [points[m][0] for m in front],
                [points[m][1] for m in front],
                where="post",
                color="0.5",
                linewidth=1,
                linestyle="--",
                label="Pareto front",
            )
            axis.legend(fontsize=7, loc="best")
        if points and min(p[0] for p in points.values()) > 0:
            axis.set_xscale("log")
            axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("latency (ms/MP) ↓", fontsize=8)
        axis.set_ylabel(column_header(metric), fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def per_ev_figure(
    per_ev: Mapping[str, Mapping[float, Mapping[str, float | None]]], metrics: Sequence[str]
) -> bytes:
    """`metric` vs EV per model, one panel per metric; `per_ev`: model → EV → metric → mean."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.3), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for model, by_ev in per_ev.items():
            evs = sorted(ev for ev, values in by_ev.items() if values.get(metric) is not None)
            axis.plot(evs, [by_ev[ev][metric] for ev in evs], marker="o", markersize=3, label=model)
        axis.set_xlabel("exposure (EV)", fontsize=8)
        axis.set_ylabel(column_header(metric), fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    figure.tight_layout()
    return _png(figure)


def distribution_figure(values: Mapping[str, Sequence[float]], metric: str, title: str = "") -> bytes:
    """Box plot (with the images as dots) of per-image `metric` values per model."""
    plt = _pyplot()
    models = [m for m, v in values.items() if len(v)]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.9 * len(models) + 1.5), 3.3))
    data = [np.asarray(values[m], dtype=float) for m in models]
    axis.boxplot(data, showfliers=False)
    axis.set_xticks(range(1, len(models) + 1), models)
    for position, points in enumerate(data, start=1):
        jitter = np.linspace(-0.15, 0.15, len(points)) if len(points) > 1 else np.zeros(1)
        axis.scatter(position + jitter, points, s=6, alpha=0.5, color="C1")
    axis.set_ylabel(column_header(metric), fontsize=8)
    axis.set_title(title, fontsize=9)
    axis.tick_params(labelsize=7)
    axis.tick_params(axis="x", rotation=20)
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return _png(figure)


def encode_panel(image: Tensor | np.ndarray, max_side: int = 512, quality: int = 90) -> bytes:
    """(3,H,W) float in [0,1] (or (H,W,3) uint8) → JPEG bytes, shrunk (antialiased) so its long side ≤
    `max_side`."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
    image = image.detach().float().cpu().clamp(0, 1)
    height, width = image.shape[-2:]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    array = (image.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
