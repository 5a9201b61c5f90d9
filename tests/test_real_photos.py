"""Real low-light photos (../shared/data/dicm): decoding, predict over a folder, tiling a real image."""

import shutil

import pytest
import torch
from tests.helpers import SHARED

from exposure_lab.data.io import list_images, read_image
from exposure_lab.inference import enhance
from exposure_lab.models.baselines import Gamma

DICM = SHARED / "data" / "dicm"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DICM.is_dir(), reason=f"real images not present at {DICM}"),
]


def test_every_dicm_photo_decodes_to_rgb_in_range():
    photos = list_images(DICM)
    assert len(photos) == 64
    for path in photos:
        image = read_image(path)
        assert image.shape[0] == 3 and min(image.shape[1:]) >= 400
        assert image.min() >= 0 and image.max() <= 1


def test_predict_folder_of_real_photos_keeps_names_and_sizes(cli, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in list_images(DICM)[:4]:
        shutil.copy(path, photos / path.name)
    out = tmp_path / "enhanced"
    cli(
        "predict", "model=auto_gamma", f"input={photos}", f"output={out}", f"hydra.run.dir={tmp_path / 'run'}"
    )
    for path in list_images(photos):
        source, result = read_image(path), read_image(out / path.name)
        assert result.shape == source.shape
        assert result.mean() > source.mean()  # low-light photos come out brighter


def test_tiled_equals_untiled_on_a_real_photo_for_a_pointwise_net():
    largest = max(list_images(DICM), key=lambda p: read_image(p).numel())
    image = read_image(largest)[None]
    net = Gamma(2.2)
    assert torch.equal(enhance(net, image, tile_size=256, tile_overlap=32), enhance(net, image))
