"""ONNX export: dynamic batch/height/width, padding in the graph, ONNX Runtime parity, and predict through
ONNX Runtime. Exports take tens of seconds each on a small CPU, so these tests are marked slow."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from tests.helpers import run_cli

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import enhance
from exposure_lab.prediction.onnx import OnnxRuntimeNet, export_with_parity, parity_image

pytestmark = pytest.mark.slow

# The paper's P-IEANet at a smaller width and depth: the same layers, whose fused kernels the exporter traces.
SMALL_P_IEANET = ["model.net.channels=16", "model.net.structure_layers=2", "model.net.lightness_blocks=2"]
EXPORTABLE = {
    "zero_dce": [],
    "zero_dce_pp": [],
    "unet": [],
    "mirnet_small": [],
    "p_ieanet_release": [],
    "p_ieanet": SMALL_P_IEANET,
}
NOT_EXPORTABLE = {"lmspec_tiny": "LMSPEC cannot be exported to ONNX: torch.export cannot keep height"}


@pytest.mark.parametrize(("name", "overrides"), EXPORTABLE.items(), ids=list(EXPORTABLE))
def test_exported_graph_matches_pytorch_at_other_sizes_and_batches(name, overrides, tmp_path):
    torch.manual_seed(0)
    net = build_task(compose_model_config(name, overrides)).net.eval()
    path, difference = export_with_parity(net, tmp_path / f"{name}.onnx", parity_image())
    assert difference <= 1e-4
    x = torch.rand(2, 3, 98, 134)  # another batch size, height and width than the traced image
    with torch.inference_mode():
        expected = enhance(net, x)
    assert (enhance(OnnxRuntimeNet(path), x) - expected).abs().max() <= 1e-4


@pytest.mark.parametrize(("name", "reason"), NOT_EXPORTABLE.items())
def test_a_net_that_cannot_be_exported_says_why_in_one_line(name, reason, tmp_path):
    net = build_task(compose_model_config(name)).net.eval()
    with pytest.raises(ExposureLabError, match=reason) as info:
        export_with_parity(net, tmp_path / "x.onnx", parity_image())
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.onnx").exists()


def test_an_exporter_failure_is_one_line_with_its_first_message(tmp_path, monkeypatch):
    def failing_export(*args, **kwargs):
        raise RuntimeError(
            "Failed to export the model\n<class 'torch._dynamo.exc.Unsupported'>: a reason\nmore"
        )

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    net = build_task(compose_model_config("zero_dce")).net.eval()
    with pytest.raises(ExposureLabError) as info:
        export_with_parity(net, tmp_path / "x.onnx", parity_image())
    assert str(info.value) == (
        "ZeroDCE cannot be exported to ONNX: <class 'torch._dynamo.exc.Unsupported'>: a reason"
    )
    assert not (tmp_path / "x.onnx").exists()


def test_failed_parity_is_an_error_and_removes_the_file(tmp_path):
    net = build_task(compose_model_config("zero_dce_pp")).net.eval()
    with pytest.raises(ExposureLabError, match="differs from PyTorch"):
        export_with_parity(net, tmp_path / "x.onnx", parity_image(), tolerance=-1.0)
    assert not (tmp_path / "x.onnx").exists()


def test_export_then_predict_with_onnxruntime_from_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    config = compose_model_config("zero_dce_pp")
    task = build_task(config)
    stored = {"model": OmegaConf.to_container(config, resolve=True), "model_name": "zero_dce_pp"}
    ckpt = write_checkpoint(task, stored, tmp_path / "zero_dce_pp.ckpt")
    lines = run_cli("export", f"ckpt_path={ckpt}", f"out={tmp_path / 'net.onnx'}")
    assert "max abs difference" in lines[-2] and lines[-1].endswith("net.onnx")
    inputs = tmp_path / "in"
    inputs.mkdir()
    photo = (parity_image()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    Image.fromarray(photo).save(inputs / "a.png")
    run_cli("predict", f"ckpt_path={ckpt}", f"input={inputs}", f"output={tmp_path / 'torch'}")
    run_cli(
        "predict",
        "backend=onnxruntime",
        f"model_file={tmp_path / 'net.onnx'}",
        f"input={inputs}",
        f"output={tmp_path / 'ort'}",
        "tile_size=128",
    )
    by_torch = np.asarray(Image.open(tmp_path / "torch" / "a.png")).astype(int)
    by_ort = np.asarray(Image.open(tmp_path / "ort" / "a.png")).astype(int)
    assert by_torch.shape == by_ort.shape
    assert np.abs(by_torch - by_ort).max() <= 1  # rounding to 8 bits; Zero-DCE++ at s=1 tiles exactly
