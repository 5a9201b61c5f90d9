"""NIQE, PIQE and LOE in the scoring paths (unpaired tables, `metrics.no_reference` on paired data, n/a when
the NIQE parameters are missing) and the protocol sweep (`protocols=[...]` re-scoring saved outputs)."""

import logging
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tests.helpers import read_json, smooth_image

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.data.io import write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.metrics import MetricSuite
from exposure_lab.metrics.loe import loe
from exposure_lab.metrics.niqe import load_pristine_model, niqe
from exposure_lab.metrics.no_reference import BlindQuality, NoReferenceSuite
from exposure_lab.metrics.piqe import piqe

try:
    load_pristine_model()
    NIQE_PARAMS = True
except ExposureLabError:
    NIQE_PARAMS = False
needs_niqe = pytest.mark.skipif(
    not NIQE_PARAMS, reason="NIQE parameters missing (make install downloads them)"
)


def photos(count: int, height: int, width: int, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([smooth_image(generator, height, width) * scale for _ in range(count)])


@needs_niqe
def test_paired_suite_adds_niqe_and_piqe_of_the_prepared_prediction():
    target = photos(2, 100, 200)
    pred = (target * 0.8 + 0.05).clamp(0, 1)
    suite = MetricSuite(["psnr"], no_reference=["niqe", "piqe"])
    assert suite.names == ["psnr", "niqe", "piqe"]
    scores = suite(pred, target)
    rounded = (pred * 255).round() / 255
    assert torch.allclose(scores["niqe"], niqe(rounded))
    assert torch.allclose(scores["piqe"], piqe(rounded))
    assert "NIQE" in suite.describe() and "PIQE" in suite.describe()


def test_loe_is_refused_on_paired_scoring_and_unknown_names_are_named():
    with pytest.raises(ExposureLabError, match="loe compares an output with its low-light input"):
        MetricSuite(["psnr"], no_reference=["loe"])
    with pytest.raises(ExposureLabError, match=r"unknown no-reference metric.*brisque.*known: niqe, piqe"):
        MetricSuite(["psnr"], no_reference=["brisque"])
    with pytest.raises(ExposureLabError, match="known: niqe, piqe, loe"):
        NoReferenceSuite(iqa=["brisque"])


def test_missing_niqe_parameters_make_the_column_unavailable_with_one_warning(tmp_path, caplog):
    missing = tmp_path / "nowhere" / "basicsr-1.4.2.tar.gz"
    with caplog.at_level(logging.WARNING, logger="exposure_lab.metrics"):
        suite = MetricSuite(["psnr"], no_reference=["niqe", "piqe"], niqe_params=str(missing))
        BlindQuality(["niqe"], missing)
    assert suite.names == ["psnr", "piqe"]
    reason = suite.unavailable["niqe"]
    assert str(missing) in reason and "pip download" in reason and "\n" not in reason
    assert [record.getMessage() for record in caplog.records] == [reason]
    image = photos(1, 100, 200)
    assert set(suite(image, image)) == {"psnr", "piqe"}
    assert "NIQE unavailable" in suite.describe()


@needs_niqe
def test_niqe_is_nan_for_images_without_two_patches():
    blind = BlindQuality(["niqe", "piqe"])
    scores = blind(photos(2, 90, 150))
    assert all(math.isnan(v) for v in scores["niqe"].tolist())
    assert all(0 <= v <= 100 for v in scores["piqe"].tolist())


def test_unpaired_suite_scores_loe_against_the_input():
    # every 4th uint8 level, so that the gamma keeps distinct levels apart after rounding
    dark = (photos(2, 64, 80, scale=0.3) * 255 / 4).round() * 4 / 255
    suite = NoReferenceSuite(iqa=["piqe", "loe"])
    assert suite.names[-2:] == ["piqe", "loe"]
    scores = suite(dark**0.5, dark)
    assert scores["loe"].tolist() == [0.0, 0.0]
    assert torch.equal(scores["loe"], loe(dark**0.5, dark))
    assert "LOE" in suite.describe()
    assert (suite(1 - dark, dark)["loe"] > 100).all()


@pytest.fixture
def dark_photos(tmp_path: Path) -> Path:
    """Three dark 100×200 images: big enough for NIQE's two 96×96 patches."""
    root = tmp_path / "dark"
    for index, image in enumerate(photos(3, 100, 200, scale=0.25, seed=3)):
        write_image(root / f"{index:02d}.png", image)
    return root


def test_benchmark_on_unpaired_data_reports_niqe_piqe_loe(cli, dark_photos, tmp_path):
    run = tmp_path / "bench"
    lines = cli(
        "benchmark",
        "models=[identity,auto_gamma,hist_eq]",
        "data=unpaired",
        f"data.test_root={dark_photos}",
        "data.num_workers=0",
        f"hydra.run.dir={run}",
    )
    header = next(line for line in lines if line.startswith("| model |"))
    assert "NIQE ↓" in header and "PIQE ↓" in header and "LOE ↓" in header
    results = read_json(run / "results.json")["results"]
    assert results["identity"]["loe"] == 0.0
    assert 0.0 < results["auto_gamma"]["loe"] < results["hist_eq"]["loe"]  # per-channel maps break the order
    for row in results.values():
        assert 0 <= row["piqe"] <= 100
        assert (row["niqe"] is not None and row["niqe"] > 0) == NIQE_PARAMS


def test_missing_niqe_parameters_read_n_a_in_the_table(cli, dark_photos, tmp_path):
    run = tmp_path / "bench"
    lines = cli(
        "benchmark",
        "models=[identity]",
        "data=unpaired",
        f"data.test_root={dark_photos}",
        "data.num_workers=0",
        f"metrics.niqe_params={tmp_path / 'missing.tar.gz'}",
        f"hydra.run.dir={run}",
    )
    row = read_json(run / "results.json")["results"]["identity"]
    assert row["niqe"] is None and row["piqe"] is not None
    assert "NIQE unavailable" in next(line for line in lines if line.startswith("no-reference measures"))
    assert "| n/a |" in (run / "results.md").read_text()


PROTOCOLS = "protocols=[default,ssim_matlab,psnr_y,gt_mean]"


def test_benchmark_protocol_sweep_rescores_saved_outputs(cli, paired_overrides, tmp_path):
    run = tmp_path / "protocols"
    lines = cli("benchmark", "models=[identity,gamma]", PROTOCOLS, *paired_overrides, f"hydra.run.dir={run}")
    assert any(line.startswith("| protocol |") for line in lines)
    table = read_json(run / "protocols.json")
    assert table["reference"] == "default"
    assert "Wang et al. ssim_index.m" in table["protocols"]["default"]
    assert "MATLAB ssim" in table["protocols"]["ssim_matlab"]
    results = read_json(run / "results.json")["results"]
    for model in ("identity", "gamma"):
        rows = table["results"][model]
        assert list(rows) == ["default", "ssim_matlab", "psnr_y", "gt_mean"]
        for metric in ("psnr", "ssim", "lpips"):
            assert rows["default"][metric] == pytest.approx(results[model][metric], abs=1e-6)
            assert rows["default"][f"Δ/{metric}"] == 0.0
        assert rows["ssim_matlab"]["psnr"] == rows["default"]["psnr"]
        assert rows["ssim_matlab"]["Δ/ssim"] != 0.0
        assert rows["psnr_y"]["Δ/psnr"] != 0.0 and rows["psnr_y"]["ssim"] == rows["default"]["ssim"]
        assert rows["gt_mean"]["psnr"] > rows["default"]["psnr"]
    markdown = (run / "protocols.md").read_text()
    assert "| identity · ssim_matlab |" in markdown and "Δ/PSNR" in markdown and "- `psnr_y`:" in markdown
    assert sorted(p.name for p in (run / "images" / "identity").glob("*.png"))  # outputs were saved


def test_eval_protocol_sweep_of_a_checkpoint(cli, paired_overrides, tmp_path):
    model_cfg = compose_model_config("unet")
    ckpt = write_checkpoint(
        build_task(model_cfg),
        {"model_name": "unet", "model": OmegaConf.to_container(model_cfg, resolve=True)},
        tmp_path / "unet.ckpt",
    )
    run = tmp_path / "eval"
    cli(
        "eval", f"ckpt_path={ckpt}", "protocols=[default,ssim_rgb]", *paired_overrides, f"hydra.run.dir={run}"
    )
    rows = read_json(run / "protocols.json")["results"]["unet"]
    assert list(rows) == ["default", "ssim_rgb"]
    markdown = (run / "protocols.md").read_text()
    assert "| default |" in markdown and "| ssim_rgb |" in markdown


def error_lines(capsys: pytest.CaptureFixture, run: callable) -> list[str]:
    with pytest.raises(SystemExit) as caught:
        run()
    assert caught.value.code == 2
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def test_unknown_protocols_and_data_without_targets_are_one_line_errors(
    cli, capsys, dark_photos, paired_overrides, tmp_path
):
    unknown = error_lines(
        capsys,
        lambda: cli("benchmark", "models=[identity]", "protocols=[default,matlab]", *paired_overrides),
    )
    assert len(unknown) == 1 and "unknown metrics config(s) matlab; known: default, gt_mean" in unknown[0]
    unpaired = error_lines(
        capsys,
        lambda: cli(
            "benchmark",
            "models=[identity]",
            "protocols=[default]",
            "data=unpaired",
            f"data.test_root={dark_photos}",
            f"hydra.run.dir={tmp_path / 'b'}",
        ),
    )
    assert len(unpaired) == 1 and "re-scores enhanced images against targets" in unpaired[0]


def test_bench_times_niqe_piqe_and_loe():
    from exposure_lab.evaluation.cost import bench_metrics

    report = bench_metrics([192], repeats=1)
    assert {"psnr", "ssim", "niqe", "piqe", "loe"} <= set(report)
    for name in ("piqe", "loe", *(["niqe"] if NIQE_PARAMS else [])):
        assert report[name]["ms_192"] > 0
