"""Exposure assessment objective: residual labels, map metrics, correlations, training, the assessment loss
and the assessor column of the benchmark."""

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from tests.dataset_trees import write_iea40k_tree
from tests.helpers import SHARED, compose_data, read_json, run_cli

from exposure_lab.checkpoints import build_task, compose_model_config, load_task, write_checkpoint
from exposure_lab.checkpoints.official import import_official
from exposure_lab.data.paired import PairedDataModule
from exposure_lab.data.residual_labels import ResidualLabelDataModule, residual_label
from exposure_lab.losses.exposure_assessment import ExposureAssessmentLoss
from exposure_lab.tasks.assessment import ExposureAssessment, map_metrics

OFFICIAL = SHARED / "weights" / "p_ieanet"
TINY_ASSESSOR = [
    "model.net.channels=8",
    "model.net.structure_layers=1",
    "model.net.lightness_blocks=1",
    "model.net.heads=2",
    "model.net.attention_grid=4",
    "model.input_size=32",
]


def tiny_assessor_checkpoint(path: Path) -> Path:
    """A checkpoint of a tiny paper-variant assessor (random weights, 32×32 net input)."""
    cfg = compose_model_config("p_ieanet", TINY_ASSESSOR)
    task = build_task(cfg)
    stored = {"model_name": "tiny_assessor", "model": OmegaConf.to_container(cfg, resolve=True)}
    return write_checkpoint(task, stored, path)


def test_residual_label_is_positive_when_darkened_and_negative_when_brightened():
    ideal = torch.rand(3, 8, 10) * 0.5 + 0.25
    dark, bright = residual_label(ideal * 0.5, ideal), residual_label((ideal * 1.5).clamp(0, 1), ideal)
    assert dark.shape == (1, 8, 10) and (dark > 0).all() and (bright < 0).all()
    gray = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    torch.testing.assert_close(dark, ((ideal - ideal * 0.5) * gray).sum(0, keepdim=True))


def test_residual_labels_of_a_paired_set(paired_root, tmp_path):
    source = PairedDataModule(
        input_dir=paired_root / "testing" / "INPUT_IMAGES",
        target_dir=paired_root / "testing" / "GT_IMAGES",
        train_input_dir=paired_root / "training" / "INPUT_IMAGES",
        train_target_dir=paired_root / "training" / "GT_IMAGES",
        patch_size=16,
        batch_size=4,
        num_workers=0,
        save_split_to=None,
    )
    module = ResidualLabelDataModule(source)
    assert module.name == "paired_residual" and module.target_kind == "exposure_map"
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == (4, 3, 16, 16) and batch["target"].shape == (4, 1, 16, 16)
    module.setup("test")
    for batch in module.test_dataloader():
        sign = 1 if batch["name"][0].endswith("_N1.png") else -1
        assert sign * batch["target"].mean() > 0 and math.isnan(float(batch["score"][0]))


def test_map_metrics_use_data_range_two():
    target = torch.rand(2, 1, 16, 16) * 2 - 1
    perfect = map_metrics(target, target)
    assert torch.all(perfect["mae"] == 0) and torch.allclose(perfect["ssim"], torch.ones(2))
    shifted = map_metrics((target + 0.1).clamp(-1, 1), target.clamp(-0.9, 0.9))
    offset = map_metrics(torch.full((1, 1, 16, 16), 0.1), torch.zeros(1, 1, 16, 16))
    assert offset["psnr"].item() == pytest.approx(10 * math.log10(4 / 0.01), abs=1e-4)
    assert shifted["mae"].max() <= 0.2


def test_residual_map_is_at_the_input_size_and_clamped():
    task = build_task(compose_model_config("p_ieanet", TINY_ASSESSOR)).eval()
    with torch.no_grad():
        task.net.head[-1].bias.fill_(5.0)
        residual = task.residual_map(torch.rand(2, 3, 37, 53))
    assert residual.shape == (2, 1, 37, 53) and residual.max() <= 1 and residual.min() >= -1


def test_validation_on_iea40k_reports_map_metrics_and_correlations(tmp_path):
    root = write_iea40k_tree(tmp_path / "IEA40K", csv_name="list.csv", size=(16, 20))
    csvs = ["data.train_csv=list.csv", "data.val_csv=list.csv", "data.test_csv=list.csv"]
    cfg = compose_data("iea40k", [f"data.root={root}", "data.num_workers=0", *csvs], tmp_path)
    task = build_task(compose_model_config("p_ieanet", TINY_ASSESSOR))
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    metrics = trainer.validate(task, datamodule=instantiate(cfg.data), verbose=False)[0]
    assert {"val/mae", "val/psnr", "val/ssim", "val/plcc", "val/srcc"} <= set(metrics)
    assert -1 <= metrics["val/srcc"] <= 1 and metrics["val/mae"] > 0


def test_assessment_task_rejects_image_targets(paired_overrides, tmp_path):
    with pytest.raises(SystemExit):
        run_cli("train", *paired_overrides, "model=p_ieanet", "debug=fdr", f"hydra.run.dir={tmp_path}")


def tiny_residual_set(folder: Path) -> list[str]:
    """Overrides of `experiment=p_ieanet_synthetic` that render a 6-scene synthetic source set in `folder`."""
    return [
        f"data.source.root={folder}",
        "data.source.render.photos=[astronaut,coffee,chelsea]",
        "data.source.render.scenes_per_photo=2",
        "data.source.render.scene_size=32",
        "data.source.render.split.validation=[coffee]",
        "data.source.render.split.testing=[chelsea]",
        "data.source.patch_size=32",
        "data.source.num_workers=0",
    ]


def test_fast_dev_run_on_the_synthetic_residual_set(tmp_path):
    render = tiny_residual_set(tmp_path / "synthetic")
    run_dir = tmp_path / "run"
    lines = run_cli(
        "train", "experiment=p_ieanet_synthetic", "debug=fdr", *render, f"hydra.run.dir={run_dir}"
    )
    assert lines[-1] == str(run_dir)
    task, stored = load_task(read_json(run_dir / "result.json")["best_checkpoint"])
    assert isinstance(task, ExposureAssessment) and stored["model_name"] == "p_ieanet_release"
    assert stored["data"]["name"] == "synthetic_residual"


def test_exposure_assessment_loss_is_differentiable_and_stays_out_of_state_dicts(tmp_path):
    loss = ExposureAssessmentLoss(tiny_assessor_checkpoint(tmp_path / "assessor.ckpt"))
    enhanced = torch.rand(2, 3, 24, 30, requires_grad=True)
    value = loss(enhanced)
    value.backward()
    assert value.item() >= 0 and enhanced.grad is not None and enhanced.grad.abs().sum() > 0
    assert not list(loss.state_dict())


def test_paired_training_adds_the_weighted_assessment_term(paired_overrides, tmp_path):
    ckpt = tiny_assessor_checkpoint(tmp_path / "assessor.ckpt")
    run_dir = tmp_path / "run"
    overrides = [
        *paired_overrides,
        "model.net.base_channels=4",
        "model.net.depth=2",
        f"+model.assessor_ckpt={ckpt}",
        "+model.assessor_weight=0.5",
        "debug=fdr",
        "test_after_fit=false",
        f"hydra.run.dir={run_dir}",
    ]
    run_cli("train", *overrides)
    task, _ = load_task(read_json(run_dir / "result.json")["best_checkpoint"])
    assert task.exposure_assessment is not None and task.assessor_weight == 0.5
    assert not any("assessor" in key for key in task.state_dict())
    batch = {"input": torch.rand(2, 3, 16, 16), "target": torch.rand(2, 3, 16, 16)}
    with torch.no_grad():
        pred = task.net(batch["input"])
        expected = torch.nn.functional.l1_loss(pred, batch["target"]) + 0.5 * task.exposure_assessment(pred)
        task.log = lambda *args, **kwargs: None
        assert task.training_step(batch, 0).item() == pytest.approx(expected.item(), rel=1e-5)


def test_benchmark_on_paired_data_adds_the_assessor_column(paired_overrides, tmp_path):
    ckpt = tiny_assessor_checkpoint(tmp_path / "assessor.ckpt")
    out = tmp_path / "bench"
    run_cli(
        "benchmark",
        *[o for o in paired_overrides if not o.startswith("data.patch")],
        "models=[identity]",
        "metrics.names=[psnr,ssim]",
        f"no_reference.assessor_ckpt={ckpt}",
        f"hydra.run.dir={out}",
    )
    results = read_json(out / "results.json")
    row = results["results"]["identity"]
    assert 0 <= row["exposure_score"] <= 10 and row["psnr"] > 5
    assert "exposure_score" in results["protocol"]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not any(OFFICIAL.glob("*.pth")), reason="official P-IEANet weights not in ../shared")
def test_benchmark_assessor_column_with_the_imported_official_assessor(paired_overrides, tmp_path):
    ckpt = import_official("p_ieanet", next(OFFICIAL.glob("*.pth")), tmp_path / "p_ieanet.ckpt")
    out = tmp_path / "bench"
    run_cli(
        "benchmark",
        *[o for o in paired_overrides if not o.startswith("data.patch")],
        "models=[identity]",
        "metrics.names=[psnr]",
        f"no_reference.assessor_ckpt={ckpt}",
        f"hydra.run.dir={out}",
    )
    with open(out / "per_image.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and all(0 < float(row["exposure_score"]) <= 10 for row in rows)
