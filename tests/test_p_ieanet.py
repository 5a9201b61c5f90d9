"""P-IEANet nets: Haar DWT, parameter counts, batch independence and the official golden outputs."""

import json

import numpy as np
import pytest
import torch
from tests.helpers import SHARED

from exposure_lab.checkpoints.official import import_official, read_official_state_dict
from exposure_lab.metrics.no_reference import exposure_score
from exposure_lab.models.p_ieanet import HaarDWT, PIEANet, PIEANetReleased, p_ieanet

WEIGHTS = SHARED / "weights" / "p_ieanet"
GOLDEN = SHARED / "weights" / "golden" / "p_ieanet"
needs_weights = pytest.mark.skipif(
    not any(WEIGHTS.glob("*.pth")) or not GOLDEN.is_dir(), reason="official P-IEANet weights not in ../shared"
)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_haar_round_trip_is_exact_and_bands_are_orthonormal():
    dwt = HaarDWT()
    x = torch.rand(2, 3, 10, 14, dtype=torch.float64)
    bands = dwt(x)
    assert bands.shape == (2, 3, 4, 5, 7)
    torch.testing.assert_close(dwt.inverse(bands), x, rtol=0, atol=1e-12)
    assert torch.allclose(bands.pow(2).sum(), x.pow(2).sum())  # energy preserved
    flat = torch.ones(1, 1, 4, 4)
    assert (
        torch.allclose(dwt(flat)[0, 0, 0], torch.full((2, 2), 2.0)) and dwt(flat)[0, 0, 1:].abs().max() == 0
    )


def test_parameter_counts_of_both_variants():
    assert count(p_ieanet("released")) == 624_263
    paper = p_ieanet("paper")
    assert isinstance(paper, PIEANet) and 2_650_000 < count(paper) < 2_750_000


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_output_of_an_image_does_not_depend_on_the_rest_of_the_batch(variant):
    torch.manual_seed(0)
    small = {"channels": 16, "structure_layers": 2, "lightness_blocks": 2} if variant == "paper" else {}
    net = p_ieanet(variant, **small).eval()
    x = torch.rand(3, 3, 32, 40)
    with torch.no_grad():
        together = net(x)
        alone = net(x[1:2])
    assert together.shape == (3, 1, 32, 40)
    torch.testing.assert_close(together[1:2], alone, rtol=0, atol=1e-5)


def test_exposure_score_is_ten_times_one_minus_mean_absolute_residual():
    residual = torch.tensor([[[[0.5, -0.5], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    torch.testing.assert_close(exposure_score(residual), torch.tensor([7.5, 10.0]))


@pytest.mark.realdata
@needs_weights
def test_converted_official_weights_reproduce_the_golden_outputs():
    torch.set_num_threads(1)
    net = PIEANetReleased().eval()
    official = read_official_state_dict(next(WEIGHTS.glob("*.pth")))
    net.load_state_dict(net.convert_official_state_dict(official))
    files = sorted(GOLDEN.glob("*_p_ieanet.npz"))[:1]
    assert files
    for path in files:
        golden = np.load(path)
        x = torch.from_numpy(golden["input256"])[None]
        with torch.inference_mode():
            out = net(torch.cat([x, torch.rand_like(x)]))[0].numpy()  # any batch companion
        assert np.abs(out - golden["output"]).max() < 1e-5, path.name


@pytest.mark.realdata
@pytest.mark.slow
@needs_weights
def test_import_command_output_falls_monotonically_with_exposure(tmp_path):
    from exposure_lab.checkpoints import load_task

    ckpt = import_official("p_ieanet", next(WEIGHTS.glob("*.pth")), tmp_path / "p_ieanet.ckpt")
    task = load_task(ckpt)[0].eval()
    expected = {
        entry["ev_suffix"]: entry
        for entry in json.loads((GOLDEN / "golden_p_ieanet.json").read_text())
        if entry["image"].startswith("a0024")
    }
    means = {}
    for level, entry in expected.items():
        x = torch.from_numpy(np.load(GOLDEN / entry["file"])["input256"])[None]
        with torch.inference_mode():
            means[level] = float(task.predict_map(x).mean())
        assert means[level] == pytest.approx(entry["mean_residual"], abs=1e-5)
    order = [means[level] for level in ("N1.5", "N1", "0", "P1", "P1.5")]
    assert order == sorted(order, reverse=True) and order[0] > 0 > order[-1]
