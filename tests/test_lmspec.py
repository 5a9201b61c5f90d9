"""LMSPEC nets (parameter counts, pyramid, outputs) and every term of the LMSPEC / Endo-LMSPEC objective."""

import itertools
import math

import pytest
import torch

from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.errors import ExposureLabError
from exposure_lab.losses.lmspec import (
    LMSPECLoss,
    discriminator_loss,
    histogram_loss,
    pyramid_loss,
    rgb_uv_histogram,
)
from exposure_lab.models.lmspec import LMSPEC, LaplacianPyramid, LMSPECDiscriminator, SubNet
from exposure_lab.tasks.adversarial import AdversarialRestoration


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_official_architectures():
    assert count(LMSPEC()) == 7_015_449
    assert count(LMSPECDiscriminator()) == 962_585
    assert count(LMSPEC(depths=(4, 4, 4, 4), variant="endo_lmspec_release")) == 10_667_159
    assert [count(SubNet(16, 3)), count(SubNet(24, 3)), count(SubNet(24, 4))] == [
        482_067,
        1_083_675,
        4_365_915,
    ]


def test_model_configs_build_the_published_nets():
    sizes = {name: count(build_task(compose_model_config(name)).net) for name in ("lmspec", "endo_lmspec")}
    assert sizes == {"lmspec": 7_015_449, "endo_lmspec": 7_015_449}
    release = build_task(compose_model_config("endo_lmspec_release")).net
    assert count(release) == 10_667_159
    assert release.subnets[1] is release.subnets[2] and release.upconvs[0] is release.upconvs[1]


@pytest.mark.parametrize("blur_passes", [1, 2])
@pytest.mark.parametrize("size", [(37, 53), (64, 64), (3, 5)])
def test_pyramid_reconstructs_the_input_exactly(blur_passes, size):
    pyramid = LaplacianPyramid(blur_passes=blur_passes)
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0))
    bands = pyramid.decompose(x)
    assert [b.shape[-2:] for b in bands] == [
        (math.ceil(size[0] / 2**k), math.ceil(size[1] / 2**k)) for k in range(4)
    ]
    assert (pyramid.reconstruct(bands) - x).abs().max() < 1e-6


def test_pyramid_of_a_constant_image_is_flat_with_the_constant_as_residual():
    pyramid = LaplacianPyramid()
    bands = pyramid.decompose(torch.full((1, 3, 32, 32), 0.3))
    assert all(band.abs().max() < 1e-6 for band in bands[:3])
    assert torch.allclose(bands[3], torch.full_like(bands[3], 0.3))


def tiny_net() -> LMSPEC:
    return LMSPEC(widths=(4, 4, 4, 4), depths=(1, 1, 1, 1))


def test_net_returns_the_final_image_and_every_level():
    net = tiny_net()
    outputs = net(torch.rand(2, 3, 32, 48))
    assert outputs["output"].shape == (2, 3, 32, 48)
    assert [y.shape[-2:] for y in outputs["levels"]] == [(32, 48), (16, 24), (8, 12), (4, 6)]
    assert [y.shape[-2:] for y in outputs["upsampled"]] == [(32, 48), (16, 24), (8, 12)]
    assert outputs["output"] is outputs["levels"][0]
    scaled = net(torch.rand(2, 3, 32, 48), pyramid_scales=[1.5, 1.5, 1.5, 1.05])["output"]
    assert scaled.shape == (2, 3, 32, 48)
    odd = net(torch.rand(1, 3, 37, 53))  # padded to the net's multiple inside, every output cropped back
    assert [y.shape[-2:] for y in odd["levels"]] == [(37, 53), (19, 27), (10, 14), (5, 7)]
    assert [y.shape[-2:] for y in odd["upsampled"]] == [(37, 53), (19, 27), (10, 14)]


def test_nearest_upconv_init_upsamples_by_pixel_replication():
    net = LMSPEC(widths=(4, 4, 4, 4), depths=(1, 1, 1, 1), nearest_upconv_init=True)
    coarse = torch.rand(1, 3, 4, 5)
    expected = coarse.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    assert torch.allclose(net.upconvs[0](coarse), expected)


def test_bad_net_settings_fail_with_one_line():
    with pytest.raises(ExposureLabError, match="4 values"):
        LMSPEC(widths=(4, 4, 4))
    with pytest.raises(ExposureLabError, match="variant"):
        LMSPEC(variant="matlab")


def target_and_perfect_outputs(pyramid: LaplacianPyramid) -> tuple[torch.Tensor, dict]:
    """A target and net outputs that reproduce it at every level (all pyramid terms zero)."""
    target = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    gaussian = pyramid.gaussian(target)
    upsampled = [pyramid.up(coarse, fine.shape[-2:]) for fine, coarse in itertools.pairwise(gaussian)]
    return target, {"output": target.clone(), "upsampled": upsampled}


@pytest.mark.parametrize("mean_over", ["image", "level"])
def test_pyramid_loss_is_zero_for_the_targets_pyramid_and_weighted_1_2_4(mean_over):
    pyramid = LaplacianPyramid()
    target, outputs = target_and_perfect_outputs(pyramid)
    assert pyramid_loss(outputs["upsampled"], target, pyramid, mean_over) == 0
    shifted = [u + 0.1 for u in outputs["upsampled"]]
    value = pyramid_loss(shifted, target, pyramid, mean_over)
    if mean_over == "level":
        assert value == pytest.approx(0.1 * (1 + 2 + 4), rel=1e-5)
    else:  # sums over levels at full, 1/2 and 1/4 resolution, divided by the full-resolution count
        assert value == pytest.approx(0.1 * (1 + 2 / 4 + 4 / 16), rel=1e-5)


def test_every_term_is_zero_for_identical_images_and_positive_finite_otherwise():
    pyramid = LaplacianPyramid()
    target, perfect = target_and_perfect_outputs(pyramid)
    weights = {"reconstruction": 1.0, "pyramid": 1.0, "ssim": 1.0, "histogram": 1.0}
    loss = LMSPECLoss(weights)
    total, terms = loss(perfect, target, pyramid)
    assert set(terms) == set(weights)
    assert all(value.abs() < 1e-5 for value in terms.values()), terms
    degraded = {
        "output": (target * 0.5).requires_grad_(),
        "upsampled": [(u * 0.5).requires_grad_() for u in perfect["upsampled"]],
    }
    total, terms = loss(degraded, target, pyramid)
    assert all(torch.isfinite(v) and v > 0 for v in terms.values()), terms
    assert total.item() == pytest.approx(sum(terms.values()).item(), rel=1e-6)
    total.backward()
    assert torch.isfinite(degraded["output"].grad).all() and degraded["output"].grad.abs().sum() > 0


def test_histogram_is_a_distribution_and_its_loss_ignores_scale_of_identical_colours():
    images = torch.rand(2, 3, 16, 16)
    histogram = rgb_uv_histogram(images, bins=32)
    assert histogram.shape == (2, 3, 32, 32)
    assert torch.allclose(histogram.sum(dim=(1, 2, 3)), torch.ones(2))
    assert histogram_loss(images, images) == 0
    grey = torch.full((1, 3, 8, 8), 0.5)
    assert 0 < histogram_loss(grey, torch.rand(1, 3, 8, 8)) <= 1


@pytest.mark.parametrize("gradient", [True, False])
def test_adversarial_term_reaches_the_generator_unless_the_official_flag_is_set(gradient):
    torch.manual_seed(0)
    net, discriminator = tiny_net(), LMSPECDiscriminator()
    target = torch.rand(2, 3, 32, 32)
    outputs = net(torch.rand(2, 3, 32, 32))
    loss = LMSPECLoss({"adversarial": 1.0}, adversarial_gradient=gradient)
    total, terms = loss(outputs, target, net.pyramid, discriminator)
    assert torch.isfinite(terms["adversarial"]) and terms["adversarial"] > 0
    d_loss = discriminator_loss(discriminator, target, outputs["output"])
    assert torch.isfinite(d_loss) and d_loss > 0
    total.backward()
    reached = [p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters()]
    assert all(reached) if gradient else not any(reached)
    assert all(p.grad is not None for p in discriminator.parameters())
    assert loss(outputs, target, net.pyramid, None)[1] == {}  # D not active yet: no adversarial term


def test_loss_weights_are_by_name_and_unknown_names_fail():
    with pytest.raises(ExposureLabError, match="unknown LMSPEC loss name"):
        LMSPECLoss({"l1": 1.0})
    loss = LMSPECLoss({"reconstruction": 0.0, "ssim": 2.0})
    assert loss.weights == {"ssim": 2.0} and not loss.uses_adversarial
    endo = build_task(compose_model_config("endo_lmspec")).objective
    assert endo.weights == {"pyramid": 0.25, "reconstruction": 0.25, "ssim": 1.0, "adversarial": 0.25}
    with pytest.raises(ExposureLabError, match="discriminator is null"):
        AdversarialRestoration(net=tiny_net(), discriminator=None, losses={"adversarial": 1.0})
    lmspec = build_task(compose_model_config("lmspec")).objective
    assert lmspec.weights == {"reconstruction": 1.0, "pyramid": 1.0, "adversarial": pytest.approx(4 / 255)}
