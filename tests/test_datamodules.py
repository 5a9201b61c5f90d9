"""The DataModule of every real data set on tiny copies written with the real folder and file names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from tests.dataset_trees import (
    write_afifi_tree,
    write_endo4ie_tree,
    write_iea40k_tree,
    write_lol_tree,
)
from tests.helpers import SHARED, compose_data

from exposure_lab.checkpoints import load_model
from exposure_lab.data.afifi import AfifiDataModule
from exposure_lab.data.datasets import PairedImageDataset
from exposure_lab.data.iea40k import IEA40KDataModule
from exposure_lab.data.io import write_image
from exposure_lab.data.layouts import paired_folder_samples
from exposure_lab.data.lol import FLAT_VAL_COUNT, LOLDataModule
from exposure_lab.data.patch_rules import REASONS, PatchRules, rejection_codes
from exposure_lab.data.unpaired import UnpairedDataModule
from exposure_lab.errors import DataLayoutError, user_error_of
from exposure_lab.metrics import MetricSuite

FAST = ["data.num_workers=0", "data.patch_size=16", "data.batch_size=2"]


@pytest.fixture(scope="module")
def afifi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_afifi_tree(tmp_path_factory.mktemp("afifi"))


def datamodule(name: str, root: Path, tmp_path: Path, *overrides: str) -> L.LightningDataModule:
    """`conf/data/<name>.yaml` with `data.root=<root>`, instantiated as `exposure-lab train` does."""
    cfg = compose_data(name, [f"data.root={root}", *FAST, *overrides], tmp_path)
    return instantiate(cfg.data)


def test_afifi_trains_on_expert_c_and_tests_against_every_expert(afifi_root, tmp_path):
    module = datamodule("afifi", afifi_root, tmp_path)
    assert isinstance(module, AfifiDataModule)
    module.setup("fit")
    assert len(module.split_samples("train")) == 3 * 5 and len(module.split_samples("val")) == 5
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == batch["target"].shape == (2, 3, 16, 16)
    assert "experts" not in batch
    module.setup("test")
    test = next(iter(module.test_dataloader()))
    assert sorted(test["experts"]) == ["a", "b", "c", "d", "e"]
    assert torch.equal(test["target"], test["experts"]["c"])
    assert test["name"] == ["a4608-Duggan_080413_6147_0.JPG"] and test["subset"] == ["over"]
    assert not torch.equal(test["experts"]["a"], test["experts"]["c"])


def test_afifi_test_logs_every_expert_subset_and_their_mean(afifi_root, tmp_path):
    module = datamodule("afifi", afifi_root, tmp_path)
    _, task = load_model("identity")
    task.set_metric_suite(MetricSuite(names=["psnr", "ssim"]))
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.test(task, datamodule=module, verbose=False)
    logged = {key: float(value) for key, value in trainer.callback_metrics.items()}
    for subset in ("all", "under", "over"):
        for expert in ("expert_a", "expert_b", "expert_c", "expert_d", "expert_e", "mean"):
            assert f"test/afifi/{subset}/{expert}/psnr" in logged
    experts = [logged[f"test/afifi/all/expert_{x}/psnr"] for x in "abcde"]
    assert logged["test/afifi/all/mean/psnr"] == pytest.approx(sum(experts) / 5, abs=1e-4)
    assert logged["test/psnr"] == pytest.approx(logged["test/afifi/all/mean/psnr"], abs=1e-5)
    assert len(set(experts)) == 5
    records = {r["name"]: r for r in task.test_records}
    assert len(records) == 10
    record = records["a4875-DSC_0382_N1.5.JPG"]
    assert record["subset"] == "under"
    mean = sum(record[f"expert_{x}/psnr"] for x in "abcde") / 5
    assert record["psnr"] == pytest.approx(mean, abs=1e-4)


def test_benchmark_on_afifi_writes_a_table_per_expert(afifi_root, cli):
    lines = cli(
        "benchmark",
        "models=[identity]",
        "data=afifi",
        f"data.root={afifi_root}",
        "data.num_workers=0",
        "metrics.names=[psnr,ssim]",
    )
    out_dir = Path(lines[-1])
    with (out_dir / "results_by_expert.csv").open() as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert list(rows) == [f"identity · expert {x}" for x in "abcde"] + ["identity · mean"]
    mean_of_experts = sum(float(rows[f"identity · expert {x}"]["psnr"]) for x in "abcde") / 5
    assert float(rows["identity · mean"]["psnr"]) == pytest.approx(mean_of_experts, abs=1e-6)
    assert {"under/psnr", "over/psnr"} <= set(rows["identity · mean"])
    results = json.loads((out_dir / "results.json").read_text())["results"]["identity"]
    assert results["psnr"] == pytest.approx(float(rows["identity · mean"]["psnr"]), abs=1e-9)
    assert any("one row per reference expert" in line for line in lines)
    assert any(
        line.endswith("each scored against experts a, b, c, d, e and averaged over them") for line in lines
    )


@pytest.mark.parametrize("layout", ["A", "B"])
def test_endo4ie_both_layouts(layout, tmp_path):
    root = write_endo4ie_tree(tmp_path / "Endo4IE", layout=layout, size=(32, 32))
    module = datamodule("endo4ie", root, tmp_path)
    module.setup("fit")
    module.setup("test")
    test_names = [s.name for s in module.split_samples("test")]
    if layout == "B":
        assert {s.subset for s in module.split_samples("test")} == {"over", "under"}
        assert "Overexposed/2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg" in test_names
    else:
        assert test_names == [
            "2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg",
            "3e9b0c4d-2f6a-4e1b-9c8d-7b5a3f1e0d2c.jpg",
        ]
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == (2, 3, 16, 16)


def test_endo4ie_without_validation_folder_splits_val_off_training(tmp_path):
    root = write_endo4ie_tree(tmp_path / "Endo4IE", layout="B", val_frames=())
    module = datamodule("endo4ie", root, tmp_path, "data.val_count=1")
    module.setup("fit")
    val_scenes = {s.scene for s in module.split_samples("val")}
    train_scenes = {s.scene for s in module.split_samples("train")}
    assert len(val_scenes) == 1 and len(train_scenes) == 2 and not val_scenes & train_scenes
    assert len(module.split_samples("val")) == 2  # the over- and under-exposed copies of one frame


def test_lol_val_split_is_saved_and_reused(tmp_path):
    root = write_lol_tree(tmp_path / "LOL", "v1", train_ids=[f"{i}.png" for i in range(2, 12)])
    module = datamodule("lol", root, tmp_path, "data.val_count=3")
    module.setup("fit")
    saved = json.loads((tmp_path / "data_split.json").read_text())
    assert len(saved["val"]) == 3 and len(saved["train"]) == 7
    assert sorted(s.scene for s in module.split_samples("val")) == saved["val"]
    other_seed = datamodule("lol", root, tmp_path / "other", "data.val_count=3", "data.split_seed=5")
    other_seed.setup("fit")
    reused = datamodule(
        "lol",
        root,
        tmp_path / "again",
        "data.val_count=3",
        "data.split_seed=5",
        f"data.load_split_from={tmp_path / 'data_split.json'}",
    )
    reused.setup("fit")
    assert [s.scene for s in reused.split_samples("val")] == [s.scene for s in module.split_samples("val")]
    assert {s.scene for s in other_seed.split_samples("val")} != set(saved["val"])
    module.setup("test")
    assert [s.name for s in module.split_samples("test")] == ["1.png", "22.png"]


def test_lol_saved_split_that_does_not_match_the_data_is_an_error(tmp_path):
    root = write_lol_tree(tmp_path / "LOL", "v1")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["2", "5"], "val": ["999"]}))
    module = datamodule("lol", root, tmp_path, f"data.load_split_from={split}")
    with pytest.raises(
        DataLayoutError, match=r"split\.json: saved split does not match lol: 1 scenes .*\(999\)"
    ):
        module.setup("fit")


def test_lol_flat_layout_defaults_to_the_500_239_split(tmp_path):
    root = write_lol_tree(tmp_path / "LOL", "flat")
    module = LOLDataModule(root, variant="flat")
    assert module.val_count == FLAT_VAL_COUNT == 239
    with pytest.raises(DataLayoutError, match="val_count=239 must be between 1 and 2"):
        module.setup("fit")
    small = LOLDataModule(root, variant="flat", val_count=1, num_workers=0)
    small.setup("fit")
    assert len(small.split_samples("val")) == 1 and len(small.split_samples("train")) == 2


@pytest.mark.parametrize("variant", ["v2_real", "v2_synthetic"])
def test_lol_v2_batches(variant, tmp_path):
    root = write_lol_tree(tmp_path / "LOL-v2", variant)
    module = datamodule("lol", root, tmp_path, f"data.variant={variant}", "data.val_count=1")
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == batch["target"].shape == (2, 3, 16, 16)
    assert (batch["input"].mean() < batch["target"].mean()).item()


def test_unpaired_resizes_training_images_and_keeps_test_images_whole(tmp_path):
    root = write_lol_tree(tmp_path / "LOL", "v1", size=(24, 40))
    cfg = [f"data.test_root={root / 'eval15' / 'low'}", "data.patch_size=20", "data.val_count=1"]
    module = datamodule("unpaired", root / "our485" / "low", tmp_path, *cfg)
    assert isinstance(module, UnpairedDataModule)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"input", "name", "ev", "subset"} and batch["input"].shape == (2, 3, 20, 20)
    module.set_train_patches(12, 1)
    assert next(iter(module.train_dataloader()))["input"].shape == (1, 3, 12, 12)
    module.setup("test")
    assert next(iter(module.test_dataloader()))["input"].shape == (1, 3, 24, 40)


def test_unpaired_rejects_screened_crops(tmp_path):
    with pytest.raises(Exception) as info:  # Hydra's InstantiationException; the CLI unwraps it
        datamodule("unpaired", tmp_path, tmp_path, "patches=online")
    assert "unpaired data does not have" in str(user_error_of(info.value))


def test_iea40k_flips_image_and_label_together(tmp_path):
    root = write_iea40k_tree(tmp_path / "IEA40K", csv_name="list.csv", size=(16, 20))
    csvs = ["data.train_csv=list.csv", "data.val_csv=list.csv", "data.test_csv=list.csv"]
    module = datamodule("iea40k", root, tmp_path, *csvs, "data.patch_size=null")
    assert isinstance(module, IEA40KDataModule)
    module.setup("fit")
    plain = {item["name"]: item for item in module.make_dataset(module.split_samples("val"), training=False)}
    torch.manual_seed(0)
    flips_seen = set()
    for item in module.make_dataset(module.split_samples("train"), training=True):
        reference = plain[item["name"]]
        assert item["target"].shape == (1, 16, 20) and item["target"].abs().max() <= 1
        for dims in ((), (-1,), (-2,), (-1, -2)):
            if torch.equal(item["input"], reference["input"].flip(dims) if dims else reference["input"]):
                expected = reference["target"].flip(dims) if dims else reference["target"]
                assert torch.equal(item["target"], expected)
                flips_seen.add(dims)
                break
        else:
            pytest.fail(f"{item['name']}: input is not a flip of the original")
    assert len(flips_seen) > 1
    batch = next(iter(module.train_dataloader()))
    assert batch["target"].shape == (2, 1, 16, 20) and batch["score"].dtype == torch.float64
    under = plain["a0001-jmac_DSC1459_N2.png"]
    assert under["subset"] == "under" and under["ev"] == -2.0 and under["target"].mean() > 0


def test_iea40k_label_of_another_size_is_an_error(tmp_path):
    root = write_iea40k_tree(tmp_path / "IEA40K", img_ids=["a0001-x_N1.png"], csv_name="list.csv")
    import numpy as np

    np.save(root / "label" / "exposure_condition" / "a0001-x_N1.npy", np.zeros((8, 8), np.float32))
    module = IEA40KDataModule(root, train_csv="list.csv", val_csv="list.csv", test_csv="list.csv")
    module.setup("test")
    with pytest.raises(
        DataLayoutError, match=r"a0001-x_N1\.png is 32×24 but its label .*a0001-x_N1\.npy is 8×8"
    ):
        module.make_dataset(module.split_samples("test"), training=False)[0]


def test_set_train_patches_changes_the_next_loader(afifi_root, tmp_path):
    module = datamodule("afifi", afifi_root, tmp_path)
    module.setup("fit")
    assert next(iter(module.train_dataloader()))["input"].shape == (2, 3, 16, 16)
    module.set_train_patches(patch_size=8, batch_size=3)
    assert next(iter(module.train_dataloader()))["input"].shape == (3, 3, 8, 8)


@pytest.mark.realdata
def test_unpaired_on_real_dicm_photos(tmp_path):
    dicm = SHARED / "data" / "dicm"
    if not dicm.is_dir():
        pytest.skip(f"real DICM photos not found at {dicm}")
    module = UnpairedDataModule(
        root=dicm, test_root=dicm, patch_size=64, batch_size=4, num_workers=0, val_count=4
    )
    module.setup("fit")
    assert len(module.split_samples("train")) == 60 and len(module.split_samples("val")) == 4
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == (4, 3, 64, 64) and batch["input"].min() >= 0 and batch["input"].max() <= 1


def test_online_patches_pass_the_rejection_rules(tmp_path):
    gt = torch.rand(3, 40, 64) * 0.6 + 0.2
    gt[:, :, :44] = 0.0  # dark everywhere but a 20 px band on the right
    write_image(tmp_path / "gt" / "a0001-x.png", gt)
    write_image(tmp_path / "in" / "a0001-x_N1.png", gt * 0.5)
    samples = paired_folder_samples(tmp_path / "in", tmp_path / "gt")
    rules = PatchRules.from_config({"rule": "lmspec", "reference": "gt", "max_tries": 200})
    screened = PairedImageDataset(samples * 40, patch_size=16, augment=True, patch_rules=rules)
    plain = PairedImageDataset(samples * 40, patch_size=16, augment=True)
    torch.manual_seed(0)
    kept = torch.stack([item["target"] for item in screened])
    unscreened = torch.stack([item["target"] for item in plain])
    assert (rejection_codes(kept, rules) == 0).all() and screened.fallback_crops == 0
    assert (rejection_codes(unscreened, rules) == REASONS.index("dark")).sum() > 10


def test_offline_patches_follow_the_stage_patch_size(tmp_path, cli):
    root = write_afifi_tree(tmp_path / "afifi", size=(40, 48))
    out = tmp_path / "patches"
    per_image = [
        "+per_image.train.16=3",
        "+per_image.train.24=2",
        "+per_image.val.16=2",
        "+per_image.val.24=1",
    ]
    source = ["data=afifi", f"data.root={root}", "data.num_workers=0"]
    cli("data patches", *source, "sizes=[16,24]", *per_image, f"patches.root={out}")
    module = datamodule("afifi", root, tmp_path, "patches=offline", f"patches.root={out}")
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == batch["target"].shape == (2, 3, 16, 16)
    assert all("_N" in name or "_P" in name or "_0." in name for name in batch["name"])
    module.set_train_patches(24, 3)
    loader = module.train_dataloader()
    assert next(iter(loader))["input"].shape == (3, 3, 24, 24)
    assert len(loader.dataset) == 3 * 2 * 5  # 3 training scenes × 2 patches × 5 exposures
    assert next(iter(module.val_dataloader()))["input"].shape == (1, 3, 40, 48)  # full val images
    module.set_train_patches(32, 2)
    with pytest.raises(
        DataLayoutError, match=r"INPUT_IMAGES_P_32, which does not exist; run `exposure-lab data"
    ):
        module.train_dataloader()
    on_patches = datamodule(
        "afifi", root, tmp_path, "patches=offline", f"patches.root={out}", "patches.validate_on_patches=true"
    )
    on_patches.setup("fit")
    val = on_patches.val_dataloader()
    assert next(iter(val))["input"].shape == (1, 3, 16, 16) and len(val) == 1 * 2 * 5  # 1 val scene
    on_patches.set_train_patches(24, 2)
    assert next(iter(on_patches.val_dataloader()))["input"].shape == (1, 3, 24, 24)


def test_paired_model_on_data_without_reference_images_is_a_clear_error(tmp_path, cli, capsys):
    root = write_lol_tree(tmp_path / "LOL", "v1")
    with pytest.raises(SystemExit) as info:
        cli("train", "data=unpaired", f"data.root={root / 'our485' / 'low'}", *FAST, "trainer.max_epochs=1")
    assert info.value.code == 2
    assert "data 'unpaired' has no reference images; choose a paired data set" in capsys.readouterr().err


@pytest.mark.realdata
def test_unpaired_on_the_real_zero_dce_training_images_at_512(tmp_path):
    folder = SHARED / "data" / "zero_dce_train_2002"
    if not folder.is_dir():
        pytest.skip(f"real Zero-DCE training images not found at {folder}")
    module = datamodule("unpaired", folder, tmp_path, "data.patch_size=512", "data.val_count=1")
    module.setup("fit")
    assert len(module.split_samples("train")) + len(module.split_samples("val")) == 501
    batch = next(iter(module.train_dataloader()))
    assert batch["input"].shape == (2, 3, 512, 512)


def test_bad_patch_rules_fail_when_the_datamodule_is_built(afifi_root, tmp_path):
    with pytest.raises(Exception) as info:  # Hydra's InstantiationException; the CLI unwraps it
        datamodule("afifi", afifi_root, tmp_path, "patches=online", "patches.rule=bogus")
    assert "patch rules: rule must be one of lmspec, endo_lmspec, got 'bogus'" in str(
        user_error_of(info.value)
    )


def test_subsets_keep_one_exposure_in_every_split_and_name_what_is_there(tmp_path):
    root = write_endo4ie_tree(tmp_path / "Endo4IE", layout="B", size=(32, 32))
    module = datamodule("endo4ie", root, tmp_path, "data.subsets=[over]")
    module.setup("fit")
    module.setup("test")
    for split in ("train", "val", "test"):
        assert {s.subset for s in module.split_samples(split)} == {"over"}
    layout_a = write_endo4ie_tree(tmp_path / "Endo4IE_A", layout="A", size=(32, 32))
    module = datamodule("endo4ie", layout_a, tmp_path, "data.subsets=[over]")
    with pytest.raises(
        DataLayoutError, match=r"endo4ie train split: no images of subsets \['over'\]; it has"
    ):
        module.setup("fit")
