"""Zero-DCE family: parameter counts, the curve, any input size, official-weight import, golden outputs."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.helpers import SHARED

from exposure_lab.checkpoints import build_task, compose_model_config, load_task
from exposure_lab.checkpoints.official import import_official
from exposure_lab.data.io import array_to_tensor, decode_image, write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.models.zero_dce import ZeroDCE, apply_curve

GOLDEN = SHARED / "weights" / "golden" / "zero_dce_family"
FAMILY = ("zero_dce", "zero_dce_pp", "sgz")


def net_of(model: str, *overrides: str) -> ZeroDCE:
    return build_task(compose_model_config(model, [f"model.{o}" for o in overrides])).net


@pytest.mark.parametrize(("model", "count"), [("zero_dce", 79_416), ("zero_dce_pp", 10_561), ("sgz", 10_561)])
def test_parameter_counts_match_the_official_nets(model, count):
    assert sum(p.numel() for p in net_of(model).parameters()) == count


def test_curve_on_hand_values_negative_a_brightens():
    x = torch.full((1, 3, 1, 1), 0.5)
    one_step = {a: apply_curve(x, torch.full((1, 3, 1, 1), a), 1)[0, 0].item() for a in (-1.0, 0.0, 1.0)}
    assert one_step == {-1.0: 0.75, 0.0: 0.5, 1.0: 0.25}
    assert apply_curve(x, torch.full((1, 3, 1, 1), -1.0), 2)[0, 0].item() == pytest.approx(0.9375)
    ends = torch.tensor([0.0, 1.0]).view(1, 1, 2, 1).expand(1, 3, 2, 1)
    assert torch.equal(apply_curve(ends, -torch.ones(1, 3, 2, 1), 8), ends)


def test_eight_separate_maps_equal_one_shared_map_when_all_are_the_same():
    x, curve = torch.rand(2, 3, 5, 7), torch.rand(2, 3, 5, 7) * 2 - 1
    assert torch.allclose(apply_curve(x, curve.repeat(1, 8, 1, 1), 8), apply_curve(x, curve, 8))


@pytest.mark.parametrize(
    ("model", "scale_factor"), [("zero_dce", 1), ("zero_dce_pp", 1), ("sgz", 1), ("sgz", 12)]
)
def test_any_size_returns_the_full_image_and_curves(model, scale_factor):
    net = net_of(model, f"net.scale_factor={scale_factor}").eval()
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        enhanced, curves = net(x)
    assert enhanced.shape == x.shape
    assert curves.shape == (1, 24 if model == "zero_dce" else 3, 37, 53)
    assert curves.abs().max() <= 1


def test_scale_factor_pads_instead_of_cropping_and_multiples_need_no_padding():
    net = net_of("zero_dce_pp", "net.scale_factor=12").eval()
    x = torch.rand(1, 3, 48, 60)
    with torch.no_grad():
        assert torch.equal(net(x)[1], net.estimate_curves(x))
        padded = torch.nn.functional.pad(x[..., :41, :50], (0, 10, 0, 7), mode="reflect")
        assert torch.equal(net(x[..., :41, :50])[1], net.estimate_curves(padded)[..., :41, :50])


def official_keys(net: ZeroDCE) -> dict[str, torch.Tensor]:
    """This net's weights under the official key names (e_conv<k>[.depth_conv|.point_conv])."""
    renamed = {}
    for key, value in net.state_dict().items():
        index, rest = key.removeprefix("convs.").split(".", 1)
        rest = rest.replace("depthwise.", "depth_conv.").replace("pointwise.", "point_conv.")
        renamed[f"e_conv{int(index) + 1}.{rest}"] = value
    return renamed


@pytest.mark.parametrize("model", FAMILY)
def test_import_maps_official_keys_and_names_unexpected_ones(model, tmp_path):
    source = net_of(model)
    torch.save(official_keys(source), tmp_path / "random_init.pth")
    task, stored = load_task(import_official(model, tmp_path / "random_init.pth", tmp_path / "ours.ckpt"))
    assert stored["model_name"] == model
    for key, value in source.state_dict().items():
        assert torch.equal(task.net.state_dict()[key], value)
    torch.save({**official_keys(source), "e_conv8.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(ExposureLabError, match=r"unexpected \(1\): convs\.7\.weight"):
        import_official(model, tmp_path / "extra.pth", tmp_path / "extra.ckpt")


def golden_cases() -> list[tuple[str, int]]:
    """(model, scale factor) pairs of the golden outputs, from golden.json."""
    index = GOLDEN / "golden.json"
    entries = json.loads(index.read_text()) if index.is_file() else []
    return sorted({(e["model"], e["scale_factor"]) for e in entries})


@pytest.mark.realdata
@pytest.mark.skipif(not GOLDEN.is_dir(), reason=f"{GOLDEN} (official weights and golden outputs) is absent")
@pytest.mark.parametrize(("model", "scale"), golden_cases())
def test_imported_official_weights_reproduce_the_official_outputs(model, scale, tmp_path):
    weights = SHARED / "weights" / model / "Epoch99.pth"
    overrides = [f"net.scale_factor={scale}"] if scale != 1 else []
    task, _ = load_task(import_official(model, weights, tmp_path / f"{model}.ckpt", overrides))
    task.eval()
    entries = [
        e
        for e in json.loads((GOLDEN / "golden.json").read_text())
        if (e["model"], e["scale_factor"]) == (model, scale)
    ]
    assert len(entries) == 3
    for entry in entries:
        x = array_to_tensor(decode_image(GOLDEN / entry["input"]))[None]
        expected = np.load(GOLDEN / entry["file"])
        with torch.no_grad():
            enhanced, curves = task.net(x)
        assert (enhanced[0] - torch.from_numpy(expected["output"])).abs().max() <= 1e-5, entry["file"]
        assert (curves[0] - torch.from_numpy(expected["curve"])).abs().max() <= 1e-5, entry["file"]
    assert torch.equal(task(x), enhanced.clamp(0, 1))


@pytest.mark.realdata
@pytest.mark.skipif(not GOLDEN.is_dir(), reason=f"{GOLDEN} (official weights and golden outputs) is absent")
def test_imported_checkpoint_runs_through_predict_at_an_odd_size(cli, tmp_path):
    checkpoint = import_official(
        "zero_dce_pp",
        SHARED / "weights" / "zero_dce_pp" / "Epoch99.pth",
        tmp_path / "pp.ckpt",
        ["net.scale_factor=12"],
    )
    image = decode_image(GOLDEN / "dicm_01_input.png")[:101, :131]

    write_image(tmp_path / "in" / "odd.png", array_to_tensor(image))
    cli("predict", f"ckpt_path={checkpoint}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}")
    out = decode_image(Path(tmp_path / "out" / "odd.png"))
    assert out.shape == image.shape and out.mean() > image.mean()
