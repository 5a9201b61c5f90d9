"""The models × data sets matrix: seed groups as mean ± std, the per-EV breakdown, the latency protocol, the
report's building blocks, and plots and image panels sent to an image logger."""

import csv
import math
from pathlib import Path

import pytest
import torch
from tests.helpers import read_json, run_cli

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.evaluation.report import Report, Spread, Table, render
from exposure_lab.evaluation.report_plots import pareto_front

SMALL_UNET = ["model.net.base_channels=8", "model.net.depth=2"]


def unet_checkpoint(path: Path, seed: int, overrides: list[str]) -> Path:
    """A U-Net checkpoint as training writes it (stored model, data and seed), with seeded random weights."""
    torch.manual_seed(seed)
    model_cfg = compose_model_config("unet", overrides)
    task = build_task(model_cfg)
    from omegaconf import OmegaConf

    stored = {
        "model_name": "unet",
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "data": {"name": "paired", "root": "same", "save_split_to": f"/runs/{seed}/data_split.json"},
        "seed": seed,
    }
    return write_checkpoint(task, stored, path)


@pytest.fixture(scope="module")
def matrix_run(paired_root, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ckpts")
    checkpoints = [unet_checkpoint(folder / f"seed{s}.ckpt", s, SMALL_UNET) for s in (0, 1)]
    other = unet_checkpoint(folder / "deeper.ckpt", 0, ["model.net.base_channels=8", "model.net.depth=3"])
    run_dir = tmp_path_factory.mktemp("matrix")
    models = ",".join(str(p) for p in [*checkpoints, other]) + ",identity"
    run_cli(
        "benchmark",
        f"models=[{models}]",
        "group_seeds=true",
        "data=paired",
        f"data.input_dir={paired_root / 'testing' / 'INPUT_IMAGES'}",
        f"data.target_dir={paired_root / 'testing' / 'GT_IMAGES'}",
        "data.num_workers=0",
        "latency.size=64",
        "latency.warmup=1",
        "latency.repeats=3",
        "report.images=2",
        "logger=tensorboard",
        f"hydra.run.dir={run_dir}",
    )
    return run_dir


def test_seed_group_is_one_row_with_mean_std_and_n(matrix_run):
    matrix = read_json(matrix_run / "matrix.json")
    assert list(matrix["results"]) == ["unet (2 seeds)", "unet (deeper.ckpt)", "identity"]
    group = matrix["results"]["unet (2 seeds)"]["paired/psnr"]
    members = read_json(matrix_run / "results.json")["results"]
    values = [members[f"unet (seed{s}.ckpt)"]["psnr"] for s in (0, 1)]
    assert group["n"] == 2 and group["mean"] == pytest.approx(sum(values) / 2)
    assert group["std"] == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))
    table = (matrix_run / "matrix.md").read_text()
    assert f"{group['mean']:.2f} ± {group['std']:.2f} (2)" in table
    with (matrix_run / "matrix.csv").open() as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert rows["unet (2 seeds)"]["paired/psnr n"] == "2"


def test_per_ev_breakdown_and_trustworthy_latency_protocol(matrix_run):
    per_ev = (matrix_run / "per_ev.md").read_text()
    assert "−1 EV · PSNR ↑" in per_ev and "+1 EV · SSIM ↑" in per_ev
    header = (matrix_run / "matrix.md").read_text().split("\n\n")[1].splitlines()[0]
    assert header.endswith("| paired · under/SSIM ↑ | params ↓ | latency (ms/MP) ↓ |")
    evs = read_json(matrix_run / "matrix.json")["per_ev"]["paired"]["identity"]
    assert set(evs) == {"-1.0", "1.0"} and set(evs["-1.0"]) == {"psnr", "ssim"}
    threads = torch.get_num_threads()
    line = f"latency: median of 3 calls after 1 warm-up calls on one 64×64 input, {threads} threads"
    assert line in (matrix_run / "matrix.md").read_text()
    assert line in (matrix_run / "results.md").read_text()


def test_plots_and_image_panels_reach_the_image_logger(matrix_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(matrix_run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()["images"]
    assert any(tag.startswith("report/plots/quality_vs_latency") for tag in tags)
    assert sum(tag.startswith("report/images/paired/") for tag in tags) == 2  # report.images=2


def test_best_value_per_column_follows_the_metric_direction():
    rows = {"a": {"psnr": 20.0, "lpips": 0.30}, "b": {"psnr": Spread(21.0, 0.5, 3), "lpips": 0.10}}
    html = render(Report("t", ["p"], [("s", [Table("t", ["psnr", "lpips"], rows)])]))
    assert '<td class="best" data-sort="21.0">21.00 ± 0.50 (3)</td>' in html
    assert '<td class="best" data-sort="0.1">0.1000</td>' in html
    assert html.count('class="best"') == 2


def test_pareto_front_keeps_the_models_no_other_beats_on_both_axes():
    points = {
        "fast": (10.0, 18.0),
        "slow_good": (100.0, 21.0),
        "dominated": (50.0, 17.0),
        "mid": (30.0, 19.0),
    }
    assert pareto_front(points) == ["fast", "mid", "slow_good"]
    assert pareto_front({"a": (1.0, 0.3), "b": (2.0, 0.1)}, higher_is_better=False) == ["a", "b"]


def test_training_image_grids_and_curves_reach_the_image_logger(paired_overrides, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_cli(
        "train",
        *paired_overrides,
        *SMALL_UNET,
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "logger=tensorboard",
        "test_after_fit=false",
        f"hydra.run.dir={tmp_path}",
    )
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"val/image_grid", "training_curves"} <= set(events.Tags()["images"])
