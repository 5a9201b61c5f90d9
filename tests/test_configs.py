"""Every config composes and resolves; every model config's net runs forward and backward on odd sizes."""

import hydra
import pytest
import torch
from tests.helpers import compose_config

from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.config import config_dir
from exposure_lab.inference import enhance, primary_output

CONF = config_dir()
GROUPS = (
    "data",
    "model",
    "metrics",
    "callbacks",
    "logger",
    "trainer",
    "debug",
    "experiment",
    "hparams_search",
    "patches",
    "stages",
)
ENTRY_CONFIGS = sorted(p.stem for p in CONF.glob("*.yaml") if p.stem != "model_only")
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_config_tree_has_every_group():
    for group in (*GROUPS, "paths", "hydra"):
        assert options(group), f"conf/{group}/ is empty"


@pytest.mark.parametrize(("group", "option"), [(g, o) for g in GROUPS for o in options(g)])
def test_train_config_composes_with_each_option(group, option, tmp_path):
    cfg = compose_config("train", [f"{group}={option}"], tmp_path)
    assert cfg.model._target_ and cfg.trainer._target_ == "lightning.pytorch.Trainer"
    assert cfg.optimized_mode in ("max", "min")


@pytest.mark.parametrize("config_name", ENTRY_CONFIGS)
def test_entry_configs_compose(config_name, tmp_path):
    compose_config(config_name, [], tmp_path)


@pytest.mark.parametrize("option", options("logger"))
def test_loggers_instantiate(option, tmp_path):
    cfg = compose_config("train", [f"logger={option}"], tmp_path)
    for node in cfg.logger.values():
        assert hydra.utils.instantiate(node) is not None


@pytest.mark.parametrize("name", MODELS)
def test_every_net_runs_forward_and_backward_on_odd_sizes(name):
    task = build_task(compose_model_config(name))
    x = torch.rand(2, 3, 37, 53)
    with torch.no_grad():
        out = enhance(task.net, x)
        full = task.eval()(x)
    assert out.shape[0] == 2 and out.shape[-2:] == x.shape[-2:]  # images, or 1-channel maps of assessors
    assert torch.isfinite(out).all() and torch.isfinite(full).all()
    if task.output_kind == "image":
        assert full.shape == x.shape and full.min() >= 0 and full.max() <= 1
    else:
        assert full.shape == (2, 1, 37, 53) and full.min() >= -1 and full.max() <= 1
    if task.trainable:
        multiple = getattr(task.net, "size_multiple", 1)
        patch = torch.rand(2, 3, 4 * multiple, 4 * multiple, requires_grad=True)
        primary_output(task.train().net(patch)).mean().backward()  # training mode: SCI's calibration runs
        assert all(p.grad is not None for p in task.net.parameters() if p.requires_grad)
