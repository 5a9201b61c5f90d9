"""The `experiments/<name>.yaml` files: expected numbers, and which run produces each of them.

A file holds `experiment` (its stem, also the `conf/experiment/` option that trains it), `source`, `protocol`
(a `conf/metrics/` option), `tolerance` (per cell key or per metric) and exactly one of `published:` (a
paper's numbers) or `measured:` (numbers measured by exposure_lab): row → cell → value. Its `reproduce:`
block says how our numbers are made, without repeating `conf/experiment/`:

- `runs`: run name → overrides of the experiment's training (default: one run `train` without overrides);
- `rows`: row → source of all its cells, or row → cell → source; a source is `run:<name>` (trained once
  per seed, the checkpoint chosen on validation), `model:<conf/model option>` (scored as is) or
  `import:<label>` (official weights converted by `exposure-lab import`), and a cell may add `@<column>`
  when the scored column has another key; rows without a source are the paper's only;
- `imports`: label → `model`, `weights` (relative to the weights folder), `options`, `source`;
- `inference`: overrides of every scored model config (e.g. `protocol=full`); `data`: data overrides.

`extends: <other experiment>` starts from that file: mappings merge key by key, any other value replaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError

DEFAULT_RUN = "train"
SOURCE_KINDS = ("run", "model", "import")
_SOURCE = re.compile(r"^(run|model|import):([\w.-]+)(?:@([\w/.-]+))?$")
_TOP_KEYS = {"experiment", "extends", "source", "protocol", "tolerance", "published", "measured", "reproduce"}
_BLOCK_KEYS = {"runs", "rows", "imports", "inference", "data"}


class ExperimentSpecError(ExposureLabError):
    """An experiments/*.yaml file that does not say what `reproduce` needs."""


def experiments_dir() -> Path:
    """The `experiments/` folder: inside the installed wheel, or beside `conf/` in a source checkout."""
    packaged = Path(__file__).resolve().parents[1] / "experiments"
    return packaged if packaged.is_dir() else config_dir().parent / "experiments"


def experiment_names() -> list[str]:
    """Stems of every experiments/*.yaml file, sorted."""
    return sorted(path.stem for path in experiments_dir().glob("*.yaml"))


@dataclass(frozen=True)
class CellSource:
    """Where one expected cell comes from: `kind` run/model/import, its `name`, the scored `column`."""

    kind: str
    name: str
    column: str

    @property
    def label(self) -> str:
        """`run:train`, `model:identity`, `import:official_s12`."""
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class ImportSpec:
    """Official weights converted with `exposure-lab import <model> <weights> <options>`."""

    model: str
    weights: str
    options: tuple[str, ...] = ()
    source: str = ""


@dataclass
class ExperimentSpec:
    """One validated experiments/<name>.yaml file."""

    name: str
    path: Path
    source: str
    protocol: str
    reference: str  # "paper" (published:) or "measured" (measured:)
    tolerance: dict[str, float]
    expected: dict[str, dict[str, float]]
    cells: dict[str, dict[str, CellSource | None]]
    runs: dict[str, list[str]] = field(default_factory=dict)
    imports: dict[str, ImportSpec] = field(default_factory=dict)
    inference: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)

    def needed(self, kind: str) -> list[str]:
        """Names of the `kind` sources that some cell needs (runs in declaration order, others sorted)."""
        names = {s.name for row in self.cells.values() for s in row.values() if s and s.kind == kind}
        return [run for run in self.runs if run in names] if kind == "run" else sorted(names)

    def tolerance_of(self, cell: str) -> float | None:
        """Tolerance of a cell: by its key (`over/psnr`), else by its metric (`psnr`)."""
        return self.tolerance.get(cell, self.tolerance.get(cell.rpartition("/")[2]))


def _source(text: Any, cell: str, where: str) -> CellSource:
    match = _SOURCE.match(str(text))
    if not match:
        raise ExperimentSpecError(
            f"{where}: cell {cell!r}: source {text!r} is not run:<name>, model:<config> or import:<label> "
            "(optionally with @<scored column>)"
        )
    kind, name, column = match.groups()
    return CellSource(kind, name, column or cell)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ExperimentSpecError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ExperimentSpecError(f"{where}: expected a list of overrides")
    return [str(item) for item in value]


def _imports(block: dict[str, Any], where: str) -> dict[str, ImportSpec]:
    imports = {}
    for label, item in _mapping(block.get("imports"), f"{where}: reproduce.imports").items():
        item = _mapping(item, f"{where}: reproduce.imports.{label}")
        missing = sorted({"model", "weights"} - set(item))
        if missing:
            raise ExperimentSpecError(f"{where}: reproduce.imports.{label}: missing {missing}")
        options = tuple(_strings(item.get("options"), f"{where}: reproduce.imports.{label}.options"))
        imports[str(label)] = ImportSpec(
            str(item["model"]), str(item["weights"]), options, str(item.get("source", ""))
        )
    return imports


def _cells(
    expected: dict[str, dict[str, float]], rows: dict[str, Any], where: str
) -> dict[str, dict[str, CellSource | None]]:
    unknown = sorted(set(rows) - set(expected))
    if unknown:
        raise ExperimentSpecError(f"{where}: reproduce.rows: {unknown} have no expected numbers")
    cells: dict[str, dict[str, CellSource | None]] = {}
    for row, values in expected.items():
        spec = rows.get(row)
        if spec is None:
            cells[row] = dict.fromkeys(values)
        elif isinstance(spec, str):
            if "@" in spec:
                raise ExperimentSpecError(
                    f"{where}: reproduce.rows.{row}: @<column> is per cell, not per row"
                )
            cells[row] = {cell: _source(spec, cell, where) for cell in values}
        else:
            spec = _mapping(spec, f"{where}: reproduce.rows.{row}")
            extra = sorted(set(spec) - set(values))
            if extra:
                raise ExperimentSpecError(
                    f"{where}: reproduce.rows.{row}: cells {extra} have no expected value"
                )
            cells[row] = {cell: _source(spec[cell], cell, where) if cell in spec else None for cell in values}
    return cells


def merged(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """`delta` over `base`: mappings merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in delta.items():
        out[key] = (
            merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    where = str(path)
    if not path.is_file():
        raise ExperimentSpecError(f"{where}: experiment file not found")
    if path in seen:
        raise ExperimentSpecError(f"{where}: extends itself through {[p.stem for p in seen]}")
    try:
        raw = _mapping(OmegaConf.to_container(OmegaConf.load(path), resolve=False), where)
    except (OmegaConfBaseException, ValueError) as exc:
        raise ExperimentSpecError(f"{where}: not readable YAML ({exc})") from exc
    base = raw.pop("extends", None)
    if base is None:
        return raw
    return merged(_read(path.with_name(f"{base}.yaml"), (*seen, path)), raw)


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read and validate one experiments/*.yaml file (with the file it extends); one-line
    ExperimentSpecError naming it otherwise."""
    path = Path(path)
    where = str(path)
    raw = _read(path)
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ExperimentSpecError(f"{where}: unknown key(s) {unknown}; expected {sorted(_TOP_KEYS)}")
    missing = sorted({"experiment", "source", "protocol", "tolerance"} - set(raw))
    if missing:
        raise ExperimentSpecError(f"{where}: missing key(s) {missing}")
    if raw["experiment"] != path.stem:
        raise ExperimentSpecError(
            f"{where}: experiment {raw['experiment']!r} is not the file's stem {path.stem!r}"
        )
    kinds = [key for key in ("published", "measured") if key in raw]
    if len(kinds) != 1:
        raise ExperimentSpecError(f"{where}: needs exactly one of published: (a paper's) or measured: (ours)")
    expected = {
        str(row): {str(cell): float(value) for cell, value in _mapping(values, f"{where}: {row}").items()}
        for row, values in _mapping(raw[kinds[0]], where).items()
    }
    block = _mapping(raw.get("reproduce"), f"{where}: reproduce")
    unknown = sorted(set(block) - _BLOCK_KEYS)
    if unknown:
        raise ExperimentSpecError(
            f"{where}: reproduce: unknown key(s) {unknown}; expected {sorted(_BLOCK_KEYS)}"
        )
    runs_block = _mapping(block.get("runs"), f"{where}: reproduce.runs") or {DEFAULT_RUN: []}
    runs = {
        str(name): _strings(overrides, f"{where}: reproduce.runs.{name}")
        for name, overrides in runs_block.items()
    }
    imports = _imports(block, where)
    cells = _cells(expected, _mapping(block.get("rows"), f"{where}: reproduce.rows"), where)
    tolerance = {str(k): float(v) for k, v in _mapping(raw["tolerance"], f"{where}: tolerance").items()}
    spec = ExperimentSpec(
        name=path.stem,
        path=path,
        source=str(raw["source"]),
        protocol=str(raw["protocol"]),
        reference="paper" if kinds[0] == "published" else "measured",
        tolerance=tolerance,
        expected=expected,
        cells=cells,
        runs=runs,
        imports=imports,
        inference=_strings(block.get("inference"), f"{where}: reproduce.inference"),
        data=_strings(block.get("data"), f"{where}: reproduce.data"),
    )
    for row, values in cells.items():
        for cell, source in values.items():
            if source is None:
                continue
            if source.kind == "run" and source.name not in runs:
                raise ExperimentSpecError(
                    f"{where}: {row}/{cell}: unknown run {source.name!r}; runs: {sorted(runs)}"
                )
            if source.kind == "import" and source.name not in imports:
                raise ExperimentSpecError(f"{where}: {row}/{cell}: unknown import {source.name!r}")
            if spec.tolerance_of(cell) is None:
                raise ExperimentSpecError(f"{where}: {row}/{cell}: no tolerance for this cell or its metric")
    return spec


def find_experiment(name: str) -> ExperimentSpec:
    """The experiment called `name` (an experiments/<name>.yaml stem); one line listing them otherwise."""
    path = experiments_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ExperimentSpecError(
            f"unknown experiment {name!r}; experiments: {', '.join(experiment_names())}"
        )
    return load_experiment(path)
