"""The fast inference path (fused kernels, channels-last, bf16 autocast) against the reference path, and the
feathered tile blending. Parity on tiny inputs; timing belongs in `make bench`."""

import copy

import pytest
import torch
import torch.nn.functional as F
from tests.helpers import REPO
from torch import nn

from exposure_lab import inference
from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import InferenceOptions, enhance, precision_context, prepare_net
from exposure_lab.models.layers import InPlacePReLU, gated_copies, narrow_conv2d
from exposure_lab.models.mirnet import ResidualUpSample
from exposure_lab.models.p_ieanet import (
    HaarDWT,
    LightnessBlock,
    SpatialAttention,
    StructureLayer,
    _ReleasedLightness,
)
from exposure_lab.models.zero_dce import apply_curve, apply_curve_fused

MODEL_CONFIGS = sorted(path.stem for path in (REPO / "conf" / "model").glob("*.yaml"))
HEAVY = {"mirnet"}  # 480 GMACs at 256²: its parity is the bench's job (`make bench` prints its difference)
# FECNet takes the phase of spectra with near-zero entries: float rounding of any conv (channels-last or not)
# moves its random-init output by ~5e-3, so it is compared at a looser tolerance.
ILL_CONDITIONED = {"fecnet": 1e-2}


def _perturbed_net(name: str) -> nn.Module:
    torch.manual_seed(0)
    net = build_task(compose_model_config(name)).net.eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    return net


@pytest.mark.parametrize("name", [name for name in MODEL_CONFIGS if name not in HEAVY])
def test_fast_fp32_path_equals_the_reference_path(name):
    torch.manual_seed(0)
    net = build_task(compose_model_config(name)).net.eval()
    reference = prepare_net(copy.deepcopy(net), InferenceOptions.eager())
    fast = prepare_net(copy.deepcopy(net), InferenceOptions())
    x = torch.rand(2, 3, 34, 50)
    expected, actual = enhance(reference, x), enhance(fast, x)
    assert actual.shape == expected.shape
    tolerance = ILL_CONDITIONED.get(name, 1e-5) * expected.abs().max().clamp_min(1.0)  # float rounding
    assert (actual - expected).abs().max() <= tolerance


def test_fused_curve_equals_the_reference_curve():
    x = torch.rand(2, 3, 17, 9)
    for curves in (torch.rand(2, 24, 17, 9) * 2 - 1, torch.rand(2, 3, 17, 9) * 2 - 1):
        assert torch.allclose(apply_curve_fused(x, curves, 8), apply_curve(x, curves, 8), atol=1e-6)
        assert not torch.equal(apply_curve_fused(x, curves, 8), x)


@pytest.mark.parametrize("recording", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_folded_p_ieanet_layers_equal_their_reference_layers(recording, memory_format):
    torch.manual_seed(0)
    x = torch.randn(2, 16, 12, 14).contiguous(memory_format=memory_format)
    for layer in (StructureLayer(16, 2, 4), LightnessBlock(16, 2, 4)):
        with torch.no_grad():
            for parameter in layer.parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
        layer.to(memory_format=memory_format)
        with torch.set_grad_enabled(recording):
            layer.fused = False
            expected = layer(x)
            layer.fused = True
            actual = layer(x)
        assert torch.allclose(actual, expected, atol=1e-5)
        assert actual.requires_grad == recording


@pytest.mark.parametrize(("size", "out_channels", "with_bias"), [(7, 1, True), (3, 1, False), (3, 3, True)])
def test_narrow_conv_equals_the_convolution(size, out_channels, with_bias):
    torch.manual_seed(0)
    x = torch.randn(2, 8, 9, 13)
    weight, bias = torch.randn(out_channels, 8, size, size), torch.randn(out_channels) if with_bias else None
    expected = F.conv2d(x, weight, bias, padding=size // 2)
    assert torch.allclose(narrow_conv2d(x, weight, bias), expected, atol=1e-4)
    low = narrow_conv2d(x.bfloat16(), weight, bias)
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low.float(), expected, atol=0.05 * expected.abs().max())


def test_in_place_prelu_is_bitwise_prelu_and_keeps_its_gradient_in_training():
    prelu, reference = InPlacePReLU(), nn.PReLU()
    with torch.no_grad():
        prelu.weight.fill_(0.3)
        reference.weight.fill_(0.3)
    x = torch.randn(2, 4, 5, 6)
    with torch.inference_mode():
        fresh = x.clone()
        assert torch.equal(prelu(fresh), reference(x))
        assert torch.equal(fresh, reference(x))  # written in place
    source = x.clone().requires_grad_()
    out = prelu(source)
    out.sum().backward()
    assert prelu.weight.grad is not None and torch.equal(source, x)
    assert torch.equal(out, reference(x))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_gated_copies_equal_the_concatenated_products(memory_format):
    features = torch.randn(2, 6, 5, 7).contiguous(memory_format=memory_format)
    gates = (torch.rand(2, 1, 5, 7), torch.rand(2, 6, 1, 1))
    expected = torch.cat([features * gate for gate in gates], 1)
    with torch.inference_mode():
        written = gated_copies(features, gates, in_place=True)
    assert torch.equal(written, expected) and written.is_contiguous(memory_format=memory_format)


def test_mirnet_upsampling_resizes_after_its_bottom_conv_like_the_reference():
    torch.manual_seed(0)
    upsample = ResidualUpSample(8).eval()
    x = torch.randn(2, 8, 6, 10)
    with torch.inference_mode():
        upsample.fused = False
        expected = upsample(x)
        upsample.fused = True
        assert torch.allclose(upsample(x), expected, atol=1e-6)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_haar_inverse_of_separate_bands_equals_the_inverse_of_their_stack(memory_format):
    bands = torch.randn(2, 5, 4, 6, 7)
    apart = [band.contiguous(memory_format=memory_format) for band in bands.unbind(2)]
    image = HaarDWT.inverse_of(*apart)
    assert torch.allclose(image, HaarDWT().inverse(bands), atol=1e-6)
    assert image.is_contiguous(memory_format=memory_format)


def test_released_lightness_sums_its_groups_like_the_stacked_reference():
    torch.manual_seed(0)
    lightness = _ReleasedLightness(channels=16, groups=3, blocks=1)
    x = torch.rand(2, 3, 10, 12)
    lightness.fused = False
    expected = lightness(x)
    lightness.fused = True
    assert torch.allclose(lightness(x), expected, atol=1e-6)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_spatial_attention_keeps_a_channels_last_input_channels_last(precision):
    attention = SpatialAttention(16, 2, 4).eval()
    x = torch.rand(1, 16, 24, 20).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), precision_context(InferenceOptions(precision=precision), "cpu"):
        out = attention(x)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocast_runs_in_bf16_and_stays_close_to_fp32():
    net = _perturbed_net("zero_dce_pp")
    x = torch.rand(1, 3, 24, 24)
    options = InferenceOptions(precision="bf16")
    with precision_context(options, "cpu"):
        low = enhance(net, x)
    exact = enhance(net, x)
    assert not torch.equal(low.float(), exact)
    assert (low.float() - exact).abs().max() < 0.05
    assert "bf16" in options.describe() and "not exact" in options.describe()


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_native_bf16_is_noted_once(monkeypatch, capsys, native):
    monkeypatch.setattr(inference, "native_bf16_cpu", lambda: native)
    inference.note_emulated_bf16.cache_clear()
    for precision in ("fp32", "bf16", "bf16"):
        with precision_context(InferenceOptions(precision=precision), "cpu"):
            pass
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == (0 if native else 1)
    if not native:
        assert notes[0].startswith("precision=bf16: this CPU (") and "emulated" in notes[0]
    inference.note_emulated_bf16.cache_clear()


def test_options_reject_unknown_values():
    with pytest.raises(ExposureLabError, match="precision"):
        InferenceOptions(precision="fp16")
    with pytest.raises(ExposureLabError, match="backend"):
        InferenceOptions(backend="tensorrt")
    with pytest.raises(ExposureLabError, match="model_file"):
        InferenceOptions(backend="onnxruntime")
    assert InferenceOptions.from_config({"precision": "bf16", "other": 1}).precision == "bf16"


class TileMean(nn.Module):
    """Outputs each tile's own mean everywhere: tiles disagree, so the blend is visible."""

    size_multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((-2, -1), keepdim=True).expand_as(x).clone()


def test_overlaps_are_feathered_linearly_across_their_middle_half():
    x = torch.zeros(1, 1, 8, 96)
    x[..., 48:] = 1.0
    out = enhance(TileMean(), x, tile_size=64, tile_overlap=32)[0, 0, 0]
    left, right = out[0].item(), out[-1].item()
    assert left < right
    assert torch.allclose(out[:40], torch.full((40,), left))  # first quarter of the overlap: left tile only
    assert torch.allclose(out[56:], torch.full((40,), right))  # last quarter: right tile only
    ramp = out[40:56]
    assert (ramp.diff() > 0).all()
    assert torch.allclose(ramp.diff(), ramp.diff()[0].expand(15), atol=1e-6)


def test_tiles_that_agree_blend_to_exactly_their_value():
    x = torch.rand(1, 3, 70, 90)
    net = nn.Identity()
    assert torch.equal(enhance(net, x, tile_size=32, tile_overlap=12), x)


def test_speed_table_reports_every_path_and_the_machine_peak():
    from exposure_lab.commands.bench import parse_arguments
    from exposure_lab.evaluation.cost import bench_speed, speed_table

    options = parse_arguments(["speed=[zero_dce_pp:48]", "onnx_models=[]", "repeats=1"])
    report = bench_speed(options)
    peak = report["machine_peak"]
    assert peak["fp32_matmul_gflops"] > 0 and peak["fp32_conv3x3_gflops"] > 0
    assert peak["fp32_peak_gflops"] == max(peak["fp32_matmul_gflops"], peak["fp32_conv3x3_gflops"])
    (row,) = report["rows"]
    assert row["model"] == "zero_dce_pp" and row["size"] == 48
    assert row["fast_max_abs_diff"] <= 1e-5
    assert row["eager_ms"] > 0 and row["fast_ms"] > 0 and row["fast_speedup"] > 0
    assert "bf16_psnr_db" in row or "bf16_psnr_db_128px" in row
    assert "| zero_dce_pp | 48 |" in speed_table(report)
    (again,) = bench_speed(options)["rows"]  # seeded: the same weights and image in every run
    assert again["bf16_max_abs_diff"] == row["bf16_max_abs_diff"]


def test_speed_rows_rate_the_fast_path_by_the_macs_it_executes():
    from exposure_lab.commands.bench import parse_arguments
    from exposure_lab.evaluation.cost import bench_speed

    options = parse_arguments(["speed=[unet:32,p_ieanet:64]", "onnx_models=[]", "repeats=1"])
    unet, p_ieanet = bench_speed(options)["rows"]
    assert unet["fast_gmacs"] == unet["gmacs"]
    # its folded convolutions and its long-range part on the attention grid skip part of the reference's MACs
    assert 0.5 * p_ieanet["gmacs"] < p_ieanet["fast_gmacs"] < 0.95 * p_ieanet["gmacs"]
    rate = 2 * p_ieanet["fast_gmacs"] / p_ieanet["fast_ms"] * 1000
    assert p_ieanet["fast_gflops"] == pytest.approx(rate, rel=0.01)


def test_compiled_path_equals_the_reference_path_and_reports_its_compile_time_once(capfd):
    torch.manual_seed(0)
    net = build_task(compose_model_config("zero_dce")).net.eval()
    reference = prepare_net(copy.deepcopy(net), InferenceOptions.eager())
    compiled = prepare_net(copy.deepcopy(net), InferenceOptions(compile=True))
    x = torch.rand(1, 3, 24, 20)
    assert (enhance(compiled, x) - enhance(reference, x)).abs().max() <= 1e-5
    enhance(compiled, x)
    reports = [line for line in capfd.readouterr().err.splitlines() if line.startswith("compile: ")]
    assert len(reports) == 1 and "ZeroDCE compiled in" in reports[0]
    assert "forward" not in prepare_net(compiled, InferenceOptions()).__dict__


def test_compiled_bf16_path_reports_compile_time_speed_up_and_psnr():
    from exposure_lab.evaluation.cost import _compiled_bf16, speed_table

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)).eval()
    x = torch.rand(1, 3, 16, 16)
    reference = enhance(net, x)
    row = _compiled_bf16(net, x, reference, eager_ms=100.0, repeats=1, budget_s=1.0)
    assert row["compile_s"] > 0 and row["compiled_bf16_ms"] > 0
    assert row["compiled_bf16_speedup"] == pytest.approx(100.0 / row["compiled_bf16_ms"])
    assert 30 < row["compiled_bf16_psnr_db"] < float("inf")
    assert "forward" not in net.__dict__  # the net is left on the uncompiled fast path
    peak = {"fp32_matmul_gflops": 1, "fp32_conv3x3_gflops": 1, "bf16_matmul_gflops": 1}
    peak |= {"cpu_capability": "AVX512", "native_bf16": True, "threads": 2}
    table = speed_table({"machine_peak": peak, "rows": [{"model": "m", "size": 16, "gmacs": 0.1, **row}]})
    header, _, line = table.splitlines()[2:5]
    cells = dict(zip(header.split("|"), line.split("|"), strict=True))
    assert float(cells[" compiled bf16 ms "]) == pytest.approx(row["compiled_bf16_ms"], rel=1e-3)
    assert cells[" compile s "].strip() == f"{row['compile_s']:.0f}"
