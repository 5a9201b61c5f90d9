"""LMSPEC inference protocol and release options, applied by the task's forward, and `+model.*` overrides of a
checkpoint's stored config in eval/predict."""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from exposure_lab.checkpoints import build_task, compose_model_config, load_task, write_checkpoint
from exposure_lab.data.io import write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.models.lmspec import LMSPEC
from exposure_lab.models.lmspec_inference import (
    LMSPECInference,
    contrast_stretch,
    exposure_fusion,
    local_affine_upsample,
)


class RecordingNet(LMSPEC):
    """A tiny LMSPEC that records the input size and pyramid scales of every call."""

    def __init__(self) -> None:
        super().__init__(widths=(4, 4, 4, 4), depths=(1, 1, 1, 1))
        self.calls: list[tuple[tuple[int, int], object]] = []

    def forward(self, x, pyramid_scales=None):
        self.calls.append((tuple(x.shape[-2:]), pyramid_scales))
        return super().forward(x, pyramid_scales)


def test_resize_protocol_runs_a_padded_square_canvas_and_returns_the_input_size():
    net = RecordingNet()
    x = torch.rand(2, 3, 40, 60)
    out = LMSPECInference(protocol="resize", long_side=64)(net, x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert net.calls == [((64, 64), None)]
    big = torch.rand(1, 3, 100, 150)
    for upsampling in ("local_affine", "resize"):
        assert (
            LMSPECInference(protocol="resize", long_side=64, upsampling=upsampling)(net, big).shape
            == big.shape
        )


def test_full_protocol_runs_the_full_image_and_passes_the_pyramid_scales():
    net = RecordingNet()
    scales = (1.5, 1.5, 1.5, 1.05)
    out = LMSPECInference(protocol="full", pyramid_scales=scales)(net, torch.rand(1, 3, 37, 53))
    assert out.shape == (1, 3, 37, 53)
    assert net.calls == [((37, 53), scales)]


def test_bad_options_fail_with_one_line():
    with pytest.raises(ExposureLabError, match="protocol"):
        LMSPECInference(protocol="tiles")
    with pytest.raises(ExposureLabError, match="upsampling"):
        LMSPECInference(upsampling="bgu")
    with pytest.raises(ExposureLabError, match="pyramid_scales"):
        LMSPECInference(pyramid_scales=(1.0, 1.0))


def test_local_affine_upsampling_reproduces_a_global_colour_affine():
    generator = torch.Generator().manual_seed(0)
    full = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 16, generator=generator), size=(96, 128))
    low = torch.nn.functional.interpolate(full, size=(48, 64), mode="area")
    matrix = torch.tensor([[0.8, 0.1, 0.0], [0.1, 0.7, 0.1], [0.0, 0.2, 0.9]])
    offset = torch.tensor([0.05, -0.02, 0.1])[:, None, None]

    def mapping(x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oi,bihw->bohw", matrix, x) + offset

    upsampled = local_affine_upsample(low, mapping(low), full, radius=4, eps=1e-6)
    assert (upsampled - mapping(full)).abs().max() < 1e-2


def test_fusion_and_contrast_stretch():
    x = torch.rand(1, 3, 32, 32) * 0.5 + 0.25
    fused = exposure_fusion(x, x)
    assert fused.shape == x.shape and (fused - x).abs().mean() < 0.02
    stretched = contrast_stretch(x)
    flat = stretched.flatten(2)
    assert torch.allclose(flat.min(-1).values, torch.zeros(1, 3)) and torch.allclose(
        flat.max(-1).values, torch.ones(1, 3)
    )
    inference = LMSPECInference(protocol="full", fusion=True, pp=True)
    assert inference.describe() == "full resolution + reflect pad to the net's multiple, fusion on, pp on"
    assert inference(RecordingNet(), x).shape == x.shape


def test_task_forward_applies_the_configured_protocol():
    task = build_task(compose_model_config("lmspec_tiny", ["model.protocol=resize", "model.long_side=64"]))
    x = torch.rand(1, 3, 30, 50)
    assert torch.equal(task(x), task.inference(task.net, x))
    assert task.describe_inference().startswith("long side resized to 64")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    model = compose_model_config("lmspec_tiny")
    task = build_task(model)
    return write_checkpoint(
        task,
        {"model": OmegaConf.to_container(model, resolve=True), "model_name": "lmspec_tiny"},
        tmp_path / "t.ckpt",
    )


def test_model_overrides_reach_a_checkpoints_stored_config(checkpoint):
    task, stored = load_task(checkpoint, {"pyramid_scales": [1.5, 1.5, 1.5, 1.05], "pp": True})
    assert task.inference.pyramid_scales == (1.5, 1.5, 1.5, 1.05) and task.inference.pp
    assert stored["model"]["pyramid_scales"] == [1.5, 1.5, 1.5, 1.05]
    assert load_task(checkpoint)[0].inference.pyramid_scales == (1.0, 1.0, 1.0, 1.0)


def test_predict_cli_takes_model_overrides_with_a_checkpoint(cli, checkpoint, tmp_path):
    write_image(tmp_path / "in" / "a.png", torch.rand(3, 20, 30))
    lines = cli(
        "predict",
        f"ckpt_path={checkpoint}",
        f"input={tmp_path / 'in'}",
        f"output={tmp_path / 'out'}",
        "+model.pyramid_scales=[1.5,1.5,1.5,1.05]",
        "+model.pp=true",
    )
    assert lines[0] == "wrote 1 image(s)" and (tmp_path / "out" / "a.png").is_file()


def test_eval_cli_states_the_overridden_protocol_in_its_table(cli, checkpoint, paired_overrides, tmp_path):
    lines = cli(
        "eval",
        f"ckpt_path={checkpoint}",
        *paired_overrides,
        "metrics.names=[psnr,ssim]",
        "+model.protocol=resize",
        "+model.long_side=64",
        "+model.upsampling=resize",
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    header = next(line for line in lines if "inference:" in line)
    assert header.endswith(
        "lmspec_tiny inference: long side resized to 64 + replicate pad, resize upsampling above"
    )
