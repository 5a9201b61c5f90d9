"""`exposure-lab app`: the handlers behind the page (models, options, one run, the server's answers)."""

import json
import shlex
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from tests.helpers import compose_config, run_cli, smooth_image

from exposure_lab.checkpoints import build_task, compose_model_config, write_checkpoint
from exposure_lab.data.io import decode_image, write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.prediction.app import DemoModel, Options, load_assessor, run, write_output
from exposure_lab.prediction.app_server import DemoApp, demo_app, make_server

TINY_ASSESSOR = [
    "model.net.channels=8",
    "model.net.structure_layers=1",
    "model.net.lightness_blocks=1",
    "model.net.heads=2",
    "model.net.attention_grid=4",
    "model.input_size=32",
]


def save_checkpoint(path: Path, name: str, overrides: tuple[str, ...] = ()) -> Path:
    """A checkpoint of `conf/model/<name>.yaml` with its initial (seeded random) weights."""
    torch.manual_seed(0)
    cfg = compose_model_config(name, list(overrides))
    stored = {"model": OmegaConf.to_container(cfg, resolve=True), "model_name": name}
    return write_checkpoint(build_task(cfg), stored, path)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("app_checkpoints")
    return {
        "lmspec": save_checkpoint(root / "lmspec_tiny.ckpt", "lmspec_tiny"),
        "curve": save_checkpoint(root / "zero_dce_pp.ckpt", "zero_dce_pp"),
        "assessor": save_checkpoint(root / "assessor.ckpt", "p_ieanet", tuple(TINY_ASSESSOR)),
    }


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    picture = smooth_image(torch.Generator().manual_seed(3), 45, 61) * 0.6
    return write_image(tmp_path_factory.mktemp("app_image") / "scene.png", picture)


def differs(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and float((a - b).abs().max()) > 1e-3


def test_lmspec_pyramid_scales_fusion_and_pp_each_change_the_output(checkpoints, image):
    model = DemoModel(str(checkpoints["lmspec"]))
    assert model.kind == "lmspec" and model.describe()["limits"]["pyramid_scales"][3] == (0.5, 2.5)
    plain = run(model, image, Options())
    assert plain.output.shape == (3, 45, 61) and plain.overrides == {}
    for options in (
        Options(pyramid_scales=(2.0, 2.0, 1.0, 1.0)),
        Options(fusion=True),
        Options(pp=True),
        Options(protocol="resize"),
    ):
        changed = run(model, image, options)
        assert differs(changed.output, plain.output), options
    scaled = run(model, image, Options(pyramid_scales=(1.5, 1.5, 1.5, 1.05), pp=True))
    assert scaled.overrides == {"pyramid_scales": [1.5, 1.5, 1.5, 1.05], "pp": True}
    assert "'+model.pyramid_scales=[1.5,1.5,1.5,1.05]' +model.pp=true" in scaled.command


def test_the_printed_predict_command_writes_the_same_image_as_the_download(checkpoints, image, tmp_path):
    model = DemoModel(str(checkpoints["lmspec"]))
    result = run(
        model, image, Options(pyramid_scales=(2.0, 1.0, 0.75, 1.0), fusion=True), output_dir=tmp_path
    )
    words = shlex.split(result.command)
    assert words[:2] == ["exposure-lab", "predict"]
    run_cli("predict", *words[2:])
    downloaded = write_output(result, tmp_path / "download" / "scene.png")
    assert np.array_equal(decode_image(tmp_path / "scene.png"), decode_image(downloaded))


def test_a_curve_model_shows_its_curve_map_and_takes_a_scale_factor(checkpoints, image):
    model = DemoModel(str(checkpoints["curve"]))
    assert model.kind == "curve" and model.defaults == {"scale_factor": 1}
    plain = run(model, image, Options())
    assert plain.curve_map is not None and plain.curve_map.shape == (1, 45, 61)
    assert plain.curve_map.abs().max() <= 1.0
    coarse = run(model, image, Options(scale_factor=4))
    assert differs(coarse.output, plain.output) and coarse.overrides == {"net": {"scale_factor": 4}}
    assert coarse.command.endswith("+model.net.scale_factor=4")


def test_the_assessor_maps_and_scores_input_and_output(checkpoints, image):
    assessor = load_assessor(checkpoints["assessor"])
    result = run(DemoModel("gamma"), image, Options(), assessor=assessor)
    assert set(result.residuals) == set(result.scores) == {"input", "output"}
    assert all(r.shape == (1, 45, 61) and r.abs().max() <= 1 for r in result.residuals.values())
    assert differs(result.residuals["input"], result.residuals["output"])
    assert result.scores["input"]["score"] == pytest.approx(10 * (1 - result.residuals["input"].abs().mean()))
    assert set(result.extra_seconds) == {"assessor"} and result.extra_seconds["assessor"] > 0


def test_untrained_nets_and_assessors_are_not_offered_as_models(checkpoints):
    assert DemoModel("clahe").kind == "image"
    with pytest.raises(ExposureLabError, match="unet: a net without trained weights"):
        DemoModel("unet")
    with pytest.raises(ExposureLabError, match="assessor_ckpt="):
        DemoModel(str(checkpoints["assessor"]))
    with pytest.raises(ExposureLabError, match="not an exposure assessor"):
        load_assessor(checkpoints["curve"])


def test_options_outside_the_release_limits_are_refused(checkpoints, image):
    model = DemoModel(str(checkpoints["lmspec"]))
    with pytest.raises(ExposureLabError, match=r"S4=3.0 is outside \[0.5, 2.5\]"):
        run(model, image, Options(pyramid_scales=(1, 1, 1, 3)))
    with pytest.raises(ExposureLabError, match="protocol must be one of"):
        run(model, image, Options(protocol="tiles"))
    with pytest.raises(ExposureLabError, match="unknown option"):
        Options.from_json({"gamma": 2})


@pytest.fixture
def server(checkpoints, tmp_path) -> Iterator[str]:
    app = DemoApp([DemoModel(str(checkpoints["lmspec"]))], [], tmp_path / "work")
    httpd = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def post(url: str, body: bytes | dict) -> tuple[int, dict]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST")) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    "name, content", [("broken.png", b"\x89PNG\r\n\x1a\nnot really"), ("notes.txt", b"hi")]
)
def test_bad_uploads_get_the_clis_error_line_and_the_server_keeps_serving(
    server, image, name, content, tmp_path, capfd
):
    status, answer = post(f"{server}/api/images?name={name}", content)
    saved = next((tmp_path / "work" / "uploads").rglob(name))
    with pytest.raises(SystemExit) as exit_info:
        run_cli("predict", "model=identity", f"input={saved}", f"output={tmp_path / 'out'}")
    cli_line = capfd.readouterr().err.strip().splitlines()[-1]
    assert exit_info.value.code == 2 and status == 400
    assert answer["error"] == cli_line and cli_line.startswith(f"error: {saved}: ")
    status, loaded = post(f"{server}/api/images?name=scene.png", image.read_bytes())
    assert status == 200 and (loaded["width"], loaded["height"]) == (61, 45)
    status, result = post(
        f"{server}/api/run", {"image": loaded["image"], "model": 0, "options": {"pp": True}}
    )
    assert status == 200 and (result["width"], result["height"]) == (61, 45)
    with urllib.request.urlopen(server + result["download"]) as response:
        (tmp_path / "download.png").write_bytes(response.read())
    assert decode_image(tmp_path / "download.png").shape == (45, 61, 3)


def test_the_app_command_prints_its_url_and_serves_the_page(checkpoints, tmp_path):
    command = [
        str(Path(sys.executable).with_name("exposure-lab")),
        "app",
        f"ckpt_path={checkpoints['lmspec']}",
        "models=[gamma]",
        "port=0",
        "synthetic_samples=false",
    ]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        assert line.startswith("serving 2 model(s) on http://127.0.0.1:")
        with urllib.request.urlopen(url) as response:
            assert b"<title>exposure-lab app</title>" in response.read()
        with urllib.request.urlopen(url + "api/config") as response:
            labels = [model["label"] for model in json.loads(response.read())["models"]]
        assert labels == ["lmspec_tiny (lmspec_tiny.ckpt)", "gamma"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_app_command_refuses_an_untrained_net(capfd):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("app", "model=unet", "synthetic_samples=false")
    assert exit_info.value.code == 2
    assert capfd.readouterr().err.strip().startswith("error: unet: a net without trained weights")


def test_a_sixteen_bit_input_downloads_as_sixteen_bits_like_predict(tmp_path):
    source = write_image(
        tmp_path / "deep.png", smooth_image(torch.Generator().manual_seed(4), 20, 30), bits=16
    )
    result = run(DemoModel("gamma"), source, Options())
    downloaded = decode_image(write_output(result, tmp_path / "download" / "deep.png"))
    assert result.bits == 16 and downloaded.dtype == np.uint16 and downloaded.shape == (20, 30, 3)


def test_the_synthetic_test_scenes_and_a_samples_folder_are_offered(image, tmp_path):
    overrides = [
        f"paths.data_dir={tmp_path / 'data'}",
        "render.scenes_per_photo=1",
        "render.scene_size=32",
        "render.photos=[coffee,chelsea,rocket,astronaut]",
        f"samples={image.parent}",
    ]
    app = demo_app(compose_config("app", overrides, tmp_path / "run"), ["gamma"])
    labels = app.config()["samples"]
    assert labels[-1] == f"{image.parent.name}/scene.png"
    assert len(labels) == 11 and all(label.startswith("INPUT_IMAGES/") for label in labels[:-1])
