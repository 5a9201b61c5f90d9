"""Padding, cropping, primary outputs and tiling (tiled equals untiled within the receptive field)."""

import pytest
import torch
from torch import nn

from exposure_lab.inference import crop_to, enhance, pad_to_multiple, primary_output
from exposure_lab.models.baselines import Gamma
from exposure_lab.models.unet import UNet


class ConvStack(nn.Module):
    """`layers` 3×3 convolutions with ReLU: receptive-field radius exactly `layers` pixels."""

    size_multiple = 1

    def __init__(self, layers: int, channels: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        blocks = [nn.Conv2d(3, channels, 3, padding=1)]
        for _ in range(layers - 1):
            blocks += [nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1)]
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class BlockNet(nn.Module):
    """Works on 4×4 blocks (pixel unshuffle → 3×3 conv → shuffle): needs multiples of 4, radius ≤ 7 pixels."""

    size_multiple = 4

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(48, 48, 3, padding=1)
        self.calls: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0, x.shape
        self.calls.append(tuple(x.shape[-2:]))
        out = nn.functional.pixel_shuffle(self.conv(nn.functional.pixel_unshuffle(x, 4)), 4)
        return out, {"aux": out.mean()}


class WideKernel(nn.Module):
    """One 31×31 convolution: receptive-field radius 15, wider than half of a 16-pixel overlap."""

    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 31, padding=15)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"output": self.conv(x)}


@pytest.fixture
def image() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(1, 3, 150, 170)


def test_primary_output_of_tensor_tuple_list_and_dict():
    x = torch.rand(1, 3, 4, 4)
    assert primary_output(x) is x
    assert primary_output((x, 1)) is x
    assert primary_output([x, x + 1]) is x
    assert primary_output({"aux": 0, "output": x}) is x
    with pytest.raises(TypeError, match="output"):
        primary_output({"image": x})
    with pytest.raises(TypeError):
        primary_output("not an image")


@pytest.mark.parametrize("multiple", [1, 2, 8, 16])
def test_pad_then_crop_round_trips_on_odd_size(multiple):
    x = torch.rand(2, 3, 37, 53)
    padded, hw = pad_to_multiple(x, multiple)
    assert hw == (37, 53)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - 37 < multiple and padded.shape[-1] - 53 < multiple
    assert torch.equal(crop_to(padded, hw), x)


def test_pad_reflects_and_falls_back_to_replicate_when_the_image_is_too_small():
    x = torch.arange(37 * 53, dtype=torch.float32).view(1, 1, 37, 53)
    padded, _ = pad_to_multiple(x, 8)
    assert torch.equal(padded[..., 37, :53], x[..., 35, :])
    assert torch.equal(padded[..., :37, 53], x[..., :, 51])
    tiny = torch.rand(1, 3, 3, 5)
    padded, hw = pad_to_multiple(tiny, 8)
    assert padded.shape == (1, 3, 8, 8)
    assert torch.equal(padded[..., 7, :5], tiny[..., 2, :])
    assert torch.equal(crop_to(padded, hw), tiny)


def test_enhance_pads_for_the_net_and_returns_the_input_size():
    net = UNet()
    x = torch.rand(1, 3, 37, 53)
    out = enhance(net, x)
    assert out.shape == x.shape
    padded, hw = pad_to_multiple(x, 8)
    assert torch.allclose(out, crop_to(net(padded), hw), atol=1e-6)
    assert not out.requires_grad


def test_tiled_equals_untiled_for_a_receptive_field_within_a_quarter_of_the_overlap(image):
    net = ConvStack(layers=8)
    untiled = enhance(net, image)
    tiled = enhance(net, image, tile_size=64, tile_overlap=32)
    assert tiled.shape == image.shape
    assert torch.allclose(tiled, untiled, atol=1e-6)


def test_tiled_equals_untiled_for_a_pointwise_baseline(image):
    net = Gamma(2.2)
    assert torch.allclose(enhance(net, image, tile_size=64, tile_overlap=16), net(image), atol=1e-6)


def test_tiles_respect_the_size_multiple_of_the_net():
    net = BlockNet()
    x = torch.rand(1, 3, 150, 170)
    untiled = enhance(net, x)
    net.calls.clear()
    tiled = enhance(net, x, tile_size=62, tile_overlap=16)
    assert len(net.calls) > 4
    assert all(h <= 64 and w <= 64 for h, w in net.calls)
    assert torch.allclose(tiled, untiled, atol=1e-6)


def test_tiled_differs_when_the_receptive_field_exceeds_the_overlap(image):
    net = WideKernel()
    untiled = enhance(net, image)
    tiled = enhance(net, image, tile_size=64, tile_overlap=16)
    assert tiled.shape == untiled.shape
    assert (tiled - untiled).abs().max() > 1e-3


def test_tile_larger_than_the_image_is_the_untiled_path():
    net = ConvStack(layers=3)
    x = torch.rand(1, 3, 37, 53)
    assert torch.equal(enhance(net, x, tile_size=64, tile_overlap=32), enhance(net, x))


def test_tiling_keeps_the_net_output_channels():
    net = nn.Conv2d(3, 1, 3, padding=1)
    x = torch.rand(2, 3, 90, 70)
    out = enhance(net, x, tile_size=32, tile_overlap=8)
    assert out.shape == (2, 1, 90, 70)
    assert torch.allclose(out, net(x), atol=1e-6)


@pytest.mark.parametrize(("tile_size", "tile_overlap"), [(0, 0), (32, 32), (32, -1)])
def test_enhance_rejects_bad_tiling(tile_size, tile_overlap):
    with pytest.raises(ValueError, match="tile"):
        enhance(Gamma(), torch.rand(1, 3, 8, 8), tile_size=tile_size, tile_overlap=tile_overlap)
