"""`exposure-lab bench`: key=value arguments, MAC counting, and the JSON report (structure, not speed)."""

import json

import pytest
import torch
from tests.helpers import run_cli

from exposure_lab.commands.bench import ALL_MODELS_MAX_GMACS, parse_arguments
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.cost import bench_net, count_macs, median_seconds
from exposure_lab.models.mirnet import MIRNet


def test_arguments_are_yaml_key_values():
    options = parse_arguments(["model=mirnet", "sizes=[64,128]", "repeats=2"])
    assert options["model"] == "mirnet" and options["sizes"] == [64, 128] and options["repeats"] == 2
    assert options["max_gmacs"] == float("inf")
    assert parse_arguments(["sizes=96"])["sizes"] == [96]
    assert parse_arguments([])["max_gmacs"] == ALL_MODELS_MAX_GMACS


@pytest.mark.parametrize("argv", [["size=256"], ["mirnet"]])
def test_bad_arguments_are_user_errors(argv):
    with pytest.raises(ExposureLabError, match="bench"):
        parse_arguments(argv)


def test_median_seconds_calls_fewer_times_when_over_budget():
    calls = []
    assert median_seconds(lambda: calls.append(1), repeats=3) >= 0 and len(calls) == 4
    calls.clear()
    median_seconds(lambda: calls.append(1), repeats=3, budget_s=0.0, first_call_s=1.0)
    assert len(calls) == 1


def test_macs_of_a_convolution():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_macs(conv, 16) == 3 * 8 * 9 * 16 * 16


def test_bench_net_reports_cost_per_size_and_skips_heavy_timings():
    options = parse_arguments(["sizes=[32,64]", "repeats=1", "train_size=32", "max_gmacs=0.05"])
    entry = bench_net(MIRNet(n_feat=8, n_rrg=1, n_msrb=1), options, torch.device("cpu"))
    assert entry["params"] == sum(p.numel() for p in MIRNet(n_feat=8, n_rrg=1, n_msrb=1).parameters())
    small, large = entry["32"], entry["64"]
    assert small["forward_ms"] > 0 and 0 < small["gmacs"] < 0.05
    assert large["gmacs"] == pytest.approx(4 * small["gmacs"], rel=0.01) and "skipped" in large
    assert "forward_ms" not in large
    assert str(entry["train_images_per_s_32px_b4"]).startswith("skipped")


def test_cli_bench_writes_json_for_the_named_model(tmp_path):
    out = tmp_path / "bench.json"
    lines = run_cli("bench", "model=mirnet_small", "sizes=[32]", "repeats=1", "train_size=32", f"out={out}")
    report = json.loads(out.read_text())
    assert json.loads("\n".join(lines)) == report
    assert set(report) == {"machine", "models"} and set(report["models"]) == {"mirnet_small"}
    entry = report["models"]["mirnet_small"]
    assert entry["params"] == 663_615 and entry["train_images_per_s_32px_b4"] > 0
    assert {"gmacs", "forward_ms", "peak_memory_mb"} <= set(entry["32"])
