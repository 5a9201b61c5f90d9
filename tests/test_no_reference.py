"""No-reference measures on known values, and eval/benchmark on data without targets (tables and grids)."""

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tests.helpers import read_json, smooth_image

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.data.io import write_image
from exposure_lab.metrics.no_reference import NoReferenceSuite, colorfulness, exposure_error, mean_brightness


def test_brightness_and_exposure_error_of_flat_images():
    images = torch.stack([torch.full((3, 32, 32), 0.2), torch.full((3, 32, 32), 0.6)])
    assert mean_brightness(images).tolist() == pytest.approx([0.2, 0.6])
    assert exposure_error(images).tolist() == pytest.approx([0.16, 0.0], abs=1e-6)
    assert exposure_error(torch.full((1, 3, 8, 8), 0.5)).item() == pytest.approx(0.01, abs=1e-6)


def test_colorfulness_of_grey_and_of_pure_red():
    assert colorfulness(torch.full((1, 3, 8, 8), 0.4)).item() == pytest.approx(0.0, abs=1e-4)
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    assert colorfulness(red).item() == pytest.approx(0.3 * math.hypot(255.0, 127.5), rel=1e-5)
    noisy = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert colorfulness(noisy).item() > colorfulness(noisy.mean(1, keepdim=True).expand(1, 3, 16, 16)).item()


class HalfUnderExposed:
    """An assessor whose residual map is +0.5 (under-exposed) everywhere."""

    def residual_map(self, images: torch.Tensor) -> torch.Tensor:
        return torch.full_like(images[:, :1], 0.5)


def test_suite_names_and_assessor_score():
    x = torch.rand(2, 3, 20, 24)
    plain = NoReferenceSuite()
    assert plain.names == ["input_brightness", "brightness", "exposure_error", "colorfulness"]
    assert set(plain(x)) == {"brightness", "exposure_error", "colorfulness"}
    with_assessor = NoReferenceSuite(assessor=HalfUnderExposed())
    scores = with_assessor(x, x * 0.5)
    assert scores["exposure_score"].tolist() == pytest.approx([5.0, 5.0])
    assert scores["input_brightness"].tolist() == pytest.approx((mean_brightness(x) * 0.5).tolist())
    assert "exposure score" in with_assessor.describe()


@pytest.fixture(scope="module")
def dark_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four dark 36×44 images of a no-reference test set, one in a subfolder."""
    root = tmp_path_factory.mktemp("dicm_like")
    generator = torch.Generator().manual_seed(5)
    for name in ("01.png", "02.png", "03.png", "night/04.png"):
        write_image(root / name, smooth_image(generator, 36, 44) * 0.2)
    return root


def test_benchmark_on_data_without_targets_reports_no_reference_columns_and_grids(cli, dark_set, tmp_path):
    run = tmp_path / "bench"
    lines = cli(
        "benchmark",
        "models=[identity,auto_gamma]",
        "data=unpaired",
        f"data.test_root={dark_set}",
        "data.num_workers=0",
        f"hydra.run.dir={run}",
    )
    assert any(line.startswith("no-reference measures") for line in lines)
    results = read_json(run / "results.json")["results"]
    identity, auto_gamma = results["identity"], results["auto_gamma"]
    assert identity["brightness"] == pytest.approx(identity["input_brightness"], abs=1e-6)
    assert auto_gamma["brightness"] > identity["brightness"] + 0.1
    assert auto_gamma["exposure_error"] < identity["exposure_error"]
    assert sorted(
        p.relative_to(run / "grids" / "identity").as_posix() for p in run.glob("grids/identity/**/*.png")
    ) == [
        "01.png",
        "02.png",
        "03.png",
        "night/04.png",
    ]


def test_eval_with_an_assessor_checkpoint_adds_its_exposure_score(cli, dark_set, tmp_path):
    model_cfg = compose_model_config("p_ieanet", ["model.input_size=32"])
    assessor = write_checkpoint(
        build_task(model_cfg),
        {"model_name": "p_ieanet", "model": OmegaConf.to_container(model_cfg, resolve=True)},
        tmp_path / "assessor.ckpt",
    )
    enhancer_cfg = compose_model_config("zero_dce_pp")
    enhancer = write_checkpoint(
        build_task(enhancer_cfg),
        {"model_name": "zero_dce_pp", "model": OmegaConf.to_container(enhancer_cfg, resolve=True)},
        tmp_path / "zero_dce_pp.ckpt",
    )
    cli(
        "eval",
        f"ckpt_path={enhancer}",
        "data=unpaired",
        f"data.test_root={dark_set}",
        "data.num_workers=0",
        f"no_reference.assessor_ckpt={assessor}",
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    row = read_json(tmp_path / "eval" / "results.json")["results"]["zero_dce_pp"]
    assert 0.0 <= row["exposure_score"] <= 10.0
    assert row["params"] == 10_561
