"""Zero-reference losses on crafted inputs, the SGZ semantic term, and the zero-reference task end to end."""

import math
from pathlib import Path

import pytest
import torch
from tests.helpers import SHARED, read_json, smooth_image

from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.data.datasets import UnpairedImageDataset
from exposure_lab.data.io import write_image
from exposure_lab.data.layouts import unpaired_samples
from exposure_lab.errors import ExposureLabError, WeightsNotFoundError
from exposure_lab.losses.zero_reference import (
    ZeroReferenceLoss,
    color_constancy,
    confidence_focal,
    exposure_control,
    illumination_smoothness,
    spatial_consistency,
)
from exposure_lab.models.semantic_fpn import SemanticFPN, find_backbone_weights

TRAIN_SUBSET = SHARED / "data" / "zero_dce_train_2002"


def test_spatial_consistency_on_a_hand_computed_map():
    input = torch.zeros(1, 3, 8, 8)
    input[..., :4, :4] = 1.0  # pooled difference map [[1, 0], [0, 0]]
    enhanced = torch.zeros(1, 3, 8, 8)
    assert spatial_consistency(enhanced, enhanced).item() == 0.0
    # 4 neighbours: the marked cell differs from its 4 (zero-padded) neighbours, two cells from it: (4+1+1)/4.
    assert spatial_consistency(input, enhanced).item() == pytest.approx(1.5)
    # 8 neighbours: + 4 diagonals × 0.5 for the marked cell, + 0.5 for its diagonal neighbour: (6+1+1+0.5)/4.
    assert spatial_consistency(input, enhanced, diagonals=True).item() == pytest.approx(2.125)


def test_exposure_control_is_zero_at_the_level_and_quadratic_around_it():
    assert exposure_control(torch.full((2, 3, 32, 32), 0.6)).item() == pytest.approx(0.0, abs=1e-12)
    assert exposure_control(torch.full((2, 3, 32, 32), 0.4)).item() == pytest.approx(0.04, abs=1e-6)
    assert exposure_control(torch.full((1, 3, 32, 32), 0.4), level=0.5).item() == pytest.approx(
        0.01, abs=1e-6
    )


def test_color_constancy_of_grey_and_of_pure_red():
    assert color_constancy(torch.full((1, 3, 8, 8), 0.3)).item() == pytest.approx(1e-6)
    red = torch.zeros(2, 3, 8, 8)
    red[:, 0] = 1.0
    assert color_constancy(red).item() == pytest.approx(math.sqrt(2))
    grey = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)
    color_constancy(grey).backward()
    assert torch.isfinite(grey.grad).all()


def test_illumination_smoothness_of_a_flat_map_and_a_ramp():
    assert illumination_smoothness(torch.full((2, 3, 4, 5), -0.7)).item() == 0.0
    ramp = (0.1 * torch.arange(5.0)).expand(1, 1, 4, 5)
    assert illumination_smoothness(ramp).item() == pytest.approx(0.02)


def test_confidence_focal_of_uniform_and_confident_logits():
    uniform = torch.zeros(1, 21, 4, 4)
    p = 1 / 21
    assert confidence_focal(uniform).item() == pytest.approx(-((1 - p) ** 2) * math.log(p), rel=1e-5)
    confident = torch.zeros(1, 21, 4, 4)
    confident[:, 3] = 30.0
    assert confidence_focal(confident).item() < 1e-9


def test_weighted_total_skips_zero_weights_and_rejects_unknown_names():
    x = torch.rand(1, 3, 32, 32)
    curves = torch.zeros(1, 3, 32, 32)
    total, terms = ZeroReferenceLoss({"exposure": 10.0, "color": 0.0})(x, x, curves)
    assert set(terms) == {"exposure"} and total.item() == pytest.approx(10 * terms["exposure"].item())
    with pytest.raises(ExposureLabError, match="unknown zero-reference loss"):
        ZeroReferenceLoss({"perceptual": 1.0})
    with pytest.raises(ExposureLabError, match="no segmentation net"):
        ZeroReferenceLoss({"semantic": 0.1})(x, x, curves)


def test_missing_backbone_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsNotFoundError, match=r"hub/checkpoints/resnet50-19c8e357\.pth"):
        find_backbone_weights()
    with pytest.raises(WeightsNotFoundError, match=r"nowhere/resnet50\.pth: ResNet-50 backbone weights"):
        find_backbone_weights(tmp_path / "nowhere" / "resnet50.pth")


def test_sgz_semantic_term_with_a_random_backbone_is_frozen_and_outside_checkpoints():
    task = build_task(compose_model_config("sgz"))
    task.set_semantic_net(SemanticFPN(num_classes=21))
    task.train()
    assert not task.semantic_net.training
    x = torch.rand(2, 3, 64, 64) * 0.3
    total, terms = task.zero_reference_terms(x)
    assert set(terms) == {"spatial", "exposure", "color", "illumination", "semantic"}
    total.backward()
    assert all(p.grad is not None for p in task.net.parameters())
    assert all(p.grad is None for p in task.semantic_net.parameters())
    assert not any(key.startswith(("semantic", "zero_reference_loss")) for key in task.state_dict())
    optimizer = task.configure_optimizers()
    assert sum(p.numel() for group in optimizer.param_groups for p in group["params"]) == 10_561


def test_semantic_fpn_logits_at_a_quarter_of_the_input_size_with_a_random_backbone():
    logits = SemanticFPN(num_classes=21).eval()(torch.rand(1, 3, 64, 96))
    assert logits.shape == (1, 21, 16, 24)


@pytest.fixture(scope="module")
def dark_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six dark 40×48 images in a flat folder (an unpaired low-light set)."""
    root = tmp_path_factory.mktemp("dark")
    generator = torch.Generator().manual_seed(3)
    for index in range(6):
        write_image(root / f"dark{index}.png", smooth_image(generator, 40, 48) * 0.25)
    return root


def test_sgz_training_stops_at_start_up_without_backbone_weights(cli, dark_folder, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli(
            "train",
            "model=sgz",
            "data=unpaired",
            f"data.root={dark_folder}",
            "data.num_workers=0",
            "model.semantic.backbone_weights=/nonexistent/resnet50-19c8e357.pth",
            f"hydra.run.dir={tmp_path / 'run'}",
        )
    assert exit_info.value.code == 2


def test_train_then_evaluate_without_and_with_references(cli, dark_folder, paired_overrides, tmp_path):
    run = tmp_path / "train"
    cli(
        "train",
        "model=zero_dce_pp",
        "data=unpaired",
        f"data.root={dark_folder}",
        f"data.test_root={dark_folder}",
        "data.patch_size=32",
        "data.batch_size=3",
        "data.num_workers=0",
        "data.val_fraction=0.34",
        "optimized_metric=val/loss",
        "optimized_mode=min",
        "trainer.max_epochs=1",
        f"hydra.run.dir={run}",
    )
    result = read_json(run / "result.json")
    assert result["optimized_metric"] == "val/loss" and result["best_value"] > 0
    row = next(iter(read_json(run / "results.json")["results"].values()))
    assert {"input_brightness", "brightness", "exposure_error", "colorfulness"} <= set(row)
    assert len(list((run / "grids").glob("*/dark*.png"))) == 6
    assert list((run / "image_grids").glob("epoch_*.png"))
    checkpoint = result["best_checkpoint"]
    cli("eval", f"ckpt_path={checkpoint}", *paired_overrides, f"hydra.run.dir={tmp_path / 'paired'}")
    paired = next(iter(read_json(tmp_path / "paired" / "results.json")["results"].values()))
    assert paired["psnr"] > 0 and paired["params"] == 10_561


@pytest.mark.realdata
@pytest.mark.skipif(not TRAIN_SUBSET.is_dir(), reason=f"{TRAIN_SUBSET} (real training images) is absent")
def test_a_few_steps_on_the_released_training_images_lower_the_loss():
    torch.manual_seed(0)
    samples = unpaired_samples(TRAIN_SUBSET)[:4]
    dataset = UnpairedImageDataset(samples, 48, "resize", False, False)
    x = torch.stack([dataset[i]["input"] for i in range(len(dataset))])
    task = build_task(compose_model_config("zero_dce_pp", ["model.optimizer.lr=1e-3"]))
    optimizer = task.configure_optimizers()
    with torch.no_grad():
        before = task.zero_reference_terms(x)[0].item()
    for _ in range(6):
        optimizer.zero_grad()
        task.zero_reference_terms(x)[0].backward()
        torch.nn.utils.clip_grad_norm_(task.net.parameters(), 0.1)
        optimizer.step()
    with torch.no_grad():
        after = task.zero_reference_terms(x)[0].item()
    assert after < before
