"""`reproduce list`: for every experiment, what it reproduces, the data it needs and whether this machine
holds it (checked with the data set's layout parser), the official weights it imports, and its last
reproduction."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict
from omegaconf.errors import MissingMandatoryValue

from exposure_lab.config import config_dir
from exposure_lab.data.synthetic import SyntheticExposureDataModule, synthetic_set_complete
from exposure_lab.errors import user_error_of
from exposure_lab.evaluation.experiments import ExperimentSpec, experiment_names, find_experiment


@dataclass
class ExperimentStatus:
    """One line of `reproduce list`."""

    name: str
    reproduces: str
    data: str
    source: str
    data_here: str
    weights_here: str
    last: str
    runnable: bool


def compose_outside_app(config_name: str, overrides: Sequence[str], output_dir: Path) -> DictConfig:
    """Compose and resolve an entry config as a run in `output_dir` would (no Hydra app running)."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = os.getcwd()
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


def data_presence(data_cfg: DictConfig) -> tuple[bool, str]:
    """(present, what was found): the test split and, when the data set trains, train/val parsed by the
    layout parser of `data_cfg`; the synthetic set counts as present (it renders itself, no download)."""
    try:
        datamodule = hydra.utils.instantiate(data_cfg)
    except MissingMandatoryValue as exc:
        return False, f"needs {exc.full_key}=<folder>"
    except Exception as exc:
        error = user_error_of(exc)
        if error is None:
            raise
        return False, str(error)
    if isinstance(datamodule, SyntheticExposureDataModule) or isinstance(
        getattr(datamodule, "source", None), SyntheticExposureDataModule
    ):
        root = Path(str(data_cfg.get("root") or data_cfg.get("source", {}).get("root")))
        return True, "rendered" if synthetic_set_complete(
            root
        ) else "renders itself on first use (no download)"
    counts = []
    try:
        for split in ("train", "val", "test"):
            counts.append(f"{split} {len(datamodule.split_samples(split))}")
    except Exception as exc:
        error = user_error_of(exc)
        if error is None:
            raise
        return False, str(error)
    return True, "found " + ", ".join(counts)


def last_reproduction(outputs: Path, name: str) -> str:
    """`<when>: <passed>/<run> ✓ (<dir>)` of the newest reproduction.json of `name` under `outputs/`."""
    found = []
    for path in outputs.glob("reproduce/**/reproduction.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("experiment") == name:
            found.append((path.stat().st_mtime, path, record))
    if not found:
        return "never"
    _, path, record = max(found, key=lambda item: item[0])
    verdict = record.get("verdict", {})
    run = verdict.get("passed", 0) + verdict.get("failed", 0)
    seeds = record.get("seeds")
    return f"{verdict.get('passed', 0)}/{run} ✓, seeds {seeds} ({path.parent})"


def weights_presence(spec: ExperimentSpec, weights_dir: Path) -> str:
    """`-` without imports, else each needed weights file as found or missing."""
    needed = spec.needed("import")
    if not needed:
        return "-"
    missing = [
        spec.imports[n].weights for n in needed if not (weights_dir / spec.imports[n].weights).is_file()
    ]
    return "all found" if not missing else "missing " + ", ".join(missing)


def describe_rows(spec: ExperimentSpec) -> str:
    """What an experiment reproduces: source and rows (rows made here marked with their source kinds)."""
    rows = []
    for row, cells in spec.cells.items():
        kinds = sorted({s.kind for s in cells.values() if s})
        rows.append(row + (f" ({'+'.join(kinds)})" if kinds else " (paper only)"))
    return f"{spec.source}: " + ", ".join(rows)


def experiment_status(name: str, overrides: Sequence[str], work_dir: Path) -> ExperimentStatus:
    """The status of one experiment with the user's `overrides` (e.g. `data.root=…`, `paths.data_dir=…`)."""
    spec = find_experiment(name)
    cfg = compose_outside_app(
        "reproduce",
        [f"experiment={name}", *spec.data, *overrides, "data.save_split_to=null"],
        work_dir,
    )
    data_name = str(cfg.data.get("name", "?"))
    sources: Mapping[str, Any] = cfg.get("data_sources") or {}
    info = sources.get(data_name) or {}
    present, found = data_presence(cfg.data)
    weights = weights_presence(spec, Path(cfg.weights_dir))
    runnable = present and not weights.startswith("missing")
    return ExperimentStatus(
        name=name,
        reproduces=describe_rows(spec),
        data=f"{data_name}: {info.get('layout', '')}".rstrip(": "),
        source=str(info.get("source", "")),
        data_here=("yes, " if present else "no: ") + found,
        weights_here=weights,
        last=last_reproduction(Path(str(cfg.paths.log_dir)), name),
        runnable=runnable,
    )


def experiment_statuses(overrides: Sequence[str]) -> list[ExperimentStatus]:
    """`experiment_status` of every experiment, in name order."""
    with tempfile.TemporaryDirectory(prefix="exposure_lab_list_") as work_dir:
        return [experiment_status(name, overrides, Path(work_dir)) for name in experiment_names()]


def status_markdown(statuses: Sequence[ExperimentStatus]) -> str:
    """The `reproduce list` table."""
    lines = [
        "| experiment | reproduces | data (layout) | where to get it | data here | weights "
        "| last reproduction |",
        "|:---|:---|:---|:---|:---|:---|:---|",
    ]
    for s in statuses:
        cells = [s.name, s.reproduces, s.data, s.source, s.data_here, s.weights_here, s.last]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    runnable = [s.name for s in statuses if s.runnable]
    return "\n".join(lines) + f"\n\nrunnable here: {', '.join(runnable) or 'none'}\n"
