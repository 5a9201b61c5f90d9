"""PSNR/SSIM/MAE under the metric protocol: exact known values, scikit-image on real photos, configs."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from scipy.ndimage import correlate
from skimage import data, filters
from skimage.metrics import structural_similarity
from torchmetrics.image import PeakSignalNoiseRatio

from exposure_lab.errors import ExposureLabError
from exposure_lab.metrics import MetricProtocol, MetricSuite, higher_is_better

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
MATLAB_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
SKIMAGE_SSIM = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """(H,W,3) uint8 or [0,1] float arrays → (B,3,H,W) float32 in [0,1]."""
    arrays = [im.astype(np.float64) / 255.0 if im.dtype == np.uint8 else im for im in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()


def matlab_gray_uint8(image: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray of a uint8 RGB image (uint8 cast rounds half away from zero), as float64."""
    return np.floor(image.astype(np.float64) @ MATLAB_GRAY + 0.5)


def uint8_levels(shape: tuple[int, ...], high: int, seed: int = 0) -> torch.Tensor:
    """Random images on exact uint8 levels 0..high, as [0,1] floats."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, high + 1, shape, generator=generator).float() / 255.0


@pytest.mark.parametrize("k", [1, 2, 5, 17, 60])
@pytest.mark.parametrize(
    ("color_space", "y_range", "peak_over_step"),
    [("rgb", "studio", 255.0), ("y", "full", 255.0), ("y", "studio", 255.0 * 255.0 / 219.0)],
)
def test_psnr_of_constant_offset_is_exact(k, color_space, y_range, peak_over_step):
    target = uint8_levels((2, 3, 32, 48), 255 - k)
    suite = MetricSuite(["psnr"], {"color_space": color_space, "y_range": y_range})
    psnr = suite(target + k / 255.0, target)["psnr"]
    # An offset of k levels on every channel moves full-range Y by k and studio-range Y by k * 219 / 255.
    expected = 20.0 * math.log10(peak_over_step / k)
    assert psnr.shape == (2,)
    assert psnr.tolist() == pytest.approx([expected, expected], abs=1e-4)


def test_psnr_is_mean_of_per_image_values_not_global_mse():
    target = uint8_levels((2, 3, 32, 32), 200)
    pred = target + torch.tensor([1.0, 20.0]).view(2, 1, 1, 1) / 255.0
    per_image = MetricSuite(["psnr"])(pred, target)["psnr"]
    assert per_image.tolist() == pytest.approx(
        [20 * math.log10(255 / 1), 20 * math.log10(255 / 20)], abs=1e-4
    )

    global_mse = PeakSignalNoiseRatio(data_range=1.0)(pred, target).item()
    assert global_mse == pytest.approx(10 * math.log10(255**2 / ((1 + 400) / 2)), abs=1e-4)
    assert per_image.mean().item() - global_mse > 5.0


def test_mae_of_constant_offset():
    target = uint8_levels((2, 3, 32, 32), 240)
    mae = MetricSuite(["mae"])(target + 7 / 255.0, target)["mae"]
    assert mae.tolist() == pytest.approx([7 / 255.0] * 2, abs=1e-6)


def test_batch_gives_the_values_of_each_image_alone():
    target = uint8_levels((3, 3, 40, 40), 255, seed=1)
    pred = (target + 0.05 * torch.randn(target.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    suite = MetricSuite(["psnr", "ssim", "mae"])
    batch = suite(pred, target)
    for i in range(3):
        alone = suite(pred[i : i + 1], target[i : i + 1])
        for name in suite.names:
            assert batch[name][i].item() == pytest.approx(alone[name].item(), abs=1e-5)


@pytest.mark.parametrize("ssim_space", ["gray", "rgb"])
def test_ssim_of_identical_images_is_one(ssim_space):
    image = uint8_levels((2, 3, 33, 47), 255)
    ssim = MetricSuite(["ssim"], {"ssim_space": ssim_space})(image, image)["ssim"]
    assert ssim.tolist() == pytest.approx([1.0, 1.0], abs=1e-6)


def distortions(image: np.ndarray) -> list[np.ndarray]:
    """Noise (uint8), blur (uint8) and gamma (float, unrounded: the suite rounds it) of a uint8 RGB photo."""
    rng = np.random.default_rng(0)
    noise = np.clip(image + rng.normal(0.0, 12.0, image.shape), 0, 255).round().astype(np.uint8)
    blur = (filters.gaussian(image, sigma=2.0, channel_axis=-1) * 255).round().astype(np.uint8)
    gamma = (image / 255.0) ** 0.6
    return [noise, blur, gamma]


def as_uint8(image: np.ndarray) -> np.ndarray:
    return image if image.dtype == np.uint8 else np.round(image * 255.0).astype(np.uint8)


def matlab_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MATLAB's ssim.m (R2014a+) in float64 numpy/scipy: imfilter 'replicate' with fspecial('gaussian',
    11, 1.5), C1 = (0.01·255)², C2 = (0.03·255)², mean of the whole SSIM map."""
    axis = np.arange(11) - 5
    window = np.exp(-(axis[:, None] ** 2 + axis[None] ** 2) / (2 * 1.5**2))
    window /= window.sum()

    def local_mean(x: np.ndarray) -> np.ndarray:
        return correlate(x, window, mode="nearest")

    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a, var_b = local_mean(a * a) - mu_a**2, local_mean(b * b) - mu_b**2
    cov = local_mean(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim_map = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


@pytest.mark.parametrize("photo", ["astronaut", "coffee"])
def test_default_ssim_equals_scikit_image_valid_windows_on_matlab_gray_of_real_photos(photo):
    reference = getattr(data, photo)()
    distorted = distortions(reference)
    ours = MetricSuite(["ssim"])(to_tensor(distorted), to_tensor([reference] * len(distorted)))["ssim"]
    expected = [
        structural_similarity(matlab_gray_uint8(as_uint8(d)), matlab_gray_uint8(reference), **SKIMAGE_SSIM)
        for d in distorted
    ]
    assert max(abs(a - b) for a, b in zip(ours.tolist(), expected, strict=True)) < 1e-4
    assert min(expected) < 0.95


@pytest.mark.parametrize("photo", ["astronaut", "coffee"])
def test_ssim_matlab_equals_matlab_ssim_of_rgb2gray_on_real_photos(photo):
    reference = getattr(data, photo)()
    distorted = distortions(reference)
    suite = MetricSuite(["ssim"], {"ssim_border": "matlab"})
    ours = suite(to_tensor(distorted), to_tensor([reference] * len(distorted)))["ssim"]
    gray_reference = matlab_gray_uint8(reference)
    expected = [matlab_ssim(matlab_gray_uint8(as_uint8(d)), gray_reference) for d in distorted]
    assert max(abs(a - b) for a, b in zip(ours.tolist(), expected, strict=True)) < 1e-4
    default = MetricSuite(["ssim"])(to_tensor(distorted), to_tensor([reference] * len(distorted)))["ssim"]
    assert max(abs(a - b) for a, b in zip(default.tolist(), expected, strict=True)) > 1e-4  # borders matter


def test_rgb_ssim_equals_scikit_image_per_channel_mean():
    reference = data.coffee()[:160, :200]
    distorted = distortions(reference)
    ours = MetricSuite(["ssim"], {"ssim_space": "rgb"})(
        to_tensor(distorted), to_tensor([reference] * len(distorted))
    )["ssim"]
    expected = [
        structural_similarity(
            as_uint8(d).astype(np.float64), reference.astype(np.float64), channel_axis=-1, **SKIMAGE_SSIM
        )
        for d in distorted
    ]
    assert max(abs(a - b) for a, b in zip(ours.tolist(), expected, strict=True)) < 1e-4


def test_border_crop_ignores_the_border_and_equals_cropped_inputs():
    target = uint8_levels((2, 3, 48, 48), 255)
    pred = target.clone()
    pred[..., :4, :] = 1.0 - pred[..., :4, :]
    pred[..., 20:24, 20:24] = 0.0
    cropped = MetricSuite(["psnr", "ssim"], {"crop_border": 4})(pred, target)
    manual = MetricSuite(["psnr", "ssim"])(pred[..., 4:-4, 4:-4], target[..., 4:-4, 4:-4])
    uncropped = MetricSuite(["psnr", "ssim"])(pred, target)
    for name in ("psnr", "ssim"):
        assert torch.allclose(cropped[name], manual[name])
    assert (cropped["psnr"] > uncropped["psnr"] + 3.0).all()
    assert "border crop 4 px" in MetricProtocol(crop_border=4).describe()
    with pytest.raises(ExposureLabError, match="crop_border=24"):
        MetricSuite(["psnr"], {"crop_border": 24})(pred, target)


def test_gt_mean_scales_prediction_to_target_mean_gray_and_is_labelled():
    target = uint8_levels((2, 3, 32, 32), 120)
    pred = target * torch.tensor([0.5, 0.25]).view(2, 1, 1, 1)
    plain = MetricSuite(["psnr", "ssim"])(pred, target)
    adjusted = MetricSuite(["psnr", "ssim"], {"gt_mean": True})(pred, target)
    assert (plain["psnr"] < 20).all()
    assert torch.isinf(adjusted["psnr"]).all()
    assert adjusted["ssim"].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)

    with_highlight = pred.clone()
    with_highlight[..., 0, 0] = 1.0
    scaled = MetricProtocol(gt_mean=True, round_uint8=False).prepare(with_highlight, target)[0]
    assert scaled.max().item() == 255.0

    assert "GT-mean" in MetricSuite(["psnr"], {"gt_mean": True}).describe()
    assert "GT-mean" not in MetricSuite(["psnr"]).describe()


def test_round_uint8_off_scores_float_values():
    target = uint8_levels((1, 3, 32, 32), 200)
    pred = target + 0.3 / 255.0
    assert torch.isinf(MetricSuite(["psnr"])(pred, target)["psnr"]).all()
    unrounded = MetricSuite(["psnr"], {"round_uint8": False})(pred, target)["psnr"]
    assert unrounded.item() == pytest.approx(20 * math.log10(255 / 0.3), abs=1e-3)


def test_default_protocol_and_its_description():
    protocol = MetricProtocol()
    assert (protocol.color_space, protocol.crop_border, protocol.round_uint8, protocol.gt_mean) == (
        "rgb",
        0,
        True,
        False,
    )
    line = protocol.describe()
    assert "\n" not in line
    assert "PSNR on RGB" in line and "rgb2gray" in line and "uint8" in line
    assert "valid windows only (Wang et al. ssim_index.m)" in line
    assert "replicated borders, whole map (MATLAB ssim)" in MetricProtocol(ssim_border="matlab").describe()
    assert "studio range 16-235" in MetricProtocol(color_space="y").describe()


def test_bad_configuration_raises_one_line_errors():
    with pytest.raises(ExposureLabError, match="known: psnr, ssim, lpips, mae"):
        MetricSuite(["psnr", "fid"])
    with pytest.raises(ExposureLabError, match="color_space='lab'"):
        MetricSuite(["psnr"], {"color_space": "lab"})
    with pytest.raises(ExposureLabError, match="unknown option"):
        MetricSuite(["psnr"], {"colour_space": "y"})
    with pytest.raises(ExposureLabError, match="at least 11x11"):
        MetricSuite(["ssim"])(torch.zeros(1, 3, 10, 30), torch.zeros(1, 3, 10, 30))
    with pytest.raises(ExposureLabError, match="same shape"):
        MetricSuite(["psnr"])(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 17))


def test_higher_is_better():
    assert higher_is_better("psnr") and higher_is_better("ssim")
    assert not any(higher_is_better(n) for n in ("lpips", "mae", "params", "latency_ms_per_mp"))
    assert higher_is_better("test/afifi/under/psnr") and not higher_is_better("val/lpips")
    assert not any(higher_is_better(n) for n in ("niqe", "piqe", "loe"))
    with pytest.raises(ValueError, match="known metrics: psnr"):
        higher_is_better("brisque")
    with pytest.raises(ExposureLabError):
        higher_is_better("brisque")


def test_suite_holds_no_state_or_trainable_parameters():
    suite = MetricSuite(["psnr", "ssim", "mae"])
    assert list(suite.parameters()) == [] and suite.state_dict() == {}


@pytest.mark.parametrize("config", sorted(p.stem for p in (CONF_DIR / "metrics").glob("*.yaml")))
def test_metrics_configs_compose_and_instantiate(config):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=None, overrides=[f"+metrics={config}", "metrics.names=[psnr,ssim]"])
    suite = instantiate(cfg.metrics)
    assert isinstance(suite, MetricSuite) and suite.names == ["psnr", "ssim"]
    image = uint8_levels((1, 3, 24, 24), 255)
    assert suite(image, image)["ssim"].item() == pytest.approx(1.0, abs=1e-6)
    if config == "psnr_y":
        assert (suite.protocol.color_space, suite.protocol.y_range) == ("y", "studio")
    if config == "gt_mean":
        assert "GT-mean" in suite.describe()
    assert suite.protocol.ssim_border == ("matlab" if config == "ssim_matlab" else "valid")
