"""The metric protocol as a swept axis: a run's saved outputs re-scored under several `metrics` configs.

Each model runs once; its 8-bit outputs (`<run dir>/images/<model>/`) are read back and scored against the
test targets under every named protocol (`conf/metrics/<name>.yaml`). The table has one row per protocol,
its metric means and their difference to the reference protocol (`default` when listed, else the first):
how far a number moves with the protocol alone.
"""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig
from tqdm.auto import tqdm

from exposure_lab.config import config_dir
from exposure_lab.data.io import read_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.tables import write_table
from exposure_lab.metrics import MetricSuite

TABLE_STEM = "protocols"


def metrics_config_names() -> list[str]:
    """The names `protocols=[...]` accepts: the stems of `conf/metrics/*.yaml`."""
    return sorted(path.stem for path in (config_dir() / "metrics").glob("*.yaml"))


def _composed_protocol(name: str) -> DictConfig:
    overrides = [f"+metrics={name}"]
    if GlobalHydra.instance().is_initialized():
        return hydra.compose(config_name=None, overrides=overrides).metrics.protocol
    with hydra.initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra.compose(config_name=None, overrides=overrides).metrics.protocol


def protocol_suites(names: Sequence[str], metrics_cfg: DictConfig) -> dict[str, MetricSuite]:
    """One MetricSuite per protocol name: the run's `metrics` config (names, weights) with the protocol of
    `conf/metrics/<name>.yaml`. Unknown names raise ExposureLabError listing the known ones."""
    known = metrics_config_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ExposureLabError(
            f"protocols: unknown metrics config(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    if not names:
        raise ExposureLabError("protocols: give at least one metrics config name, e.g. [default,ssim_matlab]")
    return {
        name: hydra.utils.instantiate(metrics_cfg, protocol=_composed_protocol(name))
        for name in dict.fromkeys(str(name) for name in names)
    }


def _references(batch: Mapping[str, Any], index: int) -> list[torch.Tensor]:
    experts = batch.get("experts")
    if experts:
        return [experts[key][index : index + 1] for key in sorted(experts)]
    return [batch["target"][index : index + 1]]


def rescore_saved_outputs(
    datamodule: Any, prediction_dir: Path, suites: Mapping[str, MetricSuite]
) -> dict[str, dict[str, float | None]]:
    """Mean of every metric per protocol over the test split: each saved output
    `prediction_dir/<input stem>.png` against its target (averaged over experts when the set has several)."""
    records: dict[str, list[dict[str, float]]] = {name: [] for name in suites}
    for batch in tqdm(datamodule.test_dataloader(), desc=f"protocols {prediction_dir.name}", unit="batch"):
        for index, name in enumerate(batch["name"]):
            path = prediction_dir / Path(name).with_suffix(".png")
            if not path.is_file():
                raise ExposureLabError(f"protocols: saved output {path} is missing")
            pred = read_image(path)[None]
            for protocol, suite in suites.items():
                scores = [suite(pred, reference.float()) for reference in _references(batch, index)]
                records[protocol].append(
                    {metric: sum(float(s[metric][0]) for s in scores) / len(scores) for metric in suite.names}
                )
    means: dict[str, dict[str, float | None]] = {}
    for protocol, rows in records.items():
        finite = {m: [r[m] for r in rows if r[m] == r[m]] for m in suites[protocol].names}
        means[protocol] = {m: (sum(v) / len(v) if v else None) for m, v in finite.items()}
    return means


def protocol_rows(means: Mapping[str, Mapping[str, float | None]]) -> tuple[dict[str, dict[str, Any]], str]:
    """Rows protocol → {metric, `Δ/<metric>`: mean − the reference's}, and the reference protocol's name."""
    reference = "default" if "default" in means else next(iter(means))
    rows = {}
    for protocol, scores in means.items():
        row: dict[str, Any] = dict(scores)
        for metric, value in scores.items():
            base = means[reference].get(metric)
            row[f"Δ/{metric}"] = None if value is None or base is None else value - base
        rows[protocol] = row
    return rows, reference


def protocol_table(
    out_dir: Path,
    prediction_dirs: Mapping[str, Path],
    datamodule: Any,
    suites: Mapping[str, MetricSuite],
    data_name: str,
) -> str:
    """Re-score each model's saved outputs under every protocol; write `protocols.{md,csv,json}` (rows
    `<protocol>` for one model, `<model> · <protocol>` for several) and return the Markdown with a legend."""
    table: dict[str, dict[str, Any]] = {}
    by_model = {}
    reference = ""
    for model, prediction_dir in prediction_dirs.items():
        rows, reference = protocol_rows(rescore_saved_outputs(datamodule, prediction_dir, suites))
        by_model[model] = rows
        for protocol, row in rows.items():
            table[protocol if len(prediction_dirs) == 1 else f"{model} · {protocol}"] = row
    metrics = list(dict.fromkeys(metric for suite in suites.values() for metric in suite.names))
    columns = [*metrics, *(f"Δ/{metric}" for metric in metrics)]
    header = (
        f"metric protocols: the saved 8-bit outputs re-scored | data: {data_name} test split | "
        f"Δ = value − {reference}"
    )
    markdown = write_table(out_dir / TABLE_STEM, table, header, columns, row_label="protocol")
    legend = "\n".join(f"- `{name}`: {suite.describe()}" for name, suite in suites.items())
    markdown = f"{markdown}\n{legend}\n"
    (out_dir / f"{TABLE_STEM}.md").write_text(markdown, encoding="utf-8")
    protocols = {name: suite.describe() for name, suite in suites.items()}
    (out_dir / f"{TABLE_STEM}.json").write_text(
        json.dumps({"reference": reference, "protocols": protocols, "results": by_model}, indent=2) + "\n",
        encoding="utf-8",
    )
    return markdown
