"""Classical baselines and the default UNet: shapes, ranges, behaviour on real photographs, batching."""

import pytest
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale, rgb_to_ycbcr
from skimage import data

from exposure_lab.inference import crop_to, enhance, pad_to_multiple
from exposure_lab.models.baselines import CLAHE, AutoGamma, Gamma, HistogramEqualization, Identity
from exposure_lab.models.unet import UNet

BASELINES = [Identity(), Gamma(), Gamma(0.5), AutoGamma(), HistogramEqualization(), CLAHE()]


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """scikit-image's astronaut and coffee photographs, (2,3,37,53) in [0,1] (odd size on purpose)."""
    photos = (data.astronaut(), data.coffee())
    images = [torch.from_numpy(array).permute(2, 0, 1)[None] / 255 for array in photos]
    return torch.cat([F.interpolate(image, size=(37, 53), mode="area") for image in images])


def mean_luma(x: torch.Tensor) -> torch.Tensor:
    return rgb_to_grayscale(x).mean(dim=(-3, -2, -1))


@pytest.mark.parametrize("net", BASELINES, ids=lambda net: repr(net))
def test_baseline_keeps_shape_and_range_on_odd_size(net, photo):
    out = net(photo)
    assert out.shape == photo.shape
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    assert net.size_multiple == 1
    assert not list(net.parameters())


@pytest.mark.parametrize("net", BASELINES, ids=lambda net: repr(net))
@pytest.mark.parametrize("value", [0.0, 1.0])
def test_baseline_handles_black_and_white_images(net, value):
    out = net(torch.full((1, 3, 37, 53), value))
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("net", BASELINES, ids=lambda net: repr(net))
def test_baseline_processes_each_image_of_a_batch_on_its_own(net, photo):
    dark = photo * 0.2
    batch = net(torch.cat([photo, dark]))
    assert torch.allclose(batch[2:], net(dark), atol=1e-6)
    assert torch.allclose(batch[:2], net(photo), atol=1e-6)


def test_gamma_convention_brightens_with_gamma_above_one():
    x = torch.tensor([0.0, 0.04, 0.2, 0.5, 1.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    out = Gamma(2.2)(x)
    assert torch.allclose(out, x ** (1 / 2.2), atol=1e-6)
    assert (out[..., 1:4] > x[..., 1:4]).all()
    assert torch.allclose(Gamma(1.0)(x), x)
    with pytest.raises(ValueError, match="gamma"):
        Gamma(0)


def test_auto_gamma_brings_mean_luma_of_dark_photos_to_target(photo):
    dark = photo * 0.2
    assert (mean_luma(dark) < 0.1).all()
    out = AutoGamma(target_mean=0.5)(dark)
    assert torch.allclose(mean_luma(out), torch.full((2,), 0.5), atol=0.06)
    uniform = torch.full((1, 3, 8, 8), 0.1)
    assert torch.allclose(AutoGamma(target_mean=0.4)(uniform), torch.full_like(uniform, 0.4), atol=1e-5)


@pytest.mark.parametrize("net", [HistogramEqualization(), CLAHE()], ids=repr)
def test_equalisation_raises_contrast_of_low_contrast_photos(net, photo):
    flat = 0.45 + 0.1 * photo
    before = rgb_to_grayscale(flat).std(dim=(-2, -1))
    after = rgb_to_grayscale(net(flat)).std(dim=(-2, -1))
    assert (after > 2 * before).all()


@pytest.mark.parametrize("net", [HistogramEqualization(), CLAHE()], ids=repr)
def test_equalisation_preserves_colour(net, photo):
    tint = torch.tensor([0.06, 0.0, -0.06]).view(1, 3, 1, 1)
    tinted = 0.2 + 0.5 * rgb_to_grayscale(photo) + tint
    out = net(tinted)
    unclipped = ((out > 0) & (out < 1)).all(dim=1, keepdim=True).expand(-1, 2, -1, -1)
    assert unclipped.float().mean() > 0.6
    chroma_in, chroma_out = rgb_to_ycbcr(tinted)[:, 1:], rgb_to_ycbcr(out)[:, 1:]
    assert torch.allclose(chroma_out[unclipped], chroma_in[unclipped], atol=1e-4)
    assert not torch.allclose(out, tinted, atol=0.05)


def test_clahe_shrinks_its_grid_on_tiny_images():
    out = CLAHE(grid_size=(8, 8))(torch.rand(1, 3, 5, 6))
    assert out.shape == (1, 3, 5, 6)


def test_unet_parameter_count_and_size_multiple():
    net = UNet()
    assert 100_000 <= sum(p.numel() for p in net.parameters()) <= 200_000
    assert net.size_multiple == 8
    assert UNet(depth=2).size_multiple == 4


def test_unet_forward_backward_on_odd_size_through_pad_helpers():
    torch.manual_seed(0)
    net = UNet()
    x = torch.rand(2, 3, 37, 53)
    padded, hw = pad_to_multiple(x, net.size_multiple)
    out = crop_to(net(padded), hw)
    assert out.shape == x.shape
    F.l1_loss(out, x.flip(-1)).backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("global_context", [True, False])
def test_unet_global_context_sees_the_whole_image(global_context):
    torch.manual_seed(0)
    net = UNet(global_context=global_context)
    x = torch.rand(1, 3, 128, 128)
    changed = x.clone()
    changed[..., :64, :] = 0.0
    far_rows = (enhance(net, changed) - enhance(net, x))[..., -16:, :].abs().max()
    assert (far_rows > 0) == global_context


def test_unet_enhance_returns_input_size_and_is_residual():
    net = UNet()
    x = torch.rand(1, 3, 37, 53)
    assert enhance(net, x).shape == x.shape
    torch.nn.init.zeros_(net.tail.weight)
    torch.nn.init.zeros_(net.tail.bias)
    assert torch.equal(enhance(net, x), x)
