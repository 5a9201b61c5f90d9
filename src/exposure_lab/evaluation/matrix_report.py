"""report.html of a `benchmark` run: the matrix and per-set tables, quality vs latency (Pareto), PSNR/SSIM per
EV, per-image distributions, and an image viewer per data set (with assessor heatmaps when one scored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import hydra
import lightning as L
from omegaconf import DictConfig

from exposure_lab.evaluation.matrix import (
    MODEL_COLUMNS,
    Matrix,
    grouped_records,
    matrix_columns,
    matrix_header,
    per_ev_means,
    per_ev_table,
)
from exposure_lab.evaluation.report import Figure, Report, Spread, Table, Viewer
from exposure_lab.evaluation.report_images import viewer_images
from exposure_lab.evaluation.report_plots import distribution_figure, pareto_figure, per_ev_figure
from exposure_lab.evaluation.tables import column_direction, column_header

QUALITY_ORDER = ("psnr", "ssim", "exposure_score", "lpips", "exposure_error", "colorfulness")


def primary_metric(columns: Sequence[str]) -> str | None:
    """The metric a set is judged by in the plots: the first of QUALITY_ORDER present without a subset."""
    plain = [c for c in columns if "/" not in c]
    return next((m for m in QUALITY_ORDER if m in plain), next(iter(plain), None))


def _mean(value: object) -> float | None:
    return value.mean if isinstance(value, Spread) else value  # type: ignore[return-value]


def matrix_report(
    matrix: Matrix,
    tasks: Sequence[tuple[str, L.LightningModule]],
    data_cfgs: Mapping[str, DictConfig],
    cfg: DictConfig,
    assessor: L.LightningModule | None = None,
) -> Report:
    """The benchmark report; the viewer runs every task on a few test images of each set."""
    protocol = [f"{s.label}: {s.protocol}" for s in matrix.sets] + [matrix.latency_protocol]
    names = ", ".join(s.label for s in matrix.sets)
    report = Report(
        f"benchmark: {len(matrix.rows)} models × {len(matrix.sets)} data sets ({names})", protocol
    )
    report.add(
        "Matrix",
        Table(
            "models × data sets",
            matrix_columns(matrix),
            matrix.rows,
            headers={c: matrix_header(c) for c in matrix_columns(matrix)},
        ),
    )
    report.add(
        "Per data set",
        *(Table(s.label, [*s.columns, *MODEL_COLUMNS], s.results, protocol=s.protocol) for s in matrix.sets),
    )
    ev_blocks = []
    for scores in matrix.sets:
        by_model = per_ev_means(grouped_records(scores.per_image, matrix.groups))
        if by_model:
            columns, rows = per_ev_table(by_model)
            ev_blocks.append(Table(f"{scores.label}: per EV", columns, rows))
            metrics = [m for m in ("psnr", "ssim") if any(c.endswith("/" + m) for c in columns)]
            ev_blocks.append(Figure(f"{scores.label}: PSNR/SSIM per EV", per_ev_figure(by_model, metrics)))
    report.add("Per exposure (EV)", *ev_blocks)
    panels = {}
    for scores in matrix.sets:
        metric = primary_metric(scores.columns)
        if metric is None or column_direction(metric) is None:
            continue
        panels[f"{scores.label} ({column_header(metric)})"] = {
            label: (_mean(row.get("latency_ms_per_mp")), _mean(row.get(f"{scores.label}/{metric}")))
            for label, row in matrix.rows.items()
        }
    if panels:
        metric = primary_metric(matrix.sets[0].columns) or "psnr"
        report.add(
            "Quality vs latency",
            Figure(
                "quality vs latency (Pareto front dashed)",
                pareto_figure(panels, metric),
                matrix.latency_protocol,
            ),
        )
    distributions = []
    for scores in matrix.sets:
        metric = primary_metric(scores.columns)
        records = grouped_records(scores.per_image, matrix.groups)
        values = {
            label: [r[metric] for r in records if r["model"] == label and isinstance(r.get(metric), float)]
            for label in matrix.rows
        }
        if metric and any(values.values()):
            distributions.append(
                Figure(
                    f"{scores.label}: per-image {column_header(metric)}", distribution_figure(values, metric)
                )
            )
    report.add("Per-image distribution", *distributions)
    viewers = []
    for scores in matrix.sets:
        datamodule = hydra.utils.instantiate(data_cfgs[scores.label])
        metrics = [c for c in scores.columns if "/" not in c]
        images = viewer_images(
            tasks,
            datamodule,
            scores.per_image,
            metrics,
            int(cfg.report.images),
            int(cfg.report.max_side),
            assessor,
        )
        viewers.append(Viewer(f"{scores.label}: input | outputs | reference", images, metrics))
    report.add("Images", *viewers)
    return report
