"""`exposure-lab assess`: residual maps, heatmaps with fixed limits, the colour bar and scores.csv."""

import csv

import numpy as np
import pytest
import torch
from tests.helpers import run_cli
from tests.test_assessment import tiny_assessor_checkpoint

from exposure_lab.data.io import read_image, write_image
from exposure_lab.prediction.exposure_maps import (
    SCORE_COLUMNS,
    exposure_statistics,
    heatmap,
    read_residual_png,
    write_residual,
)


def test_heatmap_colours_blue_under_white_ideal_red_over():
    residual = torch.tensor([[[1.0, 0.0, -1.0, 0.5, -3.0]]])
    colours = heatmap(residual)[0]
    assert colours.dtype == np.uint8
    assert colours[0].tolist() == [0, 0, 255]  # +1 under-exposed: blue
    assert colours[1].tolist() == [255, 255, 255]  # 0 ideal: white
    assert colours[2].tolist() == [255, 0, 0]  # −1 over-exposed: red
    assert colours[3].tolist() == [128, 128, 255] and colours[4].tolist() == [255, 0, 0]  # fixed limits


def test_residual_png_round_trip_and_statistics(tmp_path):
    residual = torch.linspace(-1, 1, 60).view(1, 6, 10)
    path = write_residual(tmp_path / "map.png", residual)
    np.testing.assert_allclose(read_residual_png(path), residual[0].numpy(), atol=2 / 65535)
    np.testing.assert_allclose(np.load(write_residual(tmp_path / "map.npy", residual)), residual[0].numpy())
    stats = exposure_statistics(torch.tensor([[[0.5, -0.5, 0.05, 0.0]]]), threshold=0.1)
    assert stats["mean_residual"] == pytest.approx(0.0125) and stats["mean_abs_residual"] == pytest.approx(
        0.2625
    )
    assert stats["under_fraction"] == stats["over_fraction"] == 0.25
    assert stats["score"] == pytest.approx(10 * (1 - 0.2625))


def test_assess_writes_maps_heatmaps_colour_bar_and_scores(tmp_path):
    ckpt = tiny_assessor_checkpoint(tmp_path / "assessor.ckpt")
    inputs = tmp_path / "inputs"
    for name in ("scene_N1.5.png", "scene_P1.jpg"):
        write_image(inputs / name, torch.rand(3, 21, 34))
    out = tmp_path / "out"
    lines = run_cli(
        "assess", f"ckpt_path={ckpt}", f"input={inputs}", f"output={out}", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert lines[-1] == str(out.resolve())
    for stem in ("scene_N1.5", "scene_P1"):
        assert read_image(out / f"{stem}_heatmap.png").shape == (3, 21, 34)
        assert read_residual_png(out / f"{stem}_residual.png").shape == (21, 34)
    assert (out / "colour_bar.png").is_file()
    with open(out / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == SCORE_COLUMNS
    assert [(row["name"], row["ev"]) for row in rows] == [("scene_N1.5.png", "-1.5"), ("scene_P1.jpg", "1.0")]
    assert all(0 <= float(row["score"]) <= 10 for row in rows)


def test_assess_npy_maps_and_bad_arguments(tmp_path):
    ckpt = tiny_assessor_checkpoint(tmp_path / "assessor.ckpt")
    image = tmp_path / "one.png"
    write_image(image, torch.rand(3, 16, 16))
    out = tmp_path / "out"
    run = f"hydra.run.dir={tmp_path / 'run'}"
    run_cli("assess", f"ckpt_path={ckpt}", f"input={image}", f"output={out}", "map_format=npy", run)
    assert np.load(out / "one_residual.npy").shape == (16, 16)
    with pytest.raises(SystemExit):
        run_cli("assess", f"ckpt_path={ckpt}", f"input={image}", run)
    with pytest.raises(SystemExit):
        run_cli("assess", f"ckpt_path={ckpt}", f"input={image}", f"output={out}", "map_format=tiff", run)


def test_predict_refuses_an_assessor_checkpoint(tmp_path, capsys):
    ckpt = tiny_assessor_checkpoint(tmp_path / "assessor.ckpt")
    write_image(tmp_path / "one.png", torch.rand(3, 16, 16))
    with pytest.raises(SystemExit):
        run_cli("predict", f"ckpt_path={ckpt}", f"input={tmp_path / 'one.png'}", f"output={tmp_path / 'out'}")
    assert "an exposure assessor gives maps, not images; use `assess`" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
