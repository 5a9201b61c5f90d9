"""MIRNet: published parameter counts, any input size, SKFF weights, official-weight conversion, recipes."""

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from tests.helpers import compose_config, read_json, run_cli
from torch import Tensor

from exposure_lab.checkpoints import build_task
from exposure_lab.errors import ExposureLabError
from exposure_lab.models.mirnet import BlurPool, MIRNet, SelectiveKernelFusion
from exposure_lab.schedules import warmup_cosine

SMALL = {"n_feat": 8, "n_rrg": 2, "n_msrb": 2}

# Keys of an official swz30/MIRNet state dict (default config), read off its module tree.
OFFICIAL_KEYS = (
    "conv_in.weight",
    "conv_out.weight",
    "body.0.body.0.blocks.0.1.body.1.weight",
    "body.0.body.1.blocks.2.0.SA.spatial.conv.weight",
    "body.1.body.0.blocks.1.1.CA.conv_du.2.weight",
    "body.2.body.1.blocks.0.0.conv1x1.weight",
    "body.0.body.0.down.64_4.body.1.top.5.weight",
    "body.0.body.0.down.128_2.body.0.top.4.filt",
    "body.0.body.0.down.64_2.body.0.bot.0.filt",
    "body.1.body.1.up.256_4.body.1.bot.1.weight",
    "body.0.body.0.last_up.2.body.0.top.2.weight",
    "body.2.body.0.selective_kernel.2.fcs.2.weight",
    "body.2.body.0.selective_kernel.1.conv_du.1.weight",
    "body.0.body.1.conv_out.weight",
    "body.1.body.2.weight",
)
OFFICIAL_KEY_COUNT = 797


def _official_pairs(net: MIRNet, key: str, value: Tensor, width: int) -> Iterator[tuple[str, Tensor]]:
    """Our (key, value) → the official module tree's key(s) holding it: shared DAUs under every column,
    the blur-pool kernels beside each down-sampling, one 1×1 conv per SKFF branch."""
    if key.startswith(("head.", "tail.")):
        yield ("conv_in." if key.startswith("head.") else "conv_out.") + key.split(".", 1)[1], value
        return
    rrg_tail = re.fullmatch(r"groups\.(\d+)\.tail\.(.+)", key)
    if rrg_tail:
        yield f"body.{rrg_tail[1]}.body.{net.n_msrb}.{rrg_tail[2]}", value
        return
    match = re.fullmatch(r"groups\.(\d+)\.blocks\.(\d+)\.(.+)", key)
    prefix, rest = f"body.{match[1]}.body.{match[2]}.", match[3]
    rest = rest.replace(".bottom.", ".bot.")
    if m := re.fullmatch(r"dau\.(\d+)\.(\d+)\.(.+)", rest):
        inner = m[3]
        for ours, theirs in (
            ("spatial_attention.", "SA.spatial.conv."),
            ("channel_attention.", "CA.conv_du."),
        ):
            inner = inner.replace(ours, theirs)
        inner = inner.replace("fuse.", "conv1x1.")
        columns = range(width) if net.share_weights else [int(m[2])]
        for column in columns:
            yield f"{prefix}blocks.{m[1]}.{column}.{inner}", value
    elif m := re.fullmatch(r"(down|up)\.(\d+)_(\d+)\.(\d+)\.(.+)", rest):
        stem = f"{prefix}{m[1]}.{net.n_feat * 2 ** int(m[2])}_{m[3]}.body.{m[4]}."
        yield stem + m[5], value
        if m[1] == "down" and m[5] == "top.0.weight":
            taps = torch.tensor([1.0, 2.0, 1.0])
            blur = (torch.outer(taps, taps) / 16).expand(value.shape[1], 1, 3, 3)
            yield stem + "top.4.filt", blur
            yield stem + "bot.0.filt", blur
    elif m := re.fullmatch(r"last_up\.(\d+)\.(\d+)\.(.+)", rest):
        yield f"{prefix}last_up.{m[1]}.body.{m[2]}.{m[3]}", value
    elif m := re.fullmatch(r"fuse\.(\d+)\.squeeze\.(.+)", rest):
        yield f"{prefix}selective_kernel.{m[1]}.conv_du.{m[2]}", value
    elif m := re.fullmatch(r"fuse\.(\d+)\.excite\.weight", rest):
        for branch, chunk in enumerate(value.chunk(3, dim=0)):
            yield f"{prefix}selective_kernel.{m[1]}.fcs.{branch}.weight", chunk
    else:
        assert rest.startswith("tail."), key
        yield f"{prefix}conv_out.{rest[5:]}", value


def official_state_dict(net: MIRNet, width: int = 2) -> dict[str, Tensor]:
    """`net`'s weights in the official key layout (height 3), including its duplicated keys."""
    return {
        official_key: official_value.clone()
        for key, value in net.state_dict().items()
        for official_key, official_value in _official_pairs(net, key, value, width)
    }


def randomised(net: MIRNet) -> MIRNet:
    """`net` with every parameter perturbed (PReLU slopes included), so a mix-up of weights shows."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return net


def test_parameter_counts_match_the_official_net():
    assert sum(p.numel() for p in MIRNet().parameters()) == 31_787_419
    assert sum(p.numel() for p in MIRNet(share_weights=False).parameters()) == 42_239_298


@pytest.mark.parametrize("share_weights", [True, False])
def test_forward_keeps_odd_sizes(share_weights):
    net = MIRNet(**SMALL, share_weights=share_weights).eval()
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        assert net(x).shape == x.shape
    assert net.size_multiple == 4


@pytest.mark.parametrize("size", [(12, 16), (11, 9)])
def test_blur_pool_is_the_official_filter_in_fp32_and_in_bf16(size):
    x = torch.rand(2, 4, *size)
    blur = BlurPool(4)
    exact = blur(x)
    taps = torch.tensor([1.0, 2.0, 1.0])
    window = x[..., 1:4, 1:4]  # what output (1, 1) sees: reflect pad 1, stride 2
    assert torch.allclose(exact[..., 1, 1], (window * taps.outer(taps) / 16).sum((-2, -1)), atol=1e-6)
    low = blur(x.bfloat16())  # two 2-tap means instead of the depthwise conv
    assert low.dtype == torch.bfloat16
    assert low.shape == exact.shape == (2, 4, -(-size[0] // 2), -(-size[1] // 2))
    assert (low.float() - exact).abs().max() < 1e-2


def test_skff_weights_sum_to_one_across_branches():
    fusion = SelectiveKernelFusion(channels=16, branches=3, reduction=8)
    features = [torch.randn(2, 16, 5, 7) for _ in range(3)]
    weights = fusion.branch_weights(sum(features))
    assert weights.shape == (2, 3, 16, 1, 1)
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 16, 1, 1))
    expected = sum(weights[:, i] * features[i] for i in range(3))
    torch.testing.assert_close(fusion(features), expected)
    fusion.fused = False
    torch.testing.assert_close(fusion(features), expected)


def test_official_layout_builder_names_the_official_keys():
    official = official_state_dict(MIRNet())
    assert len(official) == OFFICIAL_KEY_COUNT
    assert set(OFFICIAL_KEYS) <= set(official)


@pytest.mark.parametrize("share_weights", [True, False])
def test_converter_round_trip(share_weights):
    source = randomised(MIRNet(**SMALL))
    target = MIRNet(**SMALL, share_weights=share_weights)
    converted = target.convert_official_state_dict(official_state_dict(source))
    assert set(converted) == set(target.state_dict())
    target.load_state_dict(converted)
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(x), source.eval()(x))


def test_converter_refuses_unshared_weights_for_a_shared_net():
    official = official_state_dict(randomised(MIRNet(**SMALL, share_weights=False)))
    with pytest.raises(ExposureLabError, match="share_weights=false"):
        MIRNet(**SMALL).convert_official_state_dict(official)


def test_converter_keeps_unknown_keys_for_the_report():
    official = {**official_state_dict(MIRNet(**SMALL)), "body.0.extra.weight": torch.zeros(1)}
    assert "body.0.extra.weight" in MIRNet(**SMALL).convert_official_state_dict(official)


def test_import_official_writes_a_loadable_checkpoint(tmp_path):
    importing = pytest.importorskip("exposure_lab.checkpoints.official")
    from exposure_lab.checkpoints import load_task

    source = randomised(MIRNet(**SMALL))
    wrapped = {"state_dict": {f"module.{k}": v for k, v in official_state_dict(source).items()}}
    torch.save(wrapped, tmp_path / "official.pth")
    overrides = [f"net.{name}={value}" for name, value in SMALL.items()]
    out = importing.import_official("mirnet", tmp_path / "official.pth", tmp_path / "mirnet.ckpt", overrides)
    task, _ = load_task(out)
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        torch.testing.assert_close(task.net.eval()(x), source.eval()(x))


def test_warmup_cosine_schedule():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    scheduler = warmup_cosine(optimizer, warmup_epochs=3, max_epochs=10, eta_min=1e-6)
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(2e-4 / 3) and rates[3] == pytest.approx(2e-4)
    assert rates[:4] == sorted(rates[:4]) and rates[3:] == sorted(rates[3:], reverse=True)
    assert rates[10] == pytest.approx(1e-6)


@pytest.mark.parametrize(
    ("experiment", "scheduler"),
    [
        ("mirnet_lol", "ReduceLROnPlateau"),
        ("mirnet_lol_cosine", "SequentialLR"),
        ("mirnet_llie", "ReduceLROnPlateau"),
    ],
)
def test_recipes_build_their_optimizer_and_scheduler(experiment, scheduler, tmp_path):
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    task = build_task(cfg.model)
    assert sum(p.numel() for p in task.net.parameters()) == 31_787_419
    configured = task.configure_optimizers()
    assert type(configured["lr_scheduler"]["scheduler"]).__name__ == scheduler
    assert configured["lr_scheduler"]["monitor"] == "val/psnr"


def test_mirnet_small_fast_dev_run_records_the_learning_rate(paired_overrides, tmp_path):
    plateau = "{_target_:torch.optim.lr_scheduler.ReduceLROnPlateau,_partial_:true,mode:max,patience:1}"
    lines = run_cli(
        "train",
        *paired_overrides,
        "model=mirnet_small",
        f"model.scheduler={plateau}",
        "debug=fdr",
        f"hydra.run.dir={tmp_path}",
    )
    assert lines[-1] == str(tmp_path)
    assert Path(read_json(tmp_path / "result.json")["best_checkpoint"]).is_file()
    with open(tmp_path / "metrics_history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0]["lr"]) == pytest.approx(1e-4)
    assert float(rows[0]["val/loss"]) > 0 and float(rows[0]["val/psnr"]) > 0


def test_import_official_names_keys_it_cannot_place(tmp_path):
    importing = pytest.importorskip("exposure_lab.checkpoints.official")
    official = {**official_state_dict(MIRNet(**SMALL)), "body.0.body.0.extra.weight": torch.zeros(1)}
    torch.save(official, tmp_path / "official.pth")
    overrides = [f"net.{name}={value}" for name, value in SMALL.items()]
    with pytest.raises(ExposureLabError, match="extra"):
        importing.import_official("mirnet", tmp_path / "official.pth", tmp_path / "out.ckpt", overrides)
