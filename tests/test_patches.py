"""Offline patch extraction: folders, manifest, resume and CLI (LMSPEC / Endo-LMSPEC recipe)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from tests.helpers import SHARED, compose_config
from tests.test_patch_rules import ENDO, textured

from exposure_lab.data.io import decode_image, list_images, write_array
from exposure_lab.data.pairing import pair_by_stem, split_ev_suffix
from exposure_lab.data.patch_rules import PatchRules
from exposure_lab.data.patches import MANIFEST, PatchOptions, extract_patches, patch_dirs
from exposure_lab.data.samples import Sample
from exposure_lab.errors import DataLayoutError

MSEC = SHARED / "data" / "msec_scenes_5ev"
EVS = {"N1": 0.5, "0": 1.0, "P1": 1.6}  # input = GT × gain, clipped


@pytest.fixture(scope="module")
def afifi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Afifi-style `training|validation/{INPUT_IMAGES,GT_IMAGES}`: scenes at EV −1, 0, +1; one 40×40 scene and
    one mostly black in training."""
    root = tmp_path_factory.mktemp("afifi")
    generator = torch.Generator().manual_seed(0)
    scenes = {
        "training": {
            "a0001-x": (70, 90),
            "a0002-y": (70, 90),
            "a0003-dark": (70, 90),
            "a0004-small": (40, 40),
        },
        "validation": {"a0005-z": (66, 80)},
    }
    for split, sizes in scenes.items():
        for scene, (height, width) in sizes.items():
            target = textured(generator, height, width)
            if scene.endswith("dark"):
                target[:, : width * 5 // 6] = 0
            write_array(root / split / "GT_IMAGES" / f"{scene}.png", target)
            for suffix, gain in EVS.items():
                exposed = np.clip(target * gain, 0, 255).round().astype(np.uint8)
                write_array(root / split / "INPUT_IMAGES" / f"{scene}_{suffix}.png", exposed)
    return root


def afifi_samples(root: Path, folder: str, with_target: bool = True) -> list[Sample]:
    pairs = pair_by_stem(
        list_images(root / folder / "INPUT_IMAGES"), list_images(root / folder / "GT_IMAGES")
    )
    return [
        Sample(
            input=i,
            name=i.name,
            scene=t.stem,
            target=t if with_target else None,
            ev=split_ev_suffix(i.stem)[1],
        )
        for i, t in pairs
    ]


def patch_options(**changes) -> PatchOptions:
    config = {
        "sizes": [32, 48],
        "splits": ["train", "val"],
        "per_image": {"train": {"32": 4, "48": 3}, "val": {"32": 2, "48": 2}},
        "seed": 0,
        "patches": {"mode": "offline", "rule": "lmspec", "reference": "gt"},
    }
    return PatchOptions.from_config({**config, **changes})


def extract(root: Path, out: Path, options: PatchOptions | None = None, with_target: bool = True) -> dict:
    samples = {
        "train": afifi_samples(root, "training", with_target),
        "val": afifi_samples(root, "validation", with_target),
    }
    return extract_patches(samples, out, options or patch_options(), {"name": "tiny"}, progress=False)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def extracted(afifi_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("patches") / "tiny"
    return out, extract(afifi_root, out)


def test_same_window_is_cut_from_every_exposure_and_the_ground_truth(extracted):
    out, manifest = extracted
    checked = 0
    for split in ("train", "val"):
        for scene, record in manifest["splits"][split]["scenes"].items():
            sources = {Path(p): decode_image(p) for p in [record["target"], *record["inputs"]]}
            for size, patches in record["patches"].items():
                size = int(size)
                input_dir, gt_dir = patch_dirs(out, split, size)
                for k, (top, left) in enumerate(patches["corners"], start=1):
                    window = (slice(top, top + size), slice(left, left + size))
                    gt = decode_image(gt_dir / f"{scene}_{k}.png")
                    np.testing.assert_array_equal(gt, sources[Path(record["target"])][window])
                    for source in record["inputs"]:
                        suffix = Path(source).stem.rsplit("_", 1)[1]
                        patch = decode_image(input_dir / f"{scene}_{k}_{suffix}.png")
                        np.testing.assert_array_equal(patch, sources[Path(source)][window])
                        checked += 1
    assert checked > 50
    # the official names pair inputs with their GT patch by stripping the EV suffix
    input_dir, gt_dir = patch_dirs(out, "train", 32)
    assert (
        input_dir == out / "training" / "INPUT_IMAGES_P_32" and gt_dir == out / "training" / "GT_IMAGES_P_32"
    )
    pairs = pair_by_stem(list_images(input_dir), list_images(gt_dir))
    assert len(pairs) == 3 * len(list_images(gt_dir)) == 3 * manifest["summary"]["train"]["32"]["kept"]


def test_counts_rejections_and_too_small_scenes_in_the_manifest(extracted):
    out, manifest = extracted
    summary = manifest["summary"]
    assert summary["train"]["32"]["kept"] == 4 * 4 and summary["val"]["48"]["kept"] == 2
    assert summary["train"]["32"]["rejected"]["dark"] > 0  # the black part of a0003-dark
    small = manifest["splits"]["train"]["scenes"]["a0004-small"]["patches"]
    assert small["48"] == {
        "corners": [],
        "rejected": {"dark": 0, "bright": 0, "flat": 0},
        "tries": 0,
        "skipped": True,
    }
    assert not small["32"]["skipped"] and len(small["32"]["corners"]) == 4
    assert summary["train"]["48"]["skipped"] == 1 and summary["train"]["32"]["skipped"] == 0
    assert summary["train"]["32"]["files"] == 16 * 4  # 3 exposures + GT per window
    assert json.loads((out / MANIFEST).read_text())["summary"] == summary
    assert "| train | 48 | 3 | 4 |" in (out / "MANIFEST.md").read_text()


def test_resume_redoes_only_unfinished_scenes_and_matches_a_fresh_run(afifi_root, extracted, tmp_path):
    out, _ = extracted
    out = Path(str(out))
    resumed = tmp_path / "resumed"
    extract(afifi_root, resumed)
    before = snapshot(resumed)
    manifest = json.loads((resumed / MANIFEST).read_text())
    del manifest["splits"]["train"]["scenes"]["a0002-y"]  # as if the run stopped before recording it
    (resumed / MANIFEST).write_text(json.dumps(manifest))
    missing = "training/INPUT_IMAGES_P_48/a0001-x_2_P1.png"
    (resumed / missing).unlink()  # a recorded scene whose files are gone is redone (that size only)
    extract(afifi_root, resumed)
    after = snapshot(resumed)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    redone = [name for name in after if "a0002-y" in name or "P_48/a0001-x" in name]
    untouched = [name for name in after if name not in redone and not name.startswith("MANIFEST")]
    assert len(redone) > 10 and len(untouched) > 50
    assert all(after[name][1] == before[name][1] for name in untouched)
    assert after[missing][0] == before[missing][0]
    fresh = snapshot(out)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in fresh.items()}


def test_other_options_in_an_existing_folder_are_refused_naming_the_option(afifi_root, extracted, tmp_path):
    out, _ = extracted
    before = snapshot(out)
    changes = {
        "seed: 0 → 1": {"seed": 1},
        "rules.thresholds.dark: 0.02 → 0.05": {
            "patches": {"rule": "lmspec", "reference": "gt", "thresholds": {"dark": 0.05}}
        },
        "per_image.train.32: 4 → 5": {"per_image": {"train": {"32": 5, "48": 3}, "val": {"32": 2, "48": 2}}},
        "format: 'png' → 'jpg'": {"format": "jpg"},
    }
    for expected, change in changes.items():
        with pytest.raises(DataLayoutError, match="other options") as error:
            extract(afifi_root, out, patch_options(**change))
        assert expected in str(error.value)
    assert snapshot(out) == before
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataLayoutError, match="expected a new or empty folder"):
        extract(afifi_root, tmp_path)


def test_new_sizes_are_added_to_an_existing_folder(afifi_root, tmp_path):
    extract(afifi_root, tmp_path / "p", patch_options(sizes=[48]))
    first = snapshot(tmp_path / "p")
    manifest = extract(afifi_root, tmp_path / "p", patch_options(sizes=[32, 48]))
    assert set(manifest["summary"]["train"]) == {"32", "48"}
    after = snapshot(tmp_path / "p")
    assert all(after[name] == first[name] for name in first if not name.startswith("MANIFEST"))


def test_set_without_ground_truth_uses_the_input_at_the_reference_ev(afifi_root, tmp_path):
    no_gt = patch_options(splits=["train"], patches={"reference": "0"})
    manifest = extract(afifi_root, tmp_path / "ev", no_gt, with_target=False)
    input_dir, gt_dir = patch_dirs(tmp_path / "ev", "train", 32)
    assert not gt_dir.exists()
    record = manifest["splits"]["train"]["scenes"]["a0001-x"]
    assert record["reference"].endswith("a0001-x_0.png") and record["target"] is None
    reference = decode_image(record["reference"])
    (top, left), size = record["patches"]["32"]["corners"][0], 32
    for suffix in EVS:
        assert (input_dir / f"a0001-x_1_{suffix}.png").is_file()
    np.testing.assert_array_equal(
        decode_image(input_dir / "a0001-x_1_0.png"), reference[top : top + size, left : left + size]
    )
    with pytest.raises(DataLayoutError, match=r"patches\.reference=gt expects a ground-truth image"):
        extract(afifi_root, tmp_path / "gt", patch_options(splits=["train"]), with_target=False)
    with pytest.raises(
        DataLayoutError, match=r"expects one input at EV 1.5, found 0 \(EVs of the scene: -1, 0, 1\)"
    ):
        extract(afifi_root, tmp_path / "p15", patch_options(splits=["train"], patches={"reference": "P1.5"}))


def test_endo_rule_screens_each_input_and_names_gt_patches_like_their_input(afifi_root, tmp_path):
    options = patch_options(splits=["val"], patches={"rule": "endo_lmspec", "reference": "input"})
    manifest = extract(afifi_root, tmp_path / "endo", options)
    records = manifest["splits"]["val"]["scenes"]
    assert sorted(records) == ["a0005-z_0.png", "a0005-z_N1.png", "a0005-z_P1.png"]
    input_dir, gt_dir = patch_dirs(tmp_path / "endo", "val", 32)
    assert sorted(p.name for p in list_images(input_dir)) == sorted(p.name for p in list_images(gt_dir))
    record = records["a0005-z_N1.png"]
    top, left = record["patches"]["32"]["corners"][1]
    target = decode_image(record["target"])
    np.testing.assert_array_equal(
        decode_image(gt_dir / "a0005-z_2_N1.png"), target[top : top + 32, left : left + 32]
    )


def test_patch_options_name_missing_counts():
    with pytest.raises(DataLayoutError, match=r"per_image\.train\.64 .* \+per_image\.train\.64=N"):
        patch_options(sizes=[64])
    with pytest.raises(DataLayoutError, match="format must be one of png, jpg"):
        patch_options(format="tif")


# ------------------------------------------------------------------------------------------ config, CLI


def test_online_and_offline_configs_hold_the_same_rules(tmp_path):
    offline = compose_config("extract_patches", [], tmp_path)
    online = compose_config("train", ["patches=online"], tmp_path)
    assert (offline.patches.mode, online.patches.mode) == ("offline", "online")
    assert PatchRules.from_config(offline.patches) == PatchRules.from_config(online.patches) == PatchRules()
    assert offline.out == offline.patches.root == str(tmp_path / "data" / "patches" / "synthetic")
    options = PatchOptions.from_config(OmegaConf.to_container(offline))
    assert options.per_image == {"train": {128: 10, 256: 6, 512: 4}, "val": {128: 6, 256: 4, 512: 3}}
    endo = compose_config(
        "extract_patches", ["patches.rule=endo_lmspec", "patches.reference=input"], tmp_path
    )
    assert PatchRules.from_config(endo.patches) == ENDO


def test_cli_extracts_resumes_and_refuses_other_options(cli, afifi_root, tmp_path, capsys):
    out = tmp_path / "out"
    overrides = [
        "data=paired",
        f"data.train_input_dir={afifi_root / 'training' / 'INPUT_IMAGES'}",
        f"data.train_target_dir={afifi_root / 'training' / 'GT_IMAGES'}",
        f"data.val_input_dir={afifi_root / 'validation' / 'INPUT_IMAGES'}",
        f"data.val_target_dir={afifi_root / 'validation' / 'GT_IMAGES'}",
        "sizes=[32,48]",
        "+per_image.train.32=4",
        "+per_image.train.48=3",
        "+per_image.val.32=2",
        "+per_image.val.48=2",
        f"out={out}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    lines = cli("data patches", *overrides)
    assert lines[-1] == str(out)
    assert lines[0].startswith("Patches of paired: rule lmspec, reference gt, png, seed 0")
    assert lines[1].split() == [
        "split",
        "size",
        "scenes",
        "kept",
        "files",
        "dark",
        "bright",
        "flat",
        "too",
        "small",
    ]
    assert lines[2].split()[:4] == ["train", "32", "4", "16"]
    before = snapshot(out)
    assert cli("data patches", *overrides) == lines
    assert snapshot(out) == before
    with pytest.raises(SystemExit) as exit_info:
        cli("data patches", *overrides, "seed=3")
    assert exit_info.value.code == 2
    assert "seed: 0 → 3" in capsys.readouterr().err


@pytest.mark.realdata
def test_msec_scenes_without_ground_truth_reference_ev_0(tmp_path, cli):
    if not MSEC.is_dir():
        pytest.skip(f"real MSEC scenes not available at {MSEC}")
    lines = cli(
        "data patches",
        "data=unpaired",
        f"data.root={MSEC}",
        "data.val_count=1",
        "patches.reference=0",
        "sizes=[128,256]",
        "splits=[train]",
        "per_image.train.128=4",  # fewer than the official 10 / 6: PNG writing is slow
        "per_image.train.256=2",
        f"out={tmp_path}",
    )
    assert lines[-1] == str(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    summary = manifest["summary"]["train"]
    assert summary["128"]["scenes"] == summary["256"]["scenes"] == 5  # one of the six scenes is val
    assert 0 < summary["128"]["kept"] <= 20 and 0 < summary["256"]["kept"] <= 10
    for size in (128, 256):
        input_dir, gt_dir = patch_dirs(tmp_path, "train", size)
        assert not gt_dir.exists() and len(list_images(input_dir)) == 5 * summary[str(size)]["kept"]
    scene = next(iter(manifest["splits"]["train"]["scenes"]))
    top, left = manifest["splits"]["train"]["scenes"][scene]["patches"]["256"]["corners"][0]
    input_dir, _ = patch_dirs(tmp_path, "train", 256)
    for suffix in ("N1.5", "0", "P1.5"):
        source = decode_image(next(MSEC.glob(f"{scene}_{suffix}.JPG")))
        np.testing.assert_array_equal(
            decode_image(input_dir / f"{scene}_1_{suffix}.png"), source[top : top + 256, left : left + 256]
        )
