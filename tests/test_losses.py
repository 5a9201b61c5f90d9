import math

import pytest
import torch

from exposure_lab.errors import ExposureLabError
from exposure_lab.losses import LOSSES, WeightedLoss, charbonnier


def test_charbonnier_matches_its_definition_with_mirnet_eps():
    pred, target = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)
    assert charbonnier(pred, target).item() == pytest.approx(math.sqrt(0.01 + 1e-6), rel=1e-6)
    assert charbonnier(target, target).item() == pytest.approx(1e-3, rel=1e-4)


def test_weighted_loss_sums_named_terms_with_weights():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 17, 19), torch.rand(2, 3, 17, 19)
    total, terms = WeightedLoss({"l1": 2.0, "mse": 0.5, "ssim": 1.0})(pred, target)
    assert set(terms) == {"l1", "mse", "ssim"}
    expected = 2.0 * terms["l1"] + 0.5 * terms["mse"] + terms["ssim"]
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["l1"].item() == pytest.approx((pred - target).abs().mean().item(), rel=1e-6)


def test_ssim_loss_is_zero_for_identical_images_and_positive_otherwise():
    image = torch.rand(1, 3, 24, 24)
    assert LOSSES["ssim"](image, image).item() == pytest.approx(0.0, abs=1e-5)
    assert LOSSES["ssim"](image, image.flip(-1)).item() > 0.05


def test_zero_weights_are_dropped_and_unknown_names_rejected():
    assert WeightedLoss({"l1": 1.0, "ssim": 0.0}).weights == {"l1": 1.0}
    with pytest.raises(ExposureLabError, match="unknown loss name"):
        WeightedLoss({"perceptual": 1.0})


def test_every_loss_has_gradients():
    pred = torch.rand(1, 3, 21, 23, requires_grad=True)
    total, _ = WeightedLoss(dict.fromkeys(LOSSES, 1.0))(pred, torch.rand(1, 3, 21, 23))
    total.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
