"""Score tasks on a data set's test split and write results tables; shared by train, eval and benchmark."""

import contextlib
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn
from tqdm.auto import tqdm

from exposure_lab.data.io import write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.cost import count_parameters
from exposure_lab.evaluation.latency import LatencyProtocol, latency_ms_per_mp
from exposure_lab.evaluation.protocols import protocol_suites, protocol_table
from exposure_lab.evaluation.tables import write_results, write_table
from exposure_lab.inference import InferenceOptions, precision_context, prepare_net
from exposure_lab.metrics.assessor_score import WithAssessorScore
from exposure_lab.metrics.no_reference import NoReferenceSuite, no_reference_suite
from exposure_lab.prediction.outputs import check_distinct

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_lightning_info() -> Iterator[None]:
    """Silence Lightning's per-Trainer device and tip messages (repeated for every model scored)."""
    lightning_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        lightning_log.setLevel(level)


def mean_of(records: Sequence[dict[str, Any]], key: str) -> float | None:
    """Mean of `key` over per-image records, ignoring missing values; None when there are none."""
    values = [r[key] for r in records if r.get(key) is not None and not math.isnan(r[key])]
    return sum(values) / len(values) if values else None


def device_of(accelerator: str) -> torch.device:
    """The device a scoring `accelerator` setting runs on: CUDA for gpu/cuda/auto when available, else CPU."""
    use_cuda = accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()
    return torch.device("cuda" if use_cuda else "cpu")


def score_task(
    task: L.LightningModule, datamodule: L.LightningDataModule, suite: nn.Module, accelerator: str = "cpu"
) -> list[dict[str, Any]]:
    """Run `task` over the test split under `suite`'s protocol; returns one record per image."""
    task.set_metric_suite(suite)
    with quiet_lightning_info():
        trainer = L.Trainer(
            accelerator=accelerator,
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            inference_mode=True,
        )
    trainer.test(task, datamodule=datamodule, verbose=False)
    return list(task.test_records)


def score_without_reference(
    task: L.LightningModule,
    datamodule: L.LightningDataModule,
    suite: NoReferenceSuite,
    grid_dir: Path,
    accelerator: str = "cpu",
    prediction_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Run `task` over a test split without targets; one record of `suite`'s measures per image.

    Every image's before/after grid (input | output) is written to `grid_dir/<input stem>.png`, and its
    output to `prediction_dir/<input stem>.png` when that is set.
    """
    device = device_of(accelerator)
    task = task.to(device).eval()
    suite.to(device)
    records = []
    with torch.inference_mode():
        for batch in tqdm(datamodule.test_dataloader(), desc="no-reference eval", unit="batch"):
            x = batch["input"].to(device)
            start = time.perf_counter()
            pred = task(x).clamp(0, 1)
            if pred.is_cuda:
                torch.cuda.synchronize(pred.device)
            seconds = time.perf_counter() - start
            scores = suite(pred, x)
            for i, name in enumerate(batch["name"]):
                stem = Path(name).with_suffix(".png")
                write_image(grid_dir / stem, torch.cat([x[i], F.pad(pred[i], (4, 0), value=1.0)], -1))
                if prediction_dir is not None:
                    write_image(prediction_dir / stem, pred[i])
                records.append(
                    {
                        "name": name,
                        "subset": (batch.get("subset") or [""] * len(x))[i],
                        **{metric: float(values[i]) for metric, values in scores.items()},
                        "megapixels": x.shape[-2] * x.shape[-1] / 1e6,
                        "seconds": seconds / len(x),
                    }
                )
    return records


SUBSET_METRICS = ("psnr", "ssim")


def subset_columns(records: Sequence[dict[str, Any]], metric_names: Sequence[str]) -> list[str]:
    """`<subset>/<metric>` columns (e.g. `under/psnr`) for the subsets present in the records."""
    subsets = sorted({r.get("subset") or "" for r in records} - {""})
    return [f"{subset}/{name}" for subset in subsets for name in SUBSET_METRICS if name in metric_names]


def metric_means(
    records: Sequence[dict[str, Any]], metric_names: Sequence[str], prefix: str = ""
) -> dict[str, Any]:
    """Mean of `<prefix><metric>` over the records, and per subset as `<subset>/<metric>` columns."""
    means: dict[str, Any] = {name: mean_of(records, prefix + name) for name in metric_names}
    for column in subset_columns(records, metric_names):
        subset, name = column.split("/")
        means[column] = mean_of([r for r in records if r.get("subset") == subset], prefix + name)
    return means


def summarise(
    records: Sequence[dict[str, Any]], metric_names: Sequence[str], net: nn.Module, latency: float | None
) -> dict[str, Any]:
    """Mean of every metric over images (per-image protocol) and per subset, params, and `latency` (ms/MP,
    measured apart: see `evaluation.latency`)."""
    summary = metric_means(records, metric_names)
    summary["params"] = count_parameters(net)
    summary["latency_ms_per_mp"] = latency
    return summary


def expert_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """The `expert_<x>` reference names that per-image records were scored against, sorted."""
    return sorted({key.split("/")[0] for record in records for key in record if key.startswith("expert_")})


def expert_rows(model: str, records: Sequence[dict[str, Any]], metric_names: Sequence[str]) -> dict[str, Any]:
    """Rows `<model> · expert <x>` and `<model> · mean` of every metric (overall and per subset) for test sets
    scored against several experts (records carry `expert_<x>/<metric>`); empty when there are none."""
    experts = expert_names(records)
    if not experts:
        return {}
    return {
        f"{model} · {expert.replace('_', ' ')}": metric_means(
            records, metric_names, "" if expert == "mean" else f"{expert}/"
        )
        for expert in [*experts, "mean"]
    }


def output_folder(model: str) -> str:
    """The folder name of a model's saved outputs and grids (`<run dir>/images/<folder>/`)."""
    return re.sub(r"[^\w.-]+", "_", model).strip("_")


def benchmark(
    tasks: Sequence[tuple[str, L.LightningModule]],
    datamodule: L.LightningDataModule,
    suite: nn.Module,
    out_dir: Path,
    accelerator: str = "cpu",
    save_images: bool = False,
    no_reference: NoReferenceSuite | None = None,
    latency: LatencyProtocol | None = None,
    measured_latency: Mapping[str, float] | None = None,
    inference: InferenceOptions | None = None,
) -> str:
    """Score every (name, task) on the test split; write results.{json,csv,md} and per_image.csv to `out_dir`.

    With `save_images`, every output is also written to `out_dir/images/<model>/<input stem>.png`. Data
    without targets (`target_kind` None: DICM, LIME…) is scored with the `no_reference` measures (default
    `NoReferenceSuite()`) instead of `suite`, and before/after grids go to `out_dir/grids/<model>/`.
    Latency is measured per task under `latency` (default `LatencyProtocol()`: warm-up, then the median of
    timed calls on one fixed input)
    unless `measured_latency` has the task's value. `inference`: how the caller prepared the nets (stated in
    the protocol line). Returns the Markdown table (protocol line first).
    """
    latency = latency or LatencyProtocol()
    datamodule.prepare_data()
    datamodule.setup("test")
    without_reference = getattr(datamodule, "target_kind", "image") is None
    if without_reference:
        suite = no_reference or NoReferenceSuite()
    elif no_reference is not None and no_reference.assessor is not None:
        suite = WithAssessorScore(suite, no_reference.assessor)
    results: dict[str, dict[str, Any]] = {}
    by_expert: dict[str, dict[str, Any]] = {}
    per_image: list[dict[str, Any]] = []
    if save_images and hasattr(datamodule, "split_samples"):
        samples = datamodule.split_samples("test")
        check_distinct({Path(s.name): str(Path(s.name).with_suffix(".png")) for s in samples})
    for name, task in tasks:
        log.info("scoring %s", name)
        folder = output_folder(name)
        if save_images:
            task.prediction_dir = out_dir / "images" / folder
        if without_reference:
            grids, predictions = out_dir / "grids" / folder, task.prediction_dir
            records = score_without_reference(task, datamodule, suite, grids, accelerator, predictions)
        else:
            records = score_task(task, datamodule, suite, accelerator)
        milliseconds = (measured_latency or {}).get(name)
        if milliseconds is None:
            milliseconds = latency_ms_per_mp(task, latency)
        results[name] = summarise(records, suite.names, task.net, milliseconds)
        by_expert.update(expert_rows(name, records, suite.names))
        per_image.extend({"model": name, **record} for record in records)
    for metric, reason in suite.unavailable.items():
        log.warning("%s: n/a (%s)", metric, reason)
        for summary in results.values():
            summary[metric] = None
    by_subset = subset_columns(per_image, suite.names)
    columns = [*suite.names, *suite.unavailable, *by_subset, "params", "latency_ms_per_mp"]
    images = len(per_image) // max(1, len(tasks))
    header = f"{suite.describe()} | data: {getattr(datamodule, 'name', 'test')} test split, {images} images"
    header += f" | {latency.describe(accelerator)}"
    if inference is not None:
        header += f" | {inference.describe()}"
    experts = sorted(
        {key.split("/")[0] for record in per_image for key in record if key.startswith("expert_")}
    )
    if experts:
        letters = ", ".join(expert.removeprefix("expert_") for expert in experts)
        header += f", each scored against experts {letters} and averaged over them"
    for name, task in tasks:  # models with their own inference protocol (LMSPEC) say which one ran
        if task.describe_inference():
            header += f" | {name} inference: {task.describe_inference()}"
    markdown = write_results(out_dir, results, per_image, protocol=header, columns=columns)
    if not by_expert:
        return markdown
    expert_header = f"{header} | one row per reference expert; 'mean' is that average"
    expert_columns = [c for c in [*suite.names, *by_subset] if c.rpartition("/")[2] in suite.names]
    return (
        markdown + "\n" + write_table(out_dir / "results_by_expert", by_expert, expert_header, expert_columns)
    )


def benchmark_from_config(
    tasks: Sequence[tuple[str, L.LightningModule]],
    datamodule: L.LightningDataModule,
    cfg: DictConfig,
    out_dir: Path,
    measured_latency: Mapping[str, float] | None = None,
) -> str:
    """`benchmark` with the settings of an `eval`/`benchmark` config: `tile_size`/`tile_overlap` for every
    task, the `metrics` suite, `accelerator`, `save_images`, the `no_reference` measures and `latency`. With
    `protocols=[<metrics config>, ...]` the saved outputs are also re-scored under each of those protocols
    (`protocols.{md,csv,json}`, appended to the returned Markdown). The nets run as `precision`,
    `channels_last` and `compile` say (predict's options; default fp32 channels-last: exact up to float
    rounding), stated in the protocol line."""
    protocols = list(cfg.get("protocols") or [])
    suites = protocol_suites(protocols, cfg.metrics) if protocols else {}
    if suites and (
        getattr(datamodule, "target_kind", "image") != "image"
        or any(task.output_kind != "image" for _, task in tasks)
    ):
        raise ExposureLabError(
            f"protocols=[{','.join(protocols)}] re-scores enhanced images against targets; data "
            f"{getattr(datamodule, 'name', '')!r} or a model here has none"
        )
    inference = InferenceOptions.from_config(
        {key: cfg.get(key) for key in ("precision", "channels_last", "compile")}
    )
    for _, task in tasks:
        task.tile_size, task.tile_overlap = cfg.tile_size, cfg.tile_overlap
        prepare_net(task.net, inference)
    with precision_context(inference, device_of(cfg.accelerator)):
        markdown = benchmark(
            tasks,
            datamodule,
            hydra.utils.instantiate(cfg.metrics),
            out_dir,
            accelerator=cfg.accelerator,
            save_images=cfg.save_images or bool(suites),
            no_reference=no_reference_suite(**cfg.no_reference),
            latency=LatencyProtocol(**cfg.latency) if cfg.get("latency") else None,
            measured_latency=measured_latency,
            inference=inference,
        )
    if not suites:
        return markdown
    prediction_dirs = {name: out_dir / "images" / output_folder(name) for name, _ in tasks}
    data_name = getattr(datamodule, "name", "test")
    return markdown + "\n" + protocol_table(out_dir, prediction_dirs, datamodule, suites, data_name)
