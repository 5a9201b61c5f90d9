"""The models × data sets matrix: every model scored on every data set in one run. Rows are models (or seed
groups, mean ± std), columns data set × metric (paired metrics where the set has references, the no-reference
measures where it has not), then params and latency; exposure sets with EV labels add a per-EV breakdown."""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig

from exposure_lab.evaluation.latency import LatencyProtocol, latency_ms_per_mp
from exposure_lab.evaluation.report import Spread, format_spread
from exposure_lab.evaluation.scoring import benchmark_from_config
from exposure_lab.evaluation.tables import MISSING, column_direction, column_header, format_value

PER_EV_METRICS = ("psnr", "ssim")
MODEL_COLUMNS = ("params", "latency_ms_per_mp")
_RUN_ONLY_DATA_KEYS = ("save_split_to", "load_split_from")


@dataclass
class DatasetScores:
    """One data set's scores: model → column → mean, its metric columns, per-image records, protocol line."""

    label: str
    results: dict[str, dict[str, Any]]
    columns: list[str]
    per_image: list[dict[str, Any]]
    protocol: str


@dataclass
class Matrix:
    """What `benchmark` with several data sets measured; `groups`: row label → member model names."""

    sets: list[DatasetScores]
    groups: dict[str, list[str]]
    latency: dict[str, float]
    latency_protocol: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # row → `<set>/<metric>` → value


def read_per_image(path: Path) -> list[dict[str, Any]]:
    """per_image.csv back as records: numbers as floats, empty cells as None, names and subsets as text."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            if key in ("model", "name", "subset"):
                continue
            with contextlib.suppress(ValueError):
                row[key] = None if value == "" else float(value)
    return rows


def seed_groups(tasks: Sequence[tuple[str, L.LightningModule]], group_seeds: bool) -> dict[str, list[str]]:
    """Row label → model names. With `group_seeds`, checkpoints whose stored model and data configs are equal
    (seed and run paths aside) share a row `<model> (<n> seeds)`; every other model is its own row."""
    groups: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for name, task in tasks:
        stored = getattr(task, "run_config", None) or {}
        if not group_seeds or "model" not in stored:
            groups[name] = [name]
            continue
        data = {k: v for k, v in (stored.get("data") or {}).items() if k not in _RUN_ONLY_DATA_KEYS}
        key = json.dumps([stored.get("model_name"), stored["model"], data], sort_keys=True, default=str)
        keys.setdefault(key, str(stored.get("model_name") or name))
        groups.setdefault(key, []).append(name)
    labelled: dict[str, list[str]] = {}
    for key, members in groups.items():
        if key in keys:
            label = keys[key] if len(members) == 1 else f"{keys[key]} ({len(members)} seeds)"
            labelled[label if len(members) > 1 else members[0]] = members
        else:
            labelled[key] = members
    return labelled


def collapse(values: Sequence[Any]) -> Any:
    """One cell from the members' values: the value itself for one member, else a Spread."""
    numbers = [
        v for v in values if isinstance(v, int | float) and not (isinstance(v, float) and math.isnan(v))
    ]
    if len(values) == 1:
        return values[0]
    return Spread.of(numbers)


def per_ev_means(
    per_image: Sequence[Mapping[str, Any]], metrics: Sequence[str] = PER_EV_METRICS
) -> dict[str, dict[float, dict[str, float]]]:
    """model → EV → metric → mean over that EV's images; records without an EV are skipped."""
    sums: dict[str, dict[float, dict[str, list[float]]]] = {}
    for record in per_image:
        ev = record.get("ev")
        if ev is None or (isinstance(ev, float) and math.isnan(ev)):
            continue
        by_metric = sums.setdefault(str(record["model"]), {}).setdefault(float(ev), {})
        for metric in metrics:
            value = record.get(metric)
            if isinstance(value, int | float) and not math.isnan(value):
                by_metric.setdefault(metric, []).append(float(value))
    return {
        model: {ev: {m: sum(v) / len(v) for m, v in values.items()} for ev, values in sorted(evs.items())}
        for model, evs in sums.items()
    }


def ev_label(ev: float) -> str:
    """`−1.5 EV`, `0 EV`, `+1 EV`."""
    return ("0" if ev == 0 else f"{ev:+g}".replace("-", "−")) + " EV"


def per_ev_table(
    by_model: Mapping[str, Mapping[float, Mapping[str, float]]],
) -> tuple[list[str], dict[str, dict]]:
    """(columns, rows) of the per-EV breakdown: columns `<ev>/<metric>` for every EV and metric present."""
    evs = sorted({ev for by_ev in by_model.values() for ev in by_ev})
    metrics = [
        m for m in PER_EV_METRICS if any(m in v for by_ev in by_model.values() for v in by_ev.values())
    ]
    columns = [f"{ev_label(ev)}/{m}" for m in metrics for ev in evs]
    rows = {
        model: {f"{ev_label(ev)}/{m}": by_ev.get(ev, {}).get(m) for m in metrics for ev in evs}
        for model, by_ev in by_model.items()
    }
    return columns, rows


def grouped_records(
    per_image: Sequence[Mapping[str, Any]], groups: Mapping[str, Sequence[str]]
) -> list[dict]:
    """Per-image records with `model` renamed to its row label (a seed group pools its members' images)."""
    row_of = {member: label for label, members in groups.items() for member in members}
    return [{**record, "model": row_of.get(str(record["model"]), record["model"])} for record in per_image]


def score_datasets(
    tasks: Sequence[tuple[str, L.LightningModule]],
    data_cfgs: Mapping[str, DictConfig],
    cfg: DictConfig,
    out_dir: Path,
) -> Matrix:
    """Score every task on every data set (each set's tables in `out_dir/<set>/`, or in `out_dir` itself for a
    single set, as before), latency once per task."""
    protocol = LatencyProtocol(**cfg.latency)
    latency = {name: latency_ms_per_mp(task, protocol) for name, task in tasks}
    sets = []
    for label, data_cfg in data_cfgs.items():
        set_dir = out_dir if len(data_cfgs) == 1 else out_dir / label
        benchmark_from_config(
            tasks, hydra.utils.instantiate(data_cfg), cfg, set_dir, measured_latency=latency
        )
        table = json.loads((set_dir / "results.json").read_text())
        columns = [c for c in next(iter(table["results"].values())) if c not in MODEL_COLUMNS]
        per_image = read_per_image(set_dir / "per_image.csv")
        sets.append(DatasetScores(label, table["results"], columns, per_image, table["protocol"]))
    matrix = Matrix(
        sets, seed_groups(tasks, bool(cfg.group_seeds)), latency, protocol.describe(cfg.accelerator)
    )
    matrix.rows = matrix_rows(matrix)
    return matrix


def matrix_rows(matrix: Matrix) -> dict[str, dict[str, Any]]:
    """Row label → `<set>/<metric>` (and `params`, `latency_ms_per_mp`) → value or Spread over seeds."""
    rows: dict[str, dict[str, Any]] = {}
    for label, members in matrix.groups.items():
        row: dict[str, Any] = {}
        for scores in matrix.sets:
            for column in scores.columns:
                row[f"{scores.label}/{column}"] = collapse([scores.results[m].get(column) for m in members])
        first = matrix.sets[0].results if matrix.sets else {}
        row["params"] = first.get(members[0], {}).get("params")
        row["latency_ms_per_mp"] = collapse([matrix.latency[m] for m in members])
        rows[label] = row
    return rows


def matrix_columns(matrix: Matrix) -> list[str]:
    """`<set>/<metric>` for every set's metric columns, then params and latency."""
    return [*(f"{s.label}/{c}" for s in matrix.sets for c in s.columns), *MODEL_COLUMNS]


def matrix_header(column: str) -> str:
    """`synthetic/under/psnr` → `synthetic · under/PSNR ↑`; model columns (params, latency) as in tables."""
    if column in MODEL_COLUMNS or "/" not in column:
        return column_header(column)
    group, _, rest = column.partition("/")
    return f"{group} · {column_header(rest)}"


def _shown(column: str, value: Any) -> str:
    return format_spread(column, value) if isinstance(value, Spread) else format_value(column, value)


def _best(rows: Mapping[str, Mapping[str, Any]], column: str) -> set[str]:
    direction = column_direction(column)
    if direction is None or len(rows) < 2:
        return set()
    shown = {}
    for model, row in rows.items():
        value = row.get(column)
        number = value.mean if isinstance(value, Spread) else value
        if isinstance(number, int | float) and not math.isnan(number):
            shown[model] = float(format_value(column, number).replace(",", ""))
    if not shown:
        return set()
    best = max(shown.values()) if direction else min(shown.values())
    return {model for model, value in shown.items() if value == best}


def markdown(rows: Mapping[str, Mapping[str, Any]], columns: Sequence[str], protocol: Sequence[str]) -> str:
    """Protocol lines, a blank line, then the Markdown table (best per column in bold by direction)."""
    best = {column: _best(rows, column) for column in columns}
    lines = [
        "| model | " + " | ".join(matrix_header(c) for c in columns) + " |",
        "|:---|" + "---:|" * len(columns),
    ]
    for model, row in rows.items():
        cells = []
        for column in columns:
            text = _shown(column, row.get(column))
            cells.append(f"**{text}**" if model in best[column] and text != MISSING else text)
        lines.append("| " + " | ".join([model.replace("|", "\\|"), *cells]) + " |")
    return "\n".join(protocol) + "\n\n" + "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    if isinstance(value, Spread):
        return {"mean": value.mean, "std": value.std, "n": value.n}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _csv_cells(value: Any) -> list[Any]:
    if isinstance(value, Spread):
        return [value.mean, "" if value.std is None else value.std, value.n]
    return ["" if value is None else value, "", "" if value is None else 1]


def write_matrix(matrix: Matrix, out_dir: Path) -> str:
    """matrix.{md,csv,json} (and per_ev.{md,csv} for sets with EV labels) in `out_dir`; returns matrix.md."""
    columns = matrix_columns(matrix)
    protocol = [f"{s.label}: {s.protocol}" for s in matrix.sets] + [matrix.latency_protocol]
    text = markdown(matrix.rows, columns, protocol)
    (out_dir / "matrix.md").write_text(text, encoding="utf-8")
    with (out_dir / "matrix.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", *(f"{c}{suffix}" for c in columns for suffix in ("", " std", " n"))])
        for model, row in matrix.rows.items():
            writer.writerow([model, *(cell for c in columns for cell in _csv_cells(row.get(c)))])
    per_ev = {}
    ev_markdown = []
    for scores in matrix.sets:
        by_model = per_ev_means(grouped_records(scores.per_image, matrix.groups))
        if not by_model:
            continue
        per_ev[scores.label] = {m: {str(ev): v for ev, v in evs.items()} for m, evs in by_model.items()}
        ev_columns, ev_rows = per_ev_table(by_model)
        ev_markdown.append(markdown(ev_rows, ev_columns, [f"{scores.label}: per EV; {scores.protocol}"]))
    if ev_markdown:
        (out_dir / "per_ev.md").write_text("\n".join(ev_markdown), encoding="utf-8")
    payload = {
        "protocol": protocol,
        "columns": columns,
        "groups": matrix.groups,
        "results": {m: {c: _json_value(row.get(c)) for c in columns} for m, row in matrix.rows.items()},
        "per_ev": per_ev,
    }
    (out_dir / "matrix.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return text
