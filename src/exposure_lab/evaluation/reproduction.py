"""`reproduce`: train an experiment once per seed (a Hydra multirun of `train`, so any launcher sends the
seeds to a cluster), take each run's checkpoint chosen on the validation split, score it once on the test
split under the experiment's protocol, and set our numbers beside the expected ones with a verdict per
cell."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from exposure_lab.checkpoints import build_task, compose_model_config, load_task, read_checkpoint
from exposure_lab.checkpoints.official import import_official
from exposure_lab.errors import ExposureLabError, WeightsNotFoundError
from exposure_lab.evaluation.environment import environment
from exposure_lab.evaluation.experiments import CellSource, ExperimentSpec
from exposure_lab.evaluation.report import Spread, format_spread
from exposure_lab.evaluation.scoring import benchmark_from_config
from exposure_lab.evaluation.tables import column_header, format_value

log = logging.getLogger(__name__)
RESULT_FILE = "result.json"
PASS, FAIL, NOT_RUN = "✓", "✗", "—"
SELECTION_NOTE = "checkpoints chosen on the validation split, scored once on the test split"
_SHOWN = ("expected", "ours", "delta", "tolerance", "verdict", "source")


@dataclass
class Score:
    """One scored source: a seed's chosen checkpoint, a model config or an imported checkpoint."""

    label: str
    results: dict[str, float | None]
    score_dir: Path
    seed: int | None = None
    checkpoint: str | None = None
    selection: dict[str, Any] | None = None  # split, metric, mode, value, epoch
    train_seconds: float | None = None
    score_seconds: float | None = None


@dataclass(frozen=True)
class CellResult:
    """One expected cell with our values (one per seed, or one for an untrained source) and its verdict."""

    row: str
    cell: str
    expected: float
    values: tuple[float, ...]
    tolerance: float | None
    source: str

    @property
    def spread(self) -> Spread | None:
        return Spread.of(self.values)

    @property
    def delta(self) -> float | None:
        spread = self.spread
        return None if spread is None else spread.mean - self.expected

    @property
    def passed(self) -> bool | None:
        """|mean − expected| ≤ tolerance (to the shown precision); None when the cell was not run."""
        if self.delta is None or self.tolerance is None:
            return None
        return abs(self.delta) <= self.tolerance * (1 + 1e-9)

    @property
    def verdict(self) -> str:
        return NOT_RUN if self.passed is None else PASS if self.passed else FAIL


def cell_results(spec: ExperimentSpec, scores: Mapping[str, Sequence[Score]]) -> list[CellResult]:
    """Every expected cell of `spec` with the values its source scored (`scores`: source label → scores)."""
    cells = []
    for row, sources in spec.cells.items():
        for cell, source in sources.items():
            values: tuple[float, ...] = ()
            if source is not None:
                found = [s.results.get(source.column) for s in scores.get(source.label, ())]
                values = tuple(float(v) for v in found if v is not None and not math.isnan(v))
            label = "" if source is None else source.label
            if source is not None and source.column != cell:
                label += f"@{source.column}"
            cells.append(
                CellResult(row, cell, spec.expected[row][cell], values, spec.tolerance_of(cell), label)
            )
    return cells


def _signed(column: str, value: float | None) -> str:
    if value is None:
        return NOT_RUN
    text = format_value(column, abs(value))
    if not text.strip("0.,"):
        return text  # zero at the shown precision: no sign
    return ("+" if value >= 0 else "−") + text


def cell_row(result: CellResult) -> dict[str, str]:
    """The shown cells of one result: expected, ours (mean ± std (n)), Δ, tolerance, verdict, source."""
    spread = result.spread
    return {
        "expected": format_value(result.cell, result.expected),
        "ours": NOT_RUN if spread is None else format_spread(result.cell, spread),
        "delta": _signed(result.cell, result.delta),
        "tolerance": "n/a" if result.tolerance is None else "±" + format_value(result.cell, result.tolerance),
        "verdict": result.verdict,
        "source": result.source or "not reproduced here",
    }


def row_tables(spec: ExperimentSpec, cells: Sequence[CellResult]) -> str:
    """One Markdown table per expected row: cell, expected (paper or measured), ours, Δ, tolerance,
    verdict, source."""
    expected = "paper" if spec.reference == "paper" else "measured"
    blocks = []
    for row in spec.cells:
        lines = [
            f"### {row}",
            "",
            f"| cell | {expected} | ours (mean ± std (n)) | Δ | tolerance | verdict | source |",
            "|:---|---:|---:|---:|---:|:---:|:---|",
        ]
        for result in (c for c in cells if c.row == row):
            shown = cell_row(result)
            lines.append("| " + " | ".join([column_header(result.cell), *(shown[k] for k in _SHOWN)]) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def verdict_counts(cells: Sequence[CellResult]) -> dict[str, int]:
    """How many cells passed, failed and were not run."""
    return {
        "passed": sum(c.passed is True for c in cells),
        "failed": sum(c.passed is False for c in cells),
        "not_run": sum(c.passed is None for c in cells),
    }


def summary_line(cells: Sequence[CellResult]) -> str:
    """`4/5 cells within tolerance (1 outside, 0 not run)`."""
    counts = verdict_counts(cells)
    run = counts["passed"] + counts["failed"]
    outside, not_run = counts["failed"], counts["not_run"]
    return f"{counts['passed']}/{run} cells within tolerance ({outside} outside, {not_run} not run)"


# ----------------------------------------------------------------------------------------------- running


def train_command(
    spec: ExperimentSpec, run: str, seeds: Sequence[int], sweep_dir: Path, overrides: Sequence[str]
) -> list[str]:
    """The `exposure-lab train -m` command line of one run over `seeds` (no test scoring in the jobs: the
    test split is scored once, afterwards)."""
    return [
        sys.executable,
        "-m",
        "exposure_lab.cli",
        "train",
        "-m",
        f"experiment={spec.name}",
        f"metrics={spec.protocol}",
        *spec.data,
        *spec.runs[run],
        *overrides,
        "seed=" + ",".join(str(seed) for seed in seeds),
        "test_after_fit=false",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def _job_results(sweep_dir: Path) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Completed jobs' `result.json` by seed (with `job_dir` and `wall_time_s`: from the job's Hydra config,
    written when it starts, to its result), and the errors of failed jobs."""
    results, errors = {}, []
    for path in sorted(sweep_dir.glob(f"*/{RESULT_FILE}")):
        result = json.loads(path.read_text())
        if result.get("status", "completed") != "completed" or "seed" not in result:
            errors.append(f"job {path.parent.name}: {result.get('error', 'no result')}")
            continue
        started = path.parent / ".hydra" / "config.yaml"
        result["job_dir"] = str(path.parent)
        if started.is_file():
            result.setdefault("wall_time_s", round(path.stat().st_mtime - started.stat().st_mtime, 1))
        results[int(result["seed"])] = result
    return results, errors


def train_seeds(
    spec: ExperimentSpec, run: str, seeds: Sequence[int], sweep_dir: Path, overrides: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """Run the seeds of `run` as one multirun (output in `sweep_dir`); the `result.json` of each seed."""
    command = train_command(spec, run, seeds, sweep_dir, overrides)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info("training run %r: %s", run, " ".join(command[3:]))
    with (sweep_dir / "train_stdout.log").open("w") as stdout:
        status = subprocess.run(command, stdout=stdout, check=False).returncode
    results, errors = _job_results(sweep_dir)
    missing = [seed for seed in seeds if seed not in results]
    if status or missing:
        reasons = "; ".join(errors) or "see the lines above"
        raise ExposureLabError(
            f"reproduce {spec.name}: training run {run!r} failed (exit status {status}, seeds without a "
            f"result: {missing}): {reasons}; {sweep_dir}"
        )
    return results


def _selection(result: Mapping[str, Any]) -> dict[str, Any]:
    checkpoint = read_checkpoint(result["best_checkpoint"])
    return {
        "split": "val",
        "metric": result.get("optimized_metric"),
        "mode": result.get("mode"),
        "value": result.get("best_value"),
        "epoch": checkpoint.get("epoch"),
    }


def score_tasks(
    tasks: Sequence[tuple[str, L.LightningModule]],
    datamodule: L.LightningDataModule,
    cfg: DictConfig,
    out_dir: Path,
) -> tuple[dict[str, dict[str, float | None]], float]:
    """Score `tasks` on the test split with the reproduce config's protocol; their results and the seconds."""
    start = time.perf_counter()
    benchmark_from_config(tasks, datamodule, cfg, out_dir)
    results = json.loads((out_dir / "results.json").read_text())["results"]
    return results, time.perf_counter() - start


def _inference_overrides(spec: ExperimentSpec) -> dict[str, Any] | None:
    if not spec.inference:
        return None
    return OmegaConf.to_container(OmegaConf.from_dotlist([o.removeprefix("model.") for o in spec.inference]))


def score_checkpoint(
    label: str,
    checkpoint: str | Path,
    cfg: DictConfig,
    spec: ExperimentSpec,
    out_dir: Path,
    datamodule: L.LightningDataModule | None = None,
) -> tuple[dict[str, float | None], float]:
    """Score one checkpoint on the test split of its stored data config (or `datamodule` when it has none)."""
    task, stored = load_task(checkpoint, _inference_overrides(spec))
    if stored.get("data"):
        datamodule = hydra.utils.instantiate(OmegaConf.create(stored["data"]))
    if datamodule is None:
        raise ExposureLabError(f"{checkpoint}: carries no data config; pass data=<name>")
    results, seconds = score_tasks([(label, task)], datamodule, cfg, out_dir)
    return results[label], seconds


@dataclass
class Reproduction:
    """Everything one `reproduce` run measured."""

    spec: ExperimentSpec
    seeds: list[int]
    scores: dict[str, list[Score]] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)
    protocol: str = ""


def check_weights(spec: ExperimentSpec, weights_dir: Path) -> dict[str, Path]:
    """The official weights file of every needed import; WeightsNotFoundError naming the first missing one."""
    files = {}
    for label in spec.needed("import"):
        item = spec.imports[label]
        path = weights_dir / item.weights
        if not path.is_file():
            where = f"; get it from {item.source}" if item.source else ""
            raise WeightsNotFoundError(
                f"{spec.name}: expected the official weights {path}{where} (weights_dir=…)"
            )
        files[label] = path
    return files


def reproduce(
    spec: ExperimentSpec,
    cfg: DictConfig,
    out_dir: Path,
    train_overrides: Sequence[str],
    datamodule: L.LightningDataModule,
) -> Reproduction:
    """Produce every cell of `spec`: train (or take `cfg.ckpt_path`), import and score; see the module doc."""
    seeds = [int(seed) for seed in cfg.seeds]
    weights = check_weights(spec, Path(cfg.weights_dir))
    reproduction = Reproduction(spec, seeds)
    checkpoints = cfg.get("ckpt_path")
    for run in spec.needed("run"):
        label = CellSource("run", run, "").label
        given = checkpoints.get(run) if isinstance(checkpoints, Mapping) else checkpoints
        if checkpoints and not given:
            raise ExposureLabError(f"reproduce {spec.name}: ckpt_path has no checkpoint for run {run!r}")
        if given:
            results, seconds = score_checkpoint(label, given, cfg, spec, out_dir / "scores" / run, datamodule)
            reproduction.scores[label] = [
                Score(
                    label,
                    results,
                    out_dir / "scores" / run,
                    checkpoint=str(given),
                    selection={"split": "given (ckpt_path)"},
                    score_seconds=seconds,
                )
            ]
            continue
        jobs = train_seeds(spec, run, seeds, out_dir / "train" / run, train_overrides)
        reproduction.scores[label] = []
        for seed in seeds:
            job = jobs[seed]
            score_dir = out_dir / "scores" / f"{run}_seed{seed}"
            results, seconds = score_checkpoint(label, job["best_checkpoint"], cfg, spec, score_dir)
            reproduction.scores[label].append(
                Score(
                    label,
                    results,
                    score_dir,
                    seed,
                    job["best_checkpoint"],
                    _selection(job),
                    job.get("wall_time_s"),
                    seconds,
                )
            )
    models = spec.needed("model")
    if models:  # scored together: one metric suite, one pass over the data set per model
        overrides = [f"model.{o.removeprefix('model.')}" for o in spec.inference]
        tasks = [(f"model:{n}", build_task(compose_model_config(n, overrides))) for n in models]
        score_dir = out_dir / "scores" / "models"
        results, seconds = score_tasks(tasks, datamodule, cfg, score_dir)
        for label, _ in tasks:
            reproduction.scores[label] = [Score(label, results[label], score_dir, score_seconds=seconds)]
    for name in spec.needed("import"):
        label = CellSource("import", name, "").label
        item = spec.imports[name]
        checkpoint = import_official(
            item.model, weights[name], out_dir / "imported" / f"{name}.ckpt", item.options
        )
        score_dir = out_dir / "scores" / f"import_{name}"
        results, seconds = score_checkpoint(label, checkpoint, cfg, spec, score_dir, datamodule)
        reproduction.scores[label] = [
            Score(
                label,
                results,
                score_dir,
                checkpoint=str(checkpoint),
                selection={"split": "none (official weights)"},
                score_seconds=seconds,
            )
        ]
    reproduction.cells = cell_results(spec, reproduction.scores)
    first = next((s for scores in reproduction.scores.values() for s in scores), None)
    if first is not None:
        reproduction.protocol = json.loads((first.score_dir / "results.json").read_text())["protocol"]
    return reproduction


def reproduction_markdown(
    reproduction: Reproduction, env: Mapping[str, Any], command: Sequence[str] = ()
) -> str:
    """reproduction.md: what ran, the protocol line, one table per row, then the per-seed details."""
    spec = reproduction.spec
    lines = [
        f"# reproduce {spec.name}",
        "",
        f"- experiment: `experiments/{spec.name}.yaml` (trains `conf/experiment/{spec.name}.yaml`); "
        f"source: {spec.source}",
        f"- protocol: {reproduction.protocol or spec.protocol}",
        f"- seeds: {reproduction.seeds}; {SELECTION_NOTE}",
        f"- command: `{' '.join(command)}`",
        f"- verdict: {summary_line(reproduction.cells)}",
        f"- git commit: {env['git_commit']}; device: {env['device']}; threads: {env['threads']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        "",
        row_tables(spec, reproduction.cells),
        "## per seed",
        "",
        "| source | seed | checkpoint | chosen on | train wall time (s) | score time (s) |",
        "|:---|---:|:---|:---|---:|---:|",
    ]
    for label, scores in reproduction.scores.items():
        for score in scores:
            lines.append(
                f"| {label} | {'' if score.seed is None else score.seed} | {score.checkpoint or ''} | "
                f"{describe_selection(score.selection)} | {_seconds(score.train_seconds)} | "
                f"{_seconds(score.score_seconds)} |"
            )
    return "\n".join(lines) + "\n"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def describe_selection(selection: Mapping[str, Any] | None) -> str:
    """`val: val/psnr max = 19.82 (epoch 11)`, or the split note of untrained sources."""
    if not selection:
        return ""
    if selection.get("metric") is None:
        return str(selection["split"])
    value = selection.get("value")
    shown = "n/a" if value is None else format_value(selection["metric"], value)
    epoch = selection.get("epoch")
    return f"{selection['split']}: {selection['metric']} {selection['mode']} = {shown}" + (
        "" if epoch is None else f" (epoch {epoch})"
    )


def reproduction_json(
    reproduction: Reproduction, env: Mapping[str, Any], command: Sequence[str]
) -> dict[str, Any]:
    """The machine-readable record written to reproduction.json."""
    spec = reproduction.spec
    return {
        "experiment": spec.name,
        "file": f"experiments/{spec.name}.yaml",
        "source": spec.source,
        "reference": spec.reference,
        "protocol": reproduction.protocol or spec.protocol,
        "tolerance": spec.tolerance,
        "seeds": reproduction.seeds,
        "command": list(command),
        "verdict": verdict_counts(reproduction.cells),
        "cells": [
            {
                "row": c.row,
                "cell": c.cell,
                "expected": c.expected,
                "values": list(c.values),
                "mean": None if c.spread is None else c.spread.mean,
                "std": None if c.spread is None else c.spread.std,
                "n": len(c.values),
                "delta": c.delta,
                "tolerance": c.tolerance,
                "passed": c.passed,
                "source": c.source,
            }
            for c in reproduction.cells
        ],
        "runs": {
            label: [
                {
                    "seed": s.seed,
                    "checkpoint": s.checkpoint,
                    "selected_on": s.selection,
                    "train_wall_time_s": s.train_seconds,
                    "score_wall_time_s": s.score_seconds,
                    "results": s.results,
                    "score_dir": str(s.score_dir),
                }
                for s in scores
            ]
            for label, scores in reproduction.scores.items()
        },
        "environment": dict(env),
    }


def write_reproduction(reproduction: Reproduction, out_dir: Path, command: Sequence[str]) -> str:
    """Write reproduction.{md,json} into `out_dir`; return the Markdown."""
    env = environment()
    markdown = reproduction_markdown(reproduction, env, command)
    (out_dir / "reproduction.md").write_text(markdown, encoding="utf-8")
    payload = reproduction_json(reproduction, env, command)
    (out_dir / "reproduction.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return markdown
