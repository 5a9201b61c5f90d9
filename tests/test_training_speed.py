"""`callbacks.TrainingSpeed`: train's channels-last layout and heap reuse (on by default)."""

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from exposure_lab import inference
from exposure_lab.callbacks import TrainingSpeed
from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.config import config_dir


def _cpu_trainer(precision: str) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu", devices=1, precision=precision, logger=False, enable_progress_bar=False
    )


def _conv_weights(task):
    return [p for p in task.parameters() if p.dim() == 4]


def test_setup_puts_every_conv_weight_in_channels_last_and_back_off_when_disabled():
    task = build_task(compose_model_config("unet"))
    TrainingSpeed().setup(_cpu_trainer("32-true"), task, "fit")
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(task))
    plain = build_task(compose_model_config("unet"))
    TrainingSpeed(channels_last=False, reuse_memory=False).setup(_cpu_trainer("32-true"), plain, "fit")
    assert all(w.is_contiguous() for w in _conv_weights(plain))


def test_channels_last_training_step_equals_nchw_up_to_float_rounding():
    torch.manual_seed(0)
    nchw = build_task(compose_model_config("unet")).net
    nhwc = build_task(compose_model_config("unet")).net
    nhwc.load_state_dict(nchw.state_dict())
    nhwc.to(memory_format=torch.channels_last)
    x = torch.rand(2, 3, 32, 32)
    grads = []
    for net in (nchw, nhwc):
        net(x).abs().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.allclose(nhwc(x), nchw(x), atol=1e-5)
    assert torch.allclose(grads[1], grads[0], atol=1e-5, rtol=1e-4)


def test_the_default_callbacks_include_it():
    callbacks = OmegaConf.load(config_dir() / "callbacks" / "default.yaml")
    assert callbacks.training_speed._target_ == "exposure_lab.callbacks.TrainingSpeed"
    assert callbacks.training_speed.channels_last and callbacks.training_speed.reuse_memory


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_bf16_mixed_training_on_a_cpu_without_native_bf16_is_noted(monkeypatch, capsys, precision):
    monkeypatch.setattr(inference, "native_bf16_cpu", lambda: False)
    inference.note_emulated_bf16.cache_clear()
    TrainingSpeed().setup(_cpu_trainer(precision), build_task(compose_model_config("unet")), "fit")
    notes = [line for line in capsys.readouterr().err.splitlines() if "emulated" in line]
    assert len(notes) == (0 if precision == "32-true" else 1)
    if notes:
        assert notes[0].startswith("trainer.precision=bf16-mixed: this CPU (")
    inference.note_emulated_bf16.cache_clear()
