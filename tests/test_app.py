"""`exposure-lab app`: the handlers behind the page (models, options, one run, the server's answers)."""

import io
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
from PIL import Image
from tests.helpers import compose_config, read_json, run_cli, smooth_image
from tests.test_zero_dce import net_of, official_keys

from exposure_lab.checkpoints import build_task, compose_model_config, load_task, write_checkpoint
from exposure_lab.checkpoints.official import import_official
from exposure_lab.data.io import decode_image, write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import InferenceOptions
from exposure_lab.prediction.app import DemoModel, Options, load_assessor, run, write_output
from exposure_lab.prediction.app_server import DemoApp, demo_app, make_server
from exposure_lab.prediction.exposure_maps import exposure_statistics, heatmap

TINY_ASSESSOR = [
    "model.net.channels=8",
    "model.net.structure_layers=1",
    "model.net.lightness_blocks=1",
    "model.net.heads=2",
    "model.net.attention_grid=4",
    "model.input_size=32",
]


def save_checkpoint(
    path: Path, name: str, overrides: tuple[str, ...] = (), global_step: int | None = 1
) -> Path:
    """A checkpoint of `conf/model/<name>.yaml` with its initial (seeded random) weights, carrying Lightning's
    `global_step` as a training run's checkpoint does (None: no such key, as a file never trained)."""
    torch.manual_seed(0)
    cfg = compose_model_config(name, list(overrides))
    stored = {"model": OmegaConf.to_container(cfg, resolve=True), "model_name": name}
    path = write_checkpoint(build_task(cfg), stored, path)
    if global_step is not None:
        torch.save({**torch.load(path, weights_only=True), "global_step": global_step}, path)
    return path


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


def test_lmspec_controls_start_at_the_checkpoints_setting(tmp_path):
    stored = ("model.pyramid_scales=[2.0,1.0,1.0,1.5]", "model.pp=true")
    model = DemoModel(str(save_checkpoint(tmp_path / "lmspec_s.ckpt", "lmspec_tiny", stored)))
    defaults = model.describe()["defaults"]
    assert defaults == {
        "pyramid_scales": [2.0, 1.0, 1.0, 1.5],
        "fusion": False,
        "pp": True,
        "protocol": "full",
    }
    assert model.overrides(Options(pyramid_scales=(2.0, 1.0, 1.0, 1.5), pp=True)) == {}
    assert model.overrides(Options(pyramid_scales=(1.0, 1.0, 1.0, 1.0))) == {"pyramid_scales": [1.0] * 4}


@pytest.mark.parametrize(
    "inference, tiles, words",
    [
        (InferenceOptions(), (1024, 32), []),
        (InferenceOptions(precision="bf16"), (1024, 32), ["precision=bf16"]),
        (InferenceOptions(channels_last=False), (1024, 32), ["channels_last=false"]),
        # predict tiles this image from integer buffers (`enhance_array`), the app through the float path
        (InferenceOptions(), (32, 8), ["tile_size=32", "tile_overlap=8"]),
    ],
)
def test_the_printed_predict_command_writes_the_same_image_as_the_download(
    checkpoints, image, tmp_path, inference, tiles, words
):
    model = DemoModel(str(checkpoints["curve"]))
    tile_size, tile_overlap = tiles
    result = run(
        model, image, Options(scale_factor=2), "cpu", tile_size, tile_overlap, None, 0.1, tmp_path, inference
    )
    command = shlex.split(result.command)
    assert command[:2] == ["exposure-lab", "predict"]
    options = ("precision=", "channels_last=", "tile_size=", "tile_overlap=")
    assert [w for w in command if w.startswith(options)] == words
    run_cli("predict", *command[2:])
    downloaded = write_output(result, tmp_path / "download" / "scene.png")
    assert np.array_equal(decode_image(tmp_path / "scene.png"), decode_image(downloaded))


def test_bf16_changes_the_output_and_channels_last_does_not(checkpoints, image):
    model = DemoModel(str(checkpoints["lmspec"]))
    options = Options(pyramid_scales=(2.0, 1.0, 0.75, 1.0), fusion=True)
    weight = next(
        p for p in model.task(model.overrides(options)).net.parameters() if p.shape[1:] == (3, 3, 3)
    )
    exact = run(model, image, options)
    assert "precision=" not in exact.command and "channels_last=" not in exact.command
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    bf16 = run(model, image, options, inference=InferenceOptions(precision="bf16"))
    assert bf16.output.dtype == torch.float32 and differs(bf16.output, exact.output)
    nchw = run(model, image, options, inference=InferenceOptions(channels_last=False))
    assert weight.is_contiguous() and torch.allclose(nchw.output, exact.output, atol=1e-5)


def test_a_curve_model_shows_its_curve_map_and_takes_a_scale_factor(checkpoints, image):
    model = DemoModel(str(checkpoints["curve"]))
    assert model.kind == "curve" and model.defaults == {"scale_factor": 1}
    plain = run(model, image, Options())
    assert plain.curve_map is not None and plain.curve_map.shape == (1, 45, 61)
    assert plain.curve_map.abs().max() <= 1.0
    coarse = run(model, image, Options(scale_factor=4))
    assert differs(coarse.output, plain.output) and coarse.overrides == {"net": {"scale_factor": 4}}
    assert coarse.command.endswith("+model.net.scale_factor=4")


@pytest.mark.parametrize("bias, brighter, colour", [(-0.5, True, "blue"), (0.5, False, "red")])
def test_the_curve_map_is_blue_where_the_curves_brighten_and_red_where_they_darken(
    image, tmp_path, bias, brighter, colour
):
    task, stored = load_task(save_checkpoint(tmp_path / "curve.ckpt", "zero_dce_pp"))
    with torch.no_grad():  # a constant curve A = tanh(bias) everywhere
        task.net.convs[-1].pointwise.weight.zero_()
        task.net.convs[-1].pointwise.bias.fill_(bias)
    path = write_checkpoint(task, stored, tmp_path / "constant.ckpt")
    torch.save({**torch.load(path, weights_only=True), "global_step": 1}, path)
    result = run(DemoModel(str(path)), image, Options())
    inside = ((result.input > 0) & (result.input < 1)).all(0)  # 0 and 1 are fixed points of every curve
    assert inside.float().mean() > 0.5
    assert bool(((result.output > result.input) == brighter).all(0)[inside].all())
    red, _, blue = np.moveaxis(heatmap(result.curve_map).astype(int), -1, 0)
    assert bool(((blue > red) if colour == "blue" else (red > blue)).all())


def test_the_assessor_maps_and_scores_input_and_output(checkpoints, image):
    assessor = load_assessor(checkpoints["assessor"])
    result = run(DemoModel("gamma"), image, Options(), assessor=assessor)
    assert set(result.residuals) == set(result.scores) == {"input", "output"}
    assert all(r.shape == (1, 45, 61) and r.abs().max() <= 1 for r in result.residuals.values())
    assert differs(result.residuals["input"], result.residuals["output"])
    assert result.scores["input"]["score"] == pytest.approx(10 * (1 - result.residuals["input"].abs().mean()))
    assert set(result.extra_seconds) == {"assessor"} and result.extra_seconds["assessor"] > 0
    strict = run(DemoModel("gamma"), image, Options(), assessor=assessor, threshold=0.01)
    assert strict.scores["input"] == exposure_statistics(strict.residuals["input"], 0.01)
    assert strict.scores["input"] != result.scores["input"]  # `threshold=` reaches the statistics


def test_untrained_nets_and_assessors_are_not_offered_as_models(checkpoints):
    assert DemoModel("clahe").kind == "image"
    with pytest.raises(ExposureLabError, match="unet: a net with no trained weights is not offered"):
        DemoModel("unet")
    with pytest.raises(ExposureLabError, match="assessor_ckpt="):
        DemoModel(str(checkpoints["assessor"]))
    with pytest.raises(ExposureLabError, match="not an exposure assessor"):
        load_assessor(checkpoints["curve"])


def test_only_checkpoints_of_a_training_run_or_an_import_are_offered(paired_overrides, tmp_path):
    net = ("model.net.base_channels=8", "model.net.depth=2")
    run_cli("train", *paired_overrides, *net, "debug=fdr", f"hydra.run.dir={tmp_path / 'run'}")
    trained = DemoModel(read_json(tmp_path / "run" / "result.json")["best_checkpoint"])
    assert trained.kind == "image" and trained.label.startswith("unet (")
    for global_step in (None, 0):  # initial weights as written, and a checkpoint saved before any step
        untrained = save_checkpoint(tmp_path / f"init_{global_step}.ckpt", "unet", net, global_step)
        with pytest.raises(ExposureLabError, match="weights from no training step and no import"):
            DemoModel(str(untrained))
    torch.save(official_keys(net_of("zero_dce_pp")), tmp_path / "release.pth")  # a .pth as released
    imported = import_official("zero_dce_pp", tmp_path / "release.pth", tmp_path / "imported.ckpt")
    assert DemoModel(str(imported)).kind == "curve"


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


def test_samples_are_loaded_by_number_and_the_page_shows_images_reduced_to_preview_side(
    checkpoints, image, tmp_path
):
    model = DemoModel(str(checkpoints["curve"]))
    app = DemoApp([model], [("scene.png", image)], tmp_path / "work", preview_side=32)
    entry = app.add_sample("0")
    assert (entry["width"], entry["height"]) == (61, 45)
    with pytest.raises(ExposureLabError, match="no sample image number 1 \\(there are 1\\)"):
        app.add_sample("1")
    answer = app.run(entry["image"], 0, {})
    for address in (entry["preview"], answer["output"], answer["curve_map"]):
        shown = Image.open(io.BytesIO(app.blobs[address.removeprefix("/api/blob/")][0]))
        assert shown.size == (32, 24)
    written, _ = app.download(answer["result"])
    assert (answer["width"], answer["height"]) == (61, 45) and decode_image(written).shape == (45, 61, 3)


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
    assert capfd.readouterr().err.strip().startswith("error: unet: a net with no trained weights")


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
        f"samples=[{image.parent},{tmp_path / 'more'}]",
    ]
    nested = write_image(tmp_path / "more" / "day" / "one.jpg", torch.full((3, 8, 8), 0.5))
    app = demo_app(compose_config("app", overrides, tmp_path / "run"), ["gamma"])
    labels = app.config()["samples"]
    assert labels[-2:] == [f"{image.parent.name}/scene.png", "more/day/one.jpg"]
    assert len(labels) == 12 and all(label.startswith("INPUT_IMAGES/") for label in labels[:-2])
    assert app.add_sample("11")["name"] == nested.name
    assert app.inference == InferenceOptions() and app.config()["inference"] == "fp32, channels-last"


def test_precision_and_channels_last_are_predicts_options(tmp_path):
    overrides = ["synthetic_samples=false", "precision=bf16", "channels_last=false"]
    app = demo_app(compose_config("app", overrides, tmp_path / "run"), ["gamma"])
    assert app.inference == InferenceOptions(precision="bf16", channels_last=False)
    assert app.config()["inference"] == "bf16 autocast (not exact)"
    fp16 = compose_config("app", ["synthetic_samples=false", "precision=fp16"], tmp_path / "fp16")
    with pytest.raises(ExposureLabError, match="precision must be one of"):
        demo_app(fp16, ["gamma"])
    overlap = compose_config("app", ["synthetic_samples=false", "tile_overlap=1024"], tmp_path / "tiles")
    with pytest.raises(ExposureLabError, match="tile_overlap=1024 must be smaller than tile_size=1024"):
        demo_app(overlap, ["gamma"])
