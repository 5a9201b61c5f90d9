"""The synthetic exposure set: rendering model, photo-disjoint split, determinism, manifest, data module."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image
from tests.helpers import compose_data

from exposure_lab.data.io import list_images
from exposure_lab.data.pairing import pair_by_stem, split_ev_suffix
from exposure_lab.data.synthetic import (
    MANIFEST,
    SyntheticExposureDataModule,
    SynthOptions,
    available_photos,
    camera_response,
    render_from_config,
    render_synthetic_set,
    synthetic_set_complete,
)
from exposure_lab.data.synthetic_layouts import expert_rendition
from exposure_lab.errors import DataLayoutError

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "photos": ["astronaut", "coffee", "chelsea"],
    "scenes_per_photo": 2,
    "scene_size": 32,
    "split": {"validation": ["coffee"], "testing": ["chelsea"]},
}
SUFFIXES = ["N1.5", "N1", "0", "P1", "P1.5"]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_synthetic_set(tmp_path_factory.mktemp("synthetic") / "set", progress=False, **TINY)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_afifi_layout_and_names(tiny_set):
    for split, photo in (("training", "astronaut"), ("validation", "coffee"), ("testing", "chelsea")):
        targets = list_images(tiny_set / split / "GT_IMAGES")
        inputs = list_images(tiny_set / split / "INPUT_IMAGES")
        assert [p.name for p in targets] == [f"{photo}_00.png", f"{photo}_01.png"]
        assert sorted(p.name for p in inputs) == sorted(
            f"{photo}_{k:02d}_{suffix}.png" for k in range(2) for suffix in SUFFIXES
        )
        assert len(pair_by_stem(inputs, targets)) == 10
        assert pixels(inputs[0]).shape == pixels(targets[0]).shape == (32, 32, 3)


def test_brightness_rises_with_ev_for_every_scene(tiny_set):
    manifest = json.loads((tiny_set / MANIFEST).read_text())
    assert len(manifest["scenes"]) == 6
    for scene in manifest["scenes"].values():
        evs = [split_ev_suffix(Path(f).stem)[1] for f in scene["inputs"]]
        assert evs == [-1.5, -1.0, 0.0, 1.0, 1.5]
        means = [pixels(tiny_set / f).mean() for f in scene["inputs"]]
        assert all(a < b for a, b in itertools.pairwise(means)), (scene, means)


def test_highlights_clip_at_plus_1_5_ev_and_0_ev_is_not_the_ground_truth(tiny_set):
    manifest = json.loads((tiny_set / MANIFEST).read_text())
    for scene in manifest["scenes"].values():
        target = pixels(tiny_set / scene["target"])
        brightest = pixels(tiny_set / scene["inputs"][-1])
        assert (brightest == 255).mean() > max(0.01, (target == 255).mean())
        assert not np.array_equal(pixels(tiny_set / scene["inputs"][2]), target)


def test_camera_response_is_monotone_and_fixes_the_ends():
    x = np.linspace(0, 1, 1001)
    for gamma, contrast in ((1.8, 0.0), (2.6, 0.5), (2.2, 1.0)):
        y = camera_response(x, gamma, contrast)
        assert y[0] == 0 and y[-1] == pytest.approx(1) and np.all(np.diff(y) >= 0)


def test_split_is_disjoint_by_photo(tiny_set):
    manifest = json.loads((tiny_set / MANIFEST).read_text())
    photos_by_split: dict[str, set[str]] = {}
    for scene in manifest["scenes"].values():
        photos_by_split.setdefault(scene["split"], set()).add(scene["photo"])
    assert photos_by_split == {"training": {"astronaut"}, "validation": {"coffee"}, "testing": {"chelsea"}}


def test_manifest_describes_the_set(tiny_set):
    manifest = json.loads((tiny_set / MANIFEST).read_text())
    assert manifest["complete"] and synthetic_set_complete(tiny_set)
    assert manifest["options"] == asdict(SynthOptions.from_mapping(TINY))
    assert manifest["photos"]["astronaut"]["source"] == "skimage.data.astronaut()"
    assert {"numpy", "pillow", "scikit-image", "python"} <= set(manifest["software"])
    scene = manifest["scenes"]["coffee_01"]
    assert scene["split"] == "validation" and set(scene["response"]) == {"gamma", "contrast"}
    assert 1.8 <= scene["response"]["gamma"] <= 2.6 and 0 <= scene["response"]["contrast"] <= 0.5
    listed = {scene["target"] for scene in manifest["scenes"].values()}
    listed |= {f for scene in manifest["scenes"].values() for f in scene["inputs"]}
    on_disk = {str(p.relative_to(tiny_set)) for p in tiny_set.rglob("*.png")}
    assert listed == on_disk
    assert (
        "| coffee | skimage.data.coffee() | 400×600 | validation |" in (tiny_set / "MANIFEST.md").read_text()
    )


def test_rendering_is_deterministic(tiny_set, tmp_path):
    again = render_synthetic_set(tmp_path / "again", progress=False, **TINY)
    assert all_files(again) == all_files(tiny_set)


def test_rerender_with_same_options_is_a_noop_and_resumes_missing_files(tiny_set):
    before = {p: p.stat().st_mtime_ns for p in tiny_set.rglob("*") if p.is_file()}
    render_synthetic_set(tiny_set, progress=False, **TINY)
    assert {p: p.stat().st_mtime_ns for p in tiny_set.rglob("*") if p.is_file()} == before
    victim = tiny_set / "testing" / "INPUT_IMAGES" / "chelsea_01_P1.png"
    content = victim.read_bytes()
    victim.unlink()
    assert not synthetic_set_complete(tiny_set)
    render_synthetic_set(tiny_set, progress=False, **TINY)
    assert victim.read_bytes() == content


def test_other_options_never_overwrite(tiny_set, tmp_path):
    with pytest.raises(DataLayoutError, match=r"other options \(seed: 0 → 1\); choose another folder"):
        render_synthetic_set(tiny_set, progress=False, **{**TINY, "seed": 1})
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(DataLayoutError, match="found other files"):
        render_synthetic_set(tmp_path, progress=False, **TINY)
    assert (tmp_path / "mine.txt").read_text() == "precious"


def test_split_by_fractions_is_seeded_and_disjoint(tmp_path):
    options = {
        "photos": ["astronaut", "coffee", "chelsea", "rocket"],
        "scenes_per_photo": 1,
        "scene_size": 16,
        "split": {"validation": 0.25, "testing": 0.25},
    }
    manifests = []
    for name in ("a", "b"):
        render_synthetic_set(tmp_path / name, progress=False, **options)
        manifests.append(json.loads((tmp_path / name / MANIFEST).read_text()))
    splits = {photo: info["split"] for photo, info in manifests[0]["photos"].items()}
    assert sorted(splits.values()) == ["testing", "training", "training", "validation"]
    assert manifests[0] == manifests[1]


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"photos": ["astronaut", "nope"]}, r"photo\(s\) \['nope'\] not available"),
        ({"evs": [-2.0]}, r"evs must be taken from"),
        (
            {
                "split": {"validation": ["astronaut"], "testing": ["astronaut"]},
                "photos": ["astronaut", "coffee"],
            },
            "is in split.validation and split.testing",
        ),
        (
            {"photos": ["coffee"], "split": {"validation": ["coffee"], "testing": []}},
            "no photo left for training",
        ),
        ({"scene_sise": 32}, "unknown option 'scene_sise'"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, options, pattern):
    with pytest.raises(DataLayoutError, match=pattern):
        render_synthetic_set(tmp_path / "out", progress=False, **options)
    assert not (tmp_path / "out").exists()


def test_default_photos_load_offline():
    names = available_photos()
    assert {"astronaut", "coffee", "chelsea", "rocket", "motorcycle", "grace_hopper"} <= set(names)
    assert set(SynthOptions().split["testing"]) | set(SynthOptions().split["validation"]) <= set(names)


def test_synth_config_matches_the_defaults_and_runs(tmp_path):
    assert OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "render" / "default.yaml")) == asdict(
        SynthOptions()
    )
    cfg = OmegaConf.load(REPO / "conf" / "synth.yaml")
    command = OmegaConf.to_container(cfg)
    assert command.pop("defaults")[0] == {"render@_here_": "default"}
    assert command == {
        "task_name": "synth",
        "out": "${paths.data_dir}/synthetic",
        "layout": "synthetic",
        "source": "${paths.data_dir}/synthetic",
    }
    cfg.merge_with(OmegaConf.load(REPO / "conf" / "render" / "default.yaml"))
    cfg.out, cfg.source = str(tmp_path / "cli"), str(tmp_path / "unused")
    cfg.merge_with(OmegaConf.create(TINY))
    out, summary = render_from_config(cfg)
    assert synthetic_set_complete(out)
    assert "training 2 scenes, validation 2 scenes, testing 2 scenes" in summary


def test_datamodule_renders_when_missing_and_batches_carry_ev(tmp_path):
    module = SyntheticExposureDataModule(
        root=tmp_path / "synthetic", render=TINY, patch_size=16, batch_size=4, num_workers=0
    )
    module.prepare_data()
    assert synthetic_set_complete(tmp_path / "synthetic")
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == (4, 3, 16, 16) and batch["target"].shape == (4, 3, 16, 16)
    assert set(batch["subset"]) <= {"under", "over"}
    assert all(
        (ev < 0) == (subset == "under")
        for ev, subset in zip(batch["ev"].tolist(), batch["subset"], strict=True)
    )
    val = next(iter(module.val_dataloader()))
    assert val["input"].shape == (1, 3, 32, 32) and val["name"][0].startswith("coffee_")
    module.setup("test")
    assert {Path(n).stem.rsplit("_", 1)[0] for n in (b["name"][0] for b in module.test_dataloader())} == {
        "chelsea_00",
        "chelsea_01",
    }
    assert module.name == "synthetic" and torch.is_tensor(val["ev"])


def test_synthetic_config_instantiates(tmp_path):
    cfg = compose_data("synthetic", [f"data.root={tmp_path / 'synthetic'}"], tmp_path).data
    assert OmegaConf.to_container(cfg.render) == asdict(SynthOptions())
    module = instantiate(cfg)
    assert isinstance(module, SyntheticExposureDataModule) and module.hparams.cache_images
    assert module.render_options == asdict(SynthOptions())
    torch.save(dict(module.hparams_initial), tmp_path / "hparams.ckpt")
    assert torch.load(tmp_path / "hparams.ckpt", weights_only=True)["input_dir"].endswith("INPUT_IMAGES")


@pytest.mark.parametrize(
    ("layout", "data", "first_test_name"),
    [
        ("afifi", [], "a0003-chelsea_00_0.JPG"),
        ("endo4ie", [], "Overexposed/chelsea_00.jpg"),
        ("endo4ie_exp_gt", [], "chelsea_00.jpg"),
        ("lol", [], "3.png"),
        ("lol_v2_real", ["data.variant=v2_real"], "low00003.png"),
        ("lol_v2_synthetic", ["data.variant=v2_synthetic"], "3.png"),
        ("lol_flat", ["data.variant=flat", "data.val_count=1"], "3.png"),
    ],
)
def test_synthetic_set_in_each_real_layout(layout, data, first_test_name, tmp_path):
    cfg = OmegaConf.load(REPO / "conf" / "synth.yaml")
    cfg.merge_with(OmegaConf.load(REPO / "conf" / "render" / "default.yaml"), OmegaConf.create(TINY))
    cfg.out, cfg.source, cfg.layout = str(tmp_path / layout), str(tmp_path / "standard"), layout
    out, summary = render_from_config(cfg)
    assert f"in the {layout} layout: {out}" in summary
    overrides = [f"data.root={out}", "data.num_workers=0", *data]
    module = instantiate(compose_data(layout.split("_")[0], overrides, tmp_path).data)
    module.setup("fit")
    module.setup("test")
    test = module.split_samples("test")
    assert test[0].name == first_test_name and len(module.split_samples("train")) > 0
    item = module.make_dataset(test, training=False)[0]
    assert item["input"].shape == item["target"].shape == (3, 32, 32)
    if layout == "afifi":
        assert sorted(item["experts"]) == list("abcde") and torch.equal(item["experts"]["c"], item["target"])
        assert not torch.equal(item["experts"]["a"], item["target"])
    assert render_from_config(cfg)[0] == out  # a second run finds the arrangement complete


def test_expert_renditions_keep_c_and_differ_for_the_others():
    image = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert np.array_equal(expert_rendition(image, "c"), image)
    others = {x: expert_rendition(image, x) for x in "abde"}
    assert all(out.dtype == np.uint8 and out.shape == image.shape for out in others.values())
    assert len({out.tobytes() for out in others.values()}) == 4
