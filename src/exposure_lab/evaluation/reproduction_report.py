"""report.html of a `reproduce` run: paper (or measured) vs ours per cell with the verdict colour, the
per-seed checkpoints and scores, the per-image distribution and the image viewer of the first seed's
checkpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import OmegaConf

from exposure_lab.checkpoints import load_task
from exposure_lab.evaluation.matrix import read_per_image
from exposure_lab.evaluation.report import Cell, Figure, Report, Spread, Table, Viewer
from exposure_lab.evaluation.report_images import viewer_images
from exposure_lab.evaluation.report_plots import distribution_figure
from exposure_lab.evaluation.reproduction import (
    SELECTION_NOTE,
    Reproduction,
    cell_row,
    describe_selection,
    summary_line,
)
from exposure_lab.evaluation.tables import column_header


def _verdict_table(reproduction: Reproduction, row: str) -> Table:
    expected = "paper" if reproduction.spec.reference == "paper" else "measured"
    rows: dict[str, dict[str, Any]] = {}
    for result in (c for c in reproduction.cells if c.row == row):
        shown = cell_row(result)
        css = "" if result.passed is None else "pass" if result.passed else "fail"
        spread: Spread | None = result.spread
        rows[column_header(result.cell)] = {
            "expected": Cell(shown["expected"], result.expected),
            "ours": Cell(shown["ours"], None if spread is None else spread.mean),
            "delta": Cell(shown["delta"], result.delta),
            "tolerance": Cell(shown["tolerance"], result.tolerance),
            "verdict": Cell(shown["verdict"], None, css),
            "source": shown["source"],
        }
    headers = {
        "expected": expected,
        "ours": "ours: mean ± std (n)",
        "delta": "Δ",
        "tolerance": "tolerance",
        "verdict": "verdict",
        "source": "source",
    }
    return Table(row, list(headers), rows, label="cell", headers=headers, best=False)


def _seed_table(reproduction: Reproduction) -> Table:
    rows: dict[str, dict[str, Any]] = {}
    columns = list(
        dict.fromkeys(c for scores in reproduction.scores.values() for s in scores for c in s.results)
    )
    for label, scores in reproduction.scores.items():
        for score in scores:
            key = label + ("" if score.seed is None else f" · seed {score.seed}")
            rows[key] = {
                "chosen on": describe_selection(score.selection),
                "train_s": Cell(
                    f"{score.train_seconds:,.1f}" if score.train_seconds else "", score.train_seconds
                ),
                **score.results,
            }
    headers = {"chosen on": "checkpoint chosen on", "train_s": "train wall time (s)"}
    return Table(
        "per seed and source",
        ["chosen on", "train_s", *columns],
        rows,
        label="source",
        headers=headers,
        best=False,
    )


def _per_image(score_dir: Path) -> list[dict[str, Any]]:
    return read_per_image(score_dir / "per_image.csv")


def reproduction_report(
    reproduction: Reproduction, cfg: Mapping[str, Any], env: Mapping[str, Any], command: Sequence[str] = ()
) -> Report:
    """The reproduce report; the viewer shows the test images through the first scored checkpoint."""
    spec = reproduction.spec
    report = Report(
        f"reproduce {spec.name}",
        [
            f"experiments/{spec.name}.yaml — {spec.source}",
            reproduction.protocol or spec.protocol,
            f"seeds {reproduction.seeds}; {SELECTION_NOTE}; {summary_line(reproduction.cells)}",
            "command: " + " ".join(command),
            f"git {env['git_commit']} · {env['device']} · {env['threads']} threads · "
            + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        ],
    )
    report.add(
        f"{'Paper' if spec.reference == 'paper' else 'Measured'} vs ours",
        *(_verdict_table(reproduction, row) for row in spec.cells),
    )
    report.add("Seeds", _seed_table(reproduction))
    scored = [
        s
        for scores in reproduction.scores.values()
        for s in scores
        if (s.score_dir / "per_image.csv").is_file()
    ]
    if scored:
        records = [r for s in scored for r in _per_image(s.score_dir)]
        metric = next(
            (m for m in ("psnr", "brightness", "mae") if any(r.get(m) is not None for r in records)), None
        )
        if metric:
            values: dict[str, list[float]] = {}
            for score in scored:
                key = score.label + ("" if score.seed is None else f" s{score.seed}")
                values[key] = [
                    r[metric]
                    for r in _per_image(score.score_dir)
                    if r["model"] == score.label and r.get(metric) is not None
                ]
            report.add(
                "Per image", Figure(f"per-image {column_header(metric)}", distribution_figure(values, metric))
            )
        first = scored[0]
        if first.checkpoint:
            task, stored = load_task(first.checkpoint)
            data = stored.get("data")
            if data:
                datamodule = hydra.utils.instantiate(OmegaConf.create(data))
                metrics = [
                    m for m in ("psnr", "ssim", "lpips", "brightness", "exposure_error") if m in first.results
                ]
                images = viewer_images(
                    [(first.label, task)],
                    datamodule,
                    _per_image(first.score_dir),
                    metrics,
                    count=int(cfg["report"]["images"]),
                    max_side=int(cfg["report"]["max_side"]),
                )
                title = f"test images through {first.label}" + (
                    "" if first.seed is None else f" (seed {first.seed})"
                )
                report.add("Images", Viewer(title, images, metrics))
    return report
