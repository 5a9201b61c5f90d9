"""One self-contained `report.html` per run: protocol lines, sortable tables with the best value per column
marked by the metric's direction, embedded plots, and an image comparison viewer with a before/after slider.

Nothing is loaded from the network: CSS, script, plots and images are inline (images as data URIs).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from exposure_lab.evaluation.tables import MISSING, column_direction, column_header, format_value


@dataclass(frozen=True)
class Spread:
    """Mean ± standard deviation over `n` values (seeds); std is None for n < 2."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        """The spread of `values` (sample std, ddof 1); None when there are none."""
        values = [float(v) for v in values if v is not None and not math.isnan(v)]
        if not values:
            return None
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
        return cls(mean, std, len(values))


@dataclass(frozen=True)
class Cell:
    """A cell shown as `text`, sorted by `sort`, with an optional CSS class (`pass`/`fail` verdicts)."""

    text: str
    sort: float | None = None
    css: str = ""


def format_spread(column: str, spread: Spread) -> str:
    """`20.76 ± 0.12 (3)` with the column's decimals; `20.76 (1)` without a std."""
    text = format_value(column, spread.mean)
    if spread.std is not None:
        text += " ± " + format_value(column, spread.std)
    return f"{text} ({spread.n})"


@dataclass
class Table:
    """Rows `label → column → value`; values are numbers, Spread, Cell, text or None (n/a).

    With `best`, the best shown value of every column whose metric has a direction is marked.
    """

    title: str
    columns: Sequence[str]
    rows: Mapping[str, Mapping[str, Any]]
    protocol: str | None = None
    label: str = "model"
    headers: Mapping[str, str] = field(default_factory=dict)
    best: bool = True
    note: str | None = None


@dataclass
class Figure:
    """A PNG plot with a title and an optional caption."""

    title: str
    png: bytes
    caption: str = ""


@dataclass
class ViewerImage:
    """One test image in the viewer: encoded panels (`label → PNG/JPEG bytes`, in display order: input,
    outputs, reference, heatmaps) and per-panel scores (`label → metric → value`)."""

    name: str
    panels: Mapping[str, bytes]
    scores: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class Viewer:
    """Image comparison viewer: pick an image and two of its panels; a slider wipes between them."""

    title: str
    images: Sequence[ViewerImage]
    metrics: Sequence[str] = ()


Block = Table | Figure | Viewer | str


@dataclass
class Report:
    """A titled page of protocol lines and sections (heading, blocks)."""

    title: str
    protocol: Sequence[str]
    sections: list[tuple[str, list[Block]]] = field(default_factory=list)

    def add(self, heading: str, *blocks: Block) -> None:
        """Append a section (empty blocks are skipped; a section without blocks is not added)."""
        kept = [block for block in blocks if block]
        if kept:
            self.sections.append((heading, kept))


def _asset(name: str) -> str:
    """A stylesheet or script shipped beside this module, inlined into every report."""
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def data_uri(data: bytes) -> str:
    """`data:` URI of PNG or JPEG bytes (type from the magic number)."""
    kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def _sort_key(value: Any) -> str:
    number = value.mean if isinstance(value, Spread) else value.sort if isinstance(value, Cell) else value
    if number is None:
        return ""
    if isinstance(number, bool) or not isinstance(number, int | float) or math.isnan(number):
        return ""
    return repr(float(number))


def _cell_text(column: str, value: Any) -> str:
    if isinstance(value, Cell):
        return value.text
    if isinstance(value, Spread):
        return format_spread(column, value)
    if isinstance(value, str):
        return value
    return format_value(column, value)


def _best_rows(table: Table, column: str) -> set[str]:
    direction = column_direction(column)
    if not table.best or direction is None or len(table.rows) < 2:
        return set()
    shown: dict[str, float] = {}
    for label, row in table.rows.items():
        value = row.get(column)
        number = value.mean if isinstance(value, Spread) else value
        if isinstance(number, int | float) and not isinstance(number, bool) and not math.isnan(number):
            shown[label] = float(format_value(column, number).replace(",", ""))
    if not shown:
        return set()
    best = max(shown.values()) if direction else min(shown.values())
    return {label for label, value in shown.items() if value == best}


def _table_html(table: Table) -> str:
    best = {column: _best_rows(table, column) for column in table.columns}
    head = [f'<th data-type="text">{html.escape(table.label)}</th>']
    for column in table.columns:
        header = table.headers.get(column) or column_header(column)
        head.append(f'<th data-type="number" title="click to sort">{html.escape(header)}</th>')
    body = []
    for label, row in table.rows.items():
        cells = [f'<th scope="row" data-sort="{html.escape(label)}">{html.escape(label)}</th>']
        for column in table.columns:
            value = row.get(column)
            classes = []
            if label in best[column]:
                classes.append("best")
            if isinstance(value, Cell) and value.css:
                classes.append(value.css)
            text = _cell_text(column, value)
            if text == MISSING:
                classes.append("missing")
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f'<td{attribute} data-sort="{_sort_key(value)}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts = [f"<h3>{html.escape(table.title)}</h3>"]
    if table.protocol:
        parts.append(f'<p class="protocol">{html.escape(table.protocol)}</p>')
    parts.append(
        '<div class="table-wrap"><table class="results sortable"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )
    if table.note:
        parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    return "\n".join(parts)


def _figure_html(figure: Figure) -> str:
    caption = f"<figcaption>{html.escape(figure.caption)}</figcaption>" if figure.caption else ""
    return (
        f'<figure class="plot"><h3>{html.escape(figure.title)}</h3>'
        f'<img alt="{html.escape(figure.title)}" src="{data_uri(figure.png)}">{caption}</figure>'
    )


def _viewer_html(viewer: Viewer, index: int) -> str:
    payload = {
        "metrics": list(viewer.metrics),
        "headers": {metric: column_header(metric) for metric in viewer.metrics},
        "images": [
            {
                "name": image.name,
                "panels": [{"label": label, "src": data_uri(data)} for label, data in image.panels.items()],
                "scores": {
                    label: {metric: _cell_text(metric, value) for metric, value in scores.items()}
                    for label, scores in image.scores.items()
                },
            }
            for image in viewer.images
        ],
    }
    data = json.dumps(payload).replace("</", "<\\/")
    return f"""<h3>{html.escape(viewer.title)}</h3>
<div class="viewer" id="viewer-{index}">
  <div class="controls">
    <label>image <select class="v-image"></select></label>
    <label>left <select class="v-left"></select></label>
    <label>right <select class="v-right"></select></label>
  </div>
  <div class="v-body">
    <div class="v-stage">
      <div class="compare">
        <img class="v-after" alt="right panel">
        <img class="v-before" alt="left panel">
        <div class="v-handle"></div>
      </div>
      <input class="v-slider" type="range" min="0" max="100" value="50" step="1"
        aria-label="before/after position">
      <div class="v-captions"><span class="v-left-label"></span><span class="v-right-label"></span></div>
    </div>
    <table class="v-scores"></table>
  </div>
  <div class="v-strip"></div>
  <script type="application/json" class="v-data">{data}</script>
</div>"""


def render(report: Report) -> str:
    """The report as one HTML document (no external resources)."""
    body = []
    viewers = 0
    toc = []
    for number, (heading, blocks) in enumerate(report.sections):
        anchor = f"section-{number}"
        toc.append(f'<a href="#{anchor}">{html.escape(heading)}</a>')
        parts = [f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>']
        for block in blocks:
            if isinstance(block, Table):
                parts.append(_table_html(block))
            elif isinstance(block, Figure):
                parts.append(_figure_html(block))
            elif isinstance(block, Viewer):
                parts.append(_viewer_html(block, viewers))
                viewers += 1
            else:
                parts.append(f'<p class="note">{html.escape(block)}</p>')
        parts.append("</section>")
        body.append("\n".join(parts))
    protocol = "".join(f'<p class="protocol">{html.escape(line)}</p>' for line in report.protocol)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(report.title)}</title>
<style>{_asset("report.css")}</style></head>
<body><header><h1>{html.escape(report.title)}</h1>{protocol}<nav>{" · ".join(toc)}</nav></header>
<main>
{chr(10).join(body)}
</main>
<script>{_asset("report.js")}</script>
</body></html>
"""


def write_report(report: Report, path: str | Path) -> Path:
    """Write `render(report)` to `path` (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path


def panel_strip(image: ViewerImage, height: int = 256) -> np.ndarray:
    """One viewer image's panels side by side at a common `height`, (H, W, 3) uint8."""
    rows = []
    for data in image.panels.values():
        with Image.open(io.BytesIO(data)) as decoded:
            width = max(1, round(decoded.width * height / decoded.height))
            rows.append(np.asarray(decoded.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)))
    return np.concatenate(rows, axis=1)


def _tag(*parts: str) -> str:
    return "/".join(re.sub(r"[^-\w.]+", "_", part).strip("_") for part in parts)


def loggable_images(report: Report) -> dict[str, Any]:
    """`tag → image` of a report's plots (PNG bytes, `report/plots/<title>`) and viewer images (panel strips,
    `report/images/<viewer>/<image>`), for the experiment loggers."""
    images: dict[str, Any] = {}
    for _, blocks in report.sections:
        for block in blocks:
            if isinstance(block, Figure):
                images[_tag("report", "plots", block.title)] = block.png
            elif isinstance(block, Viewer):
                for image in block.images:
                    images[_tag("report", "images", block.title.split(":")[0], image.name)] = panel_strip(
                        image
                    )
    return images
