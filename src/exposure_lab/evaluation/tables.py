"""Results tables (Markdown, CSV, JSON) and per-image scores, generated from metric values, never by hand."""

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exposure_lab.metrics import METRIC_SPECS

_DEFAULT_DECIMALS = 4
MISSING = "n/a"


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def column_direction(column: str) -> bool | None:
    """True/False when higher/lower is better for a column (`under/psnr`), None for a measure without
    direction or an unknown column."""
    spec = METRIC_SPECS.get(_split(column)[1])
    return None if spec is None else spec.higher_is_better


def _split(column: str) -> tuple[str, str]:
    """`under/psnr` → (`under/`, `psnr`): a logged-key prefix and the metric name."""
    prefix, _, name = column.rpartition("/")
    return (prefix + "/" if prefix else ""), name


def column_header(column: str) -> str:
    """Display header of a metric column with its direction arrow, e.g. `PSNR ↑`, `under/LPIPS ↓`."""
    prefix, name = _split(column)
    direction = column_direction(column)
    arrow = "" if direction is None else (" ↑" if direction else " ↓")
    spec = METRIC_SPECS.get(name)
    return f"{prefix}{name if spec is None else spec.label}{arrow}"


def format_value(column: str, value: Any) -> str:
    """A metric value as shown in tables: PSNR 2 decimals, SSIM/LPIPS 4, params integer, latency 1; `n/a`."""
    if _is_missing(value):
        return MISSING
    spec = METRIC_SPECS.get(_split(column)[1])
    return f"{float(value):,.{_DEFAULT_DECIMALS if spec is None else spec.decimals}f}"


def _columns(results: Mapping[str, Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    return list(dict.fromkeys(metric for scores in results.values() for metric in scores))


def markdown_table(
    results: Mapping[str, Mapping[str, Any]],
    protocol: str,
    columns: Sequence[str] | None = None,
    bold_best: bool = True,
    row_label: str = "model",
) -> str:
    """The protocol line, a blank line, then a Markdown table with one row per model.

    `results` maps model → metric → value (None/NaN shown as `n/a`); `columns` defaults to every metric in
    order of first appearance. In tables of two or more models, the best displayed value of each known metric
    column is bold (all of them on a tie), by the metric's direction, unless `bold_best` is False.
    """
    columns = _columns(results, columns)
    cells = {model: [format_value(c, scores.get(c)) for c in columns] for model, scores in results.items()}
    for index, column in enumerate(columns):
        direction = column_direction(column)
        shown = {
            model: float(row[index].replace(",", "")) for model, row in cells.items() if row[index] != MISSING
        }
        if not bold_best or direction is None or not shown or len(cells) < 2:
            continue
        best = max(shown.values()) if direction else min(shown.values())
        for model, value in shown.items():
            if value == best:
                cells[model][index] = f"**{cells[model][index]}**"
    lines = [
        f"| {row_label} | " + " | ".join(column_header(c) for c in columns) + " |",
        "|:---|" + "---:|" * len(columns),
        *("| " + " | ".join([model.replace("|", "\\|"), *row]) + " |" for model, row in cells.items()),
    ]
    return f"{protocol}\n\n" + "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    return None if _is_missing(value) else value


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if _is_missing(row.get(key)) else row.get(key) for key in header})


def write_table(
    stem: Path,
    results: Mapping[str, Mapping[str, Any]],
    protocol: str,
    columns: Sequence[str],
    row_label: str = "model",
) -> str:
    """Write `<stem>.md` and `<stem>.csv` (row label column `row_label`) of `results`, without bold values
    (rows are not rivals); return the Markdown."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    markdown = markdown_table(results, protocol, columns, bold_best=False, row_label=row_label)
    stem.with_suffix(".md").write_text(markdown, encoding="utf-8")
    rows = [{row_label: row, **scores} for row, scores in results.items()]
    _write_csv(stem.with_suffix(".csv"), [row_label, *columns], rows)
    return markdown


def write_results(
    out_dir: Path | str,
    results: Mapping[str, Mapping[str, Any]],
    per_image: Sequence[Mapping[str, Any]],
    protocol: str,
    columns: Sequence[str] | None = None,
) -> str:
    """Write results.md, results.csv, results.json and per_image.csv to `out_dir`; return the Markdown.

    `results`: model → metric → mean value (None/NaN when missing); `per_image`: one dict per (model, image)
    with keys `model`, `name` and any metrics or metadata; `protocol`: the one-line metric protocol.
    JSON is `{"protocol": ..., "results": {model: {metric: value | null}}}`; CSV cells of missing values are
    empty.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = _columns(results, columns)
    markdown = markdown_table(results, protocol, columns)
    (out_dir / "results.md").write_text(markdown, encoding="utf-8")
    table = {model: {c: _json_value(scores.get(c)) for c in columns} for model, scores in results.items()}
    (out_dir / "results.json").write_text(
        json.dumps({"protocol": protocol, "results": table}, indent=2) + "\n", encoding="utf-8"
    )
    _write_csv(out_dir / "results.csv", ["model", *columns], [{"model": m, **s} for m, s in table.items()])
    keys = dict.fromkeys(["model", "name"])
    keys.update(dict.fromkeys(key for record in per_image for key in record))
    _write_csv(out_dir / "per_image.csv", list(keys), per_image)
    return markdown
