"""Checkpoints written before the package was re-laid (tests/fixtures/pre_layout, made by the code of commit
1f40f5a) still load in eval, predict, benchmark and assess: stored `_target_`s are public API, a moved
target (the P-IEANet factory) is mapped to its new home and the old `loss_weights` key still loads."""

import csv
from pathlib import Path

import pytest
import torch

from exposure_lab.checkpoints import load_task, read_checkpoint
from exposure_lab.data.io import write_image
from exposure_lab.models.p_ieanet import PIEANet
from exposure_lab.tasks.zero_reference import ZeroReferenceEnhancement

FIXTURES = Path(__file__).parent / "fixtures" / "pre_layout"


def test_the_fixtures_store_the_old_names():
    assessor = read_checkpoint(FIXTURES / "p_ieanet_tiny.ckpt")["exposure_lab"]["model"]
    assert assessor["net"]["_target_"] == "exposure_lab.models.wavelet_assessor.wavelet_assessor"
    assert "loss_weights" in read_checkpoint(FIXTURES / "zero_dce_pp.ckpt")["exposure_lab"]["model"]


def test_moved_targets_and_renamed_keys_load_with_their_weights():
    assessor, _ = load_task(FIXTURES / "p_ieanet_tiny.ckpt")
    assert isinstance(assessor.net, PIEANet)
    curve, stored = load_task(FIXTURES / "zero_dce_pp.ckpt")
    assert isinstance(curve, ZeroReferenceEnhancement) and stored["model"]["losses"]["illumination"] == 1600.0
    saved = read_checkpoint(FIXTURES / "zero_dce_pp.ckpt")["state_dict"]
    assert all(torch.equal(curve.state_dict()[key], value) for key, value in saved.items())


@pytest.mark.parametrize("name", ["unet_tiny", "zero_dce_pp"])
def test_eval_benchmark_and_predict_load_a_pre_layout_checkpoint(name, cli, paired_overrides, tmp_path):
    ckpt = FIXTURES / f"{name}.ckpt"
    data = [o for o in paired_overrides if not o.startswith(("data.patch", "data.val"))]
    eval_dir = tmp_path / "eval"
    assert cli("eval", f"ckpt_path={ckpt}", *data, f"hydra.run.dir={eval_dir}")[-1] == str(eval_dir)
    with open(eval_dir / "per_image.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 8
    bench_dir = tmp_path / "bench"
    cli("benchmark", f"models=[{ckpt},identity]", *data, f"hydra.run.dir={bench_dir}")
    assert name in (bench_dir / "results.md").read_text()
    images = tmp_path / "in"
    write_image(images / "a.png", torch.rand(3, 21, 34))
    out = tmp_path / "out"
    cli("predict", f"ckpt_path={ckpt}", f"input={images}", f"output={out}", f"hydra.run.dir={tmp_path / 'p'}")
    assert (out / "a.png").is_file()


def test_assess_loads_the_pre_layout_assessor(cli, tmp_path):
    images = tmp_path / "in"
    write_image(images / "a.png", torch.rand(3, 40, 48))
    out = tmp_path / "maps"
    ckpt = FIXTURES / "p_ieanet_tiny.ckpt"
    cli("assess", f"ckpt_path={ckpt}", f"input={images}", f"output={out}", f"hydra.run.dir={tmp_path / 'a'}")
    assert (out / "a_heatmap.png").is_file() and (out / "scores.csv").is_file()
