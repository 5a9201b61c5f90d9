"""Layout parsers of the real data sets, on fixture trees with the real naming and on ../shared/data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from tests.dataset_trees import (
    tree_image,
    write_afifi_tree,
    write_endo4ie_tree,
    write_iea40k_tree,
    write_lol_tree,
)
from tests.helpers import SHARED, compose_data

from exposure_lab.data.io import read_image, write_image
from exposure_lab.data.layouts import (
    LOL_VARIANTS,
    afifi_samples,
    afifi_splits,
    endo4ie_samples,
    endo4ie_splits,
    iea40k_samples,
    load_iea40k_label,
    lol_samples,
    paired_folder_samples,
    read_iea40k_csv,
    unpaired_samples,
)
from exposure_lab.errors import DataLayoutError, ImageReadError

EVS = {"0": 0.0, "N1.5": -1.5, "N1": -1.0, "P1.5": 1.5, "P1": 1.0}  # in the name order of one scene


def scene_names(scene: str, ext: str = ".JPG") -> list[str]:
    return [f"{scene}_{suffix}{ext}" for suffix in EVS]


@pytest.fixture(scope="module")
def afifi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_afifi_tree(tmp_path_factory.mktemp("afifi"))


# --- Afifi et al. -------------------------------------------------------------------------------------------


def test_afifi_train_pairs_every_exposure_with_the_scene_ground_truth(afifi_root):
    samples = afifi_samples(str(afifi_root), "train")
    assert [s.name for s in samples] == (
        scene_names("a0001-jmac_DSC1459") + scene_names("a0002-dgw_005") + scene_names("a0003-NKIM_MG_8178")
    )
    first = samples[:5]
    assert {s.scene for s in first} == {"a0001-jmac_DSC1459"}
    assert [s.ev for s in first] == [0.0, -1.5, -1.0, 1.5, 1.0]
    assert [s.subset for s in first] == ["over", "under", "under", "over", "over"]
    assert {s.target for s in first} == {afifi_root / "training" / "GT_IMAGES" / "a0001-jmac_DSC1459.jpg"}
    assert first[1].input == afifi_root / "training" / "INPUT_IMAGES" / "a0001-jmac_DSC1459_N1.5.JPG"
    assert all(s.experts == () and s.label is None and s.score is None for s in samples)
    image = read_image(first[1].input)
    assert image.shape == (3, 24, 32) and image.std() > 0.05


def test_afifi_val_split(afifi_root):
    samples = afifi_samples(afifi_root, "val")
    assert [s.name for s in samples] == scene_names("a0004-jmac_MG_1384")
    assert {s.target.name for s in samples} == {"a0004-jmac_MG_1384.jpg"}
    assert afifi_splits(afifi_root) == {"train", "val", "test"}


def test_afifi_test_has_every_expert_rendition_and_expert_c_as_target(afifi_root):
    samples = afifi_samples(afifi_root, "test")
    assert [s.name for s in samples] == scene_names("a4608-Duggan_080413_6147") + scene_names(
        "a4875-DSC_0382"
    )
    sample = samples[6]
    assert (sample.name, sample.scene, sample.ev, sample.subset) == (
        "a4875-DSC_0382_N1.5.JPG",
        "a4875-DSC_0382",
        -1.5,
        "under",
    )
    testing = afifi_root / "testing"
    assert sample.experts == tuple(
        (letter, testing / f"expert_{letter}_testing_set" / "a4875-DSC_0382.jpg") for letter in "abcde"
    )
    assert sample.target == testing / "expert_c_testing_set" / "a4875-DSC_0382.jpg"
    other = afifi_samples(afifi_root, "test", gt_expert="a", experts=("b", "d"))[6]
    assert other.target == testing / "expert_a_testing_set" / "a4875-DSC_0382.jpg"
    assert [letter for letter, _ in other.experts] == ["b", "d"]


def test_afifi_synthetic_style_test_split_with_gt_images(paired_root):
    """The foundation fixture (`testing/GT_IMAGES`, no expert folders) parses with GT_IMAGES as target."""
    samples = afifi_samples(paired_root, "test")
    assert [s.name for s in samples[:2]] == ["scene08_N1.png", "scene08_P1.png"]
    assert samples[0].target == paired_root / "testing" / "GT_IMAGES" / "scene08.png"
    assert samples[0].experts == () and samples[0].subset == "under"
    assert afifi_splits(paired_root) == {"train", "test"}


def test_afifi_missing_split_folder_says_what_the_root_holds(tmp_path):
    root = write_afifi_tree(tmp_path, val_scenes=(), test_scenes=())
    assert afifi_splits(root) == {"train"}
    with pytest.raises(DataLayoutError) as error:
        afifi_samples(root, "val")
    assert str(error.value) == (
        f"afifi val split: expected folder {root / 'validation'}, found nothing "
        f"({root} holds 1 entry: training/)"
    )


def test_afifi_missing_input_folder_lists_what_is_there_instead(tmp_path):
    root = write_afifi_tree(tmp_path, val_scenes=(), test_scenes=())
    (root / "training" / "INPUT_IMAGES").rename(root / "training" / "input_images")
    with pytest.raises(DataLayoutError) as error:
        afifi_samples(root, "train")
    assert str(error.value) == (
        f"afifi train split: expected a folder of input images {root / 'training' / 'INPUT_IMAGES'}, found "
        f"nothing ({root / 'training'} holds 2 entries: GT_IMAGES/, input_images/)"
    )


def test_afifi_unmatched_inputs_are_listed_with_their_count(tmp_path):
    scenes = ("a0001-jmac_DSC1459", "a0002-dgw_005", "a0003-NKIM_MG_8178", "a0004-jmac_MG_1384")
    root = write_afifi_tree(tmp_path, train_scenes=scenes, val_scenes=(), test_scenes=())
    for scene in scenes[:3]:
        (root / "training" / "GT_IMAGES" / f"{scene}.jpg").unlink()
    with pytest.raises(DataLayoutError) as error:
        afifi_samples(root, "train")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        f"afifi train split: 15 of 20 input images in {root / 'training' / 'INPUT_IMAGES'} have no "
        "ground truth "
    )
    shown = scene_names("a0001-jmac_DSC1459") + scene_names("a0002-dgw_005")
    assert message.endswith(f" in {root / 'training' / 'GT_IMAGES'}: {', '.join(shown)}, …")


def test_afifi_input_without_ev_suffix_is_an_error(tmp_path):
    root = write_afifi_tree(tmp_path, val_scenes=(), test_scenes=())
    shutil.copy(
        root / "training" / "GT_IMAGES" / "a0002-dgw_005.jpg",
        root / "training" / "INPUT_IMAGES" / "a0002-dgw_005.JPG",
    )
    with pytest.raises(DataLayoutError, match=r"1 of 16 input images .* lack an exposure suffix") as error:
        afifi_samples(root, "train")
    assert str(error.value).endswith(
        "_N1.5/_N1/_0/_P1/_P1.5, e.g. a0001-jmac_DSC1459_N1.5.JPG): a0002-dgw_005.JPG"
    )


def test_afifi_empty_split_says_what_the_folder_holds(tmp_path):
    root = write_afifi_tree(tmp_path, train_scenes=("a0001-jmac_DSC1459",), val_scenes=(), test_scenes=())
    inputs = root / "training" / "INPUT_IMAGES"
    for path in inputs.iterdir():
        path.unlink()
    (inputs / "Thumbs.db").write_bytes(b"\0")
    with pytest.raises(DataLayoutError) as error:
        afifi_samples(root, "train")
    assert str(error.value) == (
        f"afifi train split: expected input images (.bmp/.jpeg/.jpg/.png/.tif/.tiff files) in {inputs}, "
        f"found none ({inputs} holds 1 entry: Thumbs.db)"
    )


def test_afifi_test_missing_expert_folder_or_rendition(tmp_path):
    root = write_afifi_tree(tmp_path, train_scenes=(), val_scenes=())
    shutil.rmtree(root / "testing" / "expert_e_testing_set")
    with pytest.raises(
        DataLayoutError, match=r"expected a folder of expert E renditions .*expert_e_testing_set"
    ):
        afifi_samples(root, "test")
    assert len(afifi_samples(root, "test", experts=("a", "b", "c", "d"))) == 10
    (root / "testing" / "expert_d_testing_set" / "a4875-DSC_0382.jpg").unlink()
    with pytest.raises(DataLayoutError) as error:
        afifi_samples(root, "test", experts=("a", "b", "c", "d"))
    message = str(error.value)
    assert message.startswith("afifi test split: 5 of 10 input images in ")
    assert "have no expert D rendition named by its scene" in message
    assert message.endswith(f"expert_d_testing_set: {', '.join(scene_names('a4875-DSC_0382'))}")


def test_afifi_ground_truths_sharing_a_stem_are_ambiguous(tmp_path):
    root = write_afifi_tree(tmp_path, val_scenes=(), test_scenes=())
    gt = root / "training" / "GT_IMAGES"
    shutil.copy(gt / "a0002-dgw_005.jpg", gt / "a0002-dgw_005.png")
    with pytest.raises(
        DataLayoutError, match=r"1 file stems occur more than once in .*GT_IMAGES.*: a0002-dgw_005$"
    ):
        afifi_samples(root, "train")


def test_afifi_rejects_unknown_split_and_expert(afifi_root):
    with pytest.raises(ValueError, match="split must be one of train, val, test, got 'validation'"):
        afifi_samples(afifi_root, "validation")
    with pytest.raises(ValueError, match="got 'f'"):
        afifi_samples(afifi_root, "test", experts=("a", "f"))


# --- Endo4IE ------------------------------------------------------------------------------------------------


def test_endo4ie_layout_a_identical_names(tmp_path):
    root = write_endo4ie_tree(tmp_path, layout="A")
    assert endo4ie_splits(root) == {"train", "val", "test"}
    samples = endo4ie_samples(root, "train")
    assert [s.name for s in samples] == [
        "0a7bdce4-ac0d-44ef-93ee-92dfc8fe0b81.jpg",
        "0b1f4e3c-9a4d-4c8e-8f5e-5b8e0b8f5d6a.jpg",
        "0cdb8bd8-1a64-49ab-9b52-24a8dbb05b8c.jpg",
    ]
    first = samples[0]
    assert first.input == root / "training" / "exp_images" / "0a7bdce4-ac0d-44ef-93ee-92dfc8fe0b81.jpg"
    assert first.target == root / "training" / "gt_images" / "0a7bdce4-ac0d-44ef-93ee-92dfc8fe0b81.jpg"
    assert (first.scene, first.subset, first.ev) == ("0a7bdce4-ac0d-44ef-93ee-92dfc8fe0b81", "", None)
    assert [s.name for s in endo4ie_samples(root, "val")] == ["1d35a2a9-8f31-4c5e-9a2f-6f0e6b1e3a47.jpg"]


def test_endo4ie_layout_b_over_and_under_share_the_normal_frame(tmp_path):
    root = write_endo4ie_tree(tmp_path, layout="B")
    samples = endo4ie_samples(root, "test")
    assert [(s.name, s.subset) for s in samples] == [
        ("Overexposed/2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg", "over"),
        ("Overexposed/3e9b0c4d-2f6a-4e1b-9c8d-7b5a3f1e0d2c.jpg", "over"),
        ("Underexposed/2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg", "under"),
        ("Underexposed/3e9b0c4d-2f6a-4e1b-9c8d-7b5a3f1e0d2c.jpg", "under"),
    ]
    normal = root / "test" / "Normal_frames" / "2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg"
    assert samples[0].target == samples[2].target == normal
    assert samples[0].scene == samples[2].scene == "2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e"
    assert samples[2].input == root / "test" / "Underexposed" / "2c6e3a5b-7d1f-4b9a-8e2c-9a0f1d3b5c7e.jpg"
    over, under = read_image(samples[0].input).mean(), read_image(samples[2].input).mean()
    assert over > read_image(normal).mean() > under


def test_endo4ie_real_underexp_copy_with_split_aliases(tmp_path):
    """Real-Underexp copies: only Underexposed/ beside Normal_frames/; split folders val/ and testing/."""
    folders = {"train": "train", "val": "val", "test": "testing"}
    root = write_endo4ie_tree(tmp_path, layout="B", split_folders=folders, exposures=("Underexposed",))
    assert endo4ie_splits(root) == {"train", "val", "test"}
    assert [(s.name, s.subset) for s in endo4ie_samples(root, "val")] == [
        ("Underexposed/1d35a2a9-8f31-4c5e-9a2f-6f0e6b1e3a47.jpg", "under")
    ]
    assert len(endo4ie_samples(root, "test")) == 2


def test_endo4ie_missing_split_lists_the_names_looked_for(tmp_path):
    root = write_endo4ie_tree(tmp_path, val_frames=())
    assert endo4ie_splits(root) == {"train", "test"}
    with pytest.raises(DataLayoutError) as error:
        endo4ie_samples(root, "val")
    assert str(error.value) == (
        f"endo4ie val split: expected folder {root / 'validation'} or {root / 'val'}, found none "
        f"({root} holds 2 entries: test/, training/)"
    )


def test_endo4ie_errors_unknown_layout_missing_ground_truth_and_unmatched(tmp_path):
    root = write_endo4ie_tree(tmp_path / "b", layout="B")
    shutil.rmtree(root / "training" / "Normal_frames")
    with pytest.raises(
        DataLayoutError, match=r"expected a folder of ground-truth frames .*training/Normal_frames"
    ):
        endo4ie_samples(root, "train")
    (root / "validation" / "Normal_frames" / "1d35a2a9-8f31-4c5e-9a2f-6f0e6b1e3a47.jpg").rename(
        root / "validation" / "Normal_frames" / "1d35a2a9.jpg"
    )
    with pytest.raises(DataLayoutError) as error:
        endo4ie_samples(root, "val")
    assert str(error.value).endswith(
        f"1 of 1 input images in {root / 'validation' / 'Overexposed'} have no ground truth with the same "
        f"name in {root / 'validation' / 'Normal_frames'}: 1d35a2a9-8f31-4c5e-9a2f-6f0e6b1e3a47.jpg"
    )
    odd = tmp_path / "odd"
    (odd / "test" / "images").mkdir(parents=True)
    with pytest.raises(DataLayoutError) as error:
        endo4ie_samples(odd, "test")
    assert str(error.value) == (
        f"endo4ie test split: expected exp_images/ and gt_images/ (or Overexposed/ and/or Underexposed/ with "
        f"Normal_frames/) in {odd / 'test'}, found neither ({odd / 'test'} holds 1 entry: images/)"
    )


# --- LOL ----------------------------------------------------------------------------------------------------


def test_lol_v1_our485_is_train_and_eval15_is_test(tmp_path):
    root = write_lol_tree(tmp_path, "v1")
    train = lol_samples(root, "v1", "train")
    assert [s.name for s in train] == ["10.png", "2.png", "5.png"]
    assert train[1].input == root / "our485" / "low" / "2.png"
    assert train[1].target == root / "our485" / "high" / "2.png"
    assert train[1].scene == "2"
    test = lol_samples(root, "v1", "test")
    assert [(s.name, s.target) for s in test] == [
        ("1.png", root / "eval15" / "high" / "1.png"),
        ("22.png", root / "eval15" / "high" / "22.png"),
    ]
    assert read_image(test[0].input).mean() < read_image(test[0].target).mean() / 2


@pytest.mark.parametrize("variant_root", ["LOL-v2", "Real_captured"])
def test_lol_v2_real_pairs_low_with_normal_numbers(tmp_path, variant_root):
    root = write_lol_tree(tmp_path / "LOL-v2", "v2_real")
    if variant_root == "Real_captured":
        root = root / "Real_captured"
    samples = lol_samples(root, "v2_real", "train")
    assert [(s.name, s.target.name, s.scene) for s in samples] == [
        ("low00001.png", "normal00001.png", "normal00001"),
        ("low00002.png", "normal00002.png", "normal00002"),
        ("low00003.png", "normal00003.png", "normal00003"),
    ]
    base = tmp_path / "LOL-v2" / "Real_captured"
    assert samples[0].input == base / "Train" / "Low" / "low00001.png"
    assert samples[0].target == base / "Train" / "Normal" / "normal00001.png"
    assert [s.name for s in lol_samples(root, "v2_real", "test")] == ["low00690.png", "low00691.png"]


@pytest.mark.parametrize("variant_root", ["LOL-v2", "Synthetic"])
def test_lol_v2_synthetic_identical_names(tmp_path, variant_root):
    root = write_lol_tree(tmp_path / "LOL-v2", "v2_synthetic")
    if variant_root == "Synthetic":
        root = root / "Synthetic"
    samples = lol_samples(root, "v2_synthetic", "test")
    assert [(s.name, s.target.name) for s in samples] == [
        ("r02a4a4f5t.png", "r02a4a4f5t.png"),
        ("r03c1bc5dt.png", "r03c1bc5dt.png"),
    ]
    assert samples[0].input == tmp_path / "LOL-v2" / "Synthetic" / "Test" / "Low" / "r02a4a4f5t.png"


def test_lol_flat_layout(tmp_path):
    root = write_lol_tree(tmp_path, "flat")
    assert [s.input for s in lol_samples(root, "flat", "train")] == [
        root / "train_val" / "low" / name for name in ("10.png", "2.png", "5.png")
    ]
    assert [s.target for s in lol_samples(root, "flat", "test")] == [
        root / "test" / "high" / name for name in ("1.png", "22.png")
    ]


def test_lol_has_no_val_split(tmp_path):
    root = write_lol_tree(tmp_path, "v1")
    assert LOL_VARIANTS == ("v1", "v2_real", "v2_synthetic", "flat")
    with pytest.raises(DataLayoutError) as error:
        lol_samples(root, "v1", "val")
    assert str(error.value) == (
        "lol v1 val split: LOL v1 has no validation folder (only our485/ for train and eval15/ for test); "
        "the validation set is split from train by the DataModule"
    )


def test_lol_errors_unmatched_low_image_and_wrong_v2_root(tmp_path):
    root = write_lol_tree(tmp_path / "LOL-v2", "v2_real")
    low = root / "Real_captured" / "Train" / "Low"
    shutil.copy(low / "low00003.png", low / "low00004.png")
    with pytest.raises(DataLayoutError) as error:
        lol_samples(root, "v2_real", "train")
    assert str(error.value) == (
        f"lol v2_real train split: 1 of 4 input images in {low} have no normal-light image named "
        f"normal<number> for low<number> in {low.parent / 'Normal'}: low00004.png"
    )
    with pytest.raises(DataLayoutError, match=r"is the LOL-v2 Real_captured folder, expected Synthetic/"):
        lol_samples(root / "Real_captured", "v2_synthetic", "train")
    with pytest.raises(DataLayoutError) as error:
        lol_samples(root, "v2_synthetic", "train")
    assert str(error.value) == (
        f"lol v2_synthetic train split: expected {root / 'Synthetic'} (root = LOL-v2) or Train/ and Test/ in "
        f"{root} (root = Synthetic), found neither ({root} holds 1 entry: Real_captured/)"
    )
    v1 = write_lol_tree(tmp_path / "v1", "v1", test_ids=())
    with pytest.raises(DataLayoutError, match=r"expected folder .*v1/eval15, found nothing \(.* our485/\)"):
        lol_samples(v1, "v1", "test")


# --- IEA40K -------------------------------------------------------------------------------------------------


def test_iea40k_samples_carry_label_score_ev_and_subset(tmp_path):
    root = write_iea40k_tree(tmp_path)
    samples = iea40k_samples(root, "train_256_2ev.csv")
    assert [s.name for s in samples[:5]] == [
        "a0001-jmac_DSC1459_N1.png",
        "a0001-jmac_DSC1459_N2.png",
        "a0001-jmac_DSC1459_P0.png",
        "a0001-jmac_DSC1459_P1.png",
        "a0001-jmac_DSC1459_P2.png",
    ]
    assert [s.ev for s in samples[:5]] == [-1.0, -2.0, 0.0, 1.0, 2.0]
    assert [s.subset for s in samples[:5]] == ["under", "under", "over", "over", "over"]
    assert [s.score for s in samples[:5]] == [6.5, 5.0, 8.0, 6.5, 5.0]
    sample = samples[1]
    assert sample.input == root / "IEA_img" / "a0001-jmac_DSC1459_N2.png"
    assert sample.label == root / "label" / "exposure_condition" / "a0001-jmac_DSC1459_N2.npy"
    assert (sample.scene, sample.target) == ("a0001-jmac_DSC1459", None)
    assert {s.scene for s in samples} == {"a0001-jmac_DSC1459", "a0002-dgw_005"}
    assert iea40k_samples(root, root / "train_256_2ev.csv") == samples


def test_load_iea40k_label_divides_the_stored_residual_by_255(tmp_path):
    root = write_iea40k_tree(tmp_path)
    path = root / "label" / "exposure_condition" / "a0001-jmac_DSC1459_N2.npy"
    stored = np.load(path)
    label = load_iea40k_label(path)
    assert label.dtype == np.float32 and label.shape == (24, 32)
    assert read_image(root / "IEA_img" / f"{path.stem}.png").shape[1:] == label.shape
    np.testing.assert_allclose(label, stored / 255, rtol=1e-6)
    assert 0 < label.mean() <= 1  # under-exposed: positive residual
    assert load_iea40k_label(path.with_name("a0001-jmac_DSC1459_P2.npy")).mean() < 0


def test_load_iea40k_label_errors(tmp_path):
    stack = tmp_path / "rgb.npy"
    np.save(stack, np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ImageReadError) as error:
        load_iea40k_label(stack)
    assert str(error.value) == (
        f"{stack}: expected a 2-D (H, W) numeric exposure residual map, found float32 of shape (3, 8, 8)"
    )
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not a numpy file")
    with pytest.raises(
        ImageReadError, match=r"garbage.npy: cannot read IEA40K label \(expected a .npy array\)"
    ):
        load_iea40k_label(garbage)
    with pytest.raises(ImageReadError, match=r"missing.npy: cannot read IEA40K label .*No such file"):
        load_iea40k_label(tmp_path / "missing.npy")


def test_iea40k_bad_header_and_bad_row(tmp_path):
    root = write_iea40k_tree(tmp_path, csv_name=None)
    bad = root / "list.csv"
    bad.write_text("image,reference,mos\na0001-jmac_DSC1459_N1.png,a0001-jmac_DSC1459.png,7.25\n")
    with pytest.raises(DataLayoutError) as error:
        iea40k_samples(root, "list.csv")
    assert str(error.value) == f"{bad}: expected the header img_id,ref_id,score, found image,reference,mos"
    bad.write_text(
        "img_id,ref_id,score\na0001-jmac_DSC1459_N1.png,a0001-jmac_DSC1459.png,7.25\nx.png,y.png,high\n"
    )
    with pytest.raises(
        DataLayoutError, match=r"list.csv line 3: expected img_id,ref_id,<number>, found x.png"
    ):
        iea40k_samples(root, "list.csv")
    bad.write_text("img_id,ref_id,score\n")
    with pytest.raises(
        DataLayoutError, match="expected rows of img_id,ref_id,score after the header, found none"
    ):
        iea40k_samples(root, "list.csv")
    bad.write_text("img_id,ref_id,score\na0001-jmac_DSC1459_N1.5.png,a0001-jmac_DSC1459.png,7.25\n")
    with pytest.raises(
        DataLayoutError, match=r"1 of 1 img_id values lack an exposure suffix .*: a0001.*_N1.5.png"
    ):
        iea40k_samples(root, "list.csv")
    with pytest.raises(
        DataLayoutError, match=r"expected the split list CSV .*valid_256_2ev.csv, found nothing"
    ):
        iea40k_samples(root, "valid_256_2ev.csv")


def test_iea40k_missing_labels_and_images_are_listed(tmp_path):
    root = write_iea40k_tree(tmp_path)
    labels = root / "label" / "exposure_condition"
    (labels / "a0002-dgw_005_P1.npy").unlink()
    with pytest.raises(DataLayoutError) as error:
        iea40k_samples(root, "train_256_2ev.csv")
    assert str(error.value) == (
        f"iea40k: 1 of 10 images listed in {root / 'train_256_2ev.csv'} have no label <stem>.npy in "
        f"{labels}: a0002-dgw_005_P1.png"
    )
    (root / "IEA_img" / "a0001-jmac_DSC1459_P0.png").unlink()
    with pytest.raises(
        DataLayoutError, match=r"1 of 10 images listed in .* are missing from .*IEA_img: a0001-"
    ):
        iea40k_samples(root, "train_256_2ev.csv")
    shutil.rmtree(root / "IEA_img")
    with pytest.raises(
        DataLayoutError, match=r"iea40k: expected the image folder .*IEA_img, found nothing \("
    ):
        iea40k_samples(root, "train_256_2ev.csv")


# --- generic folders ----------------------------------------------------------------------------------------


def test_unpaired_samples_walk_the_tree_with_relative_names(tmp_path):
    generator = torch.Generator().manual_seed(0)
    for name in ("DICM/01.jpg", "LIME/1.bmp", "MSEC/a0024-_DSC8932_N1.5.JPG", "MSEC/a0024-_DSC8932_P1.JPG"):
        write_image(tmp_path / name, tree_image(generator))
    write_image(tmp_path / ".cache" / "x.png", tree_image(generator))
    write_image(tmp_path / "top.png", tree_image(generator))
    (tmp_path / "README.md").write_text("notes")
    samples = unpaired_samples(tmp_path)
    assert [(s.name, s.scene, s.ev, s.subset) for s in samples] == [
        ("DICM/01.jpg", "DICM/01", None, ""),
        ("LIME/1.bmp", "LIME/1", None, ""),
        ("MSEC/a0024-_DSC8932_N1.5.JPG", "MSEC/a0024-_DSC8932", -1.5, "under"),
        ("MSEC/a0024-_DSC8932_P1.JPG", "MSEC/a0024-_DSC8932", 1.0, "over"),
        ("top.png", "top", None, ""),
    ]
    assert samples[0].input == tmp_path / "DICM" / "01.jpg" and samples[0].target is None
    assert [s.name for s in unpaired_samples(tmp_path, recursive=False)] == ["top.png"]
    assert [s.name for s in unpaired_samples(tmp_path / "MSEC")] == [
        "a0024-_DSC8932_N1.5.JPG",
        "a0024-_DSC8932_P1.JPG",
    ]


def test_unpaired_samples_errors_name_the_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataLayoutError) as error:
        unpaired_samples(tmp_path)
    assert str(error.value) == (
        f"unpaired: expected images (.bmp/.jpeg/.jpg/.png/.tif/.tiff files in any subfolder) in {tmp_path}, "
        f"found none ({tmp_path} holds 1 entry: notes.txt)"
    )
    with pytest.raises(DataLayoutError) as error:
        unpaired_samples(tmp_path / "DICM")
    assert str(error.value) == (
        f"unpaired: expected a folder of images {tmp_path / 'DICM'}, found nothing "
        f"({tmp_path} holds 1 entry: notes.txt)"
    )


def test_paired_folder_samples_pairs_by_stem_and_ev_stripped_stem(afifi_root, tmp_path):
    samples = paired_folder_samples(
        afifi_root / "validation" / "INPUT_IMAGES", afifi_root / "validation" / "GT_IMAGES"
    )
    assert [(s.name, s.ev, s.subset) for s in samples] == [
        ("a0004-jmac_MG_1384_0.JPG", 0.0, "over"),
        ("a0004-jmac_MG_1384_N1.5.JPG", -1.5, "under"),
        ("a0004-jmac_MG_1384_N1.JPG", -1.0, "under"),
        ("a0004-jmac_MG_1384_P1.5.JPG", 1.5, "over"),
        ("a0004-jmac_MG_1384_P1.JPG", 1.0, "over"),
    ]
    assert {s.scene for s in samples} == {"a0004-jmac_MG_1384"}
    lol = write_lol_tree(tmp_path, "v1")
    assert [s.target for s in paired_folder_samples(lol / "eval15" / "low", lol / "eval15" / "high")] == [
        lol / "eval15" / "high" / "1.png",
        lol / "eval15" / "high" / "22.png",
    ]
    with pytest.raises(DataLayoutError, match=r"2 of 2 input images in .*eval15/low have no target"):
        paired_folder_samples(lol / "eval15" / "low", lol / "our485" / "high")


# --- real data (../shared/data) -----------------------------------------------------------------------------

DATA = SHARED / "data"
MSEC = DATA / "msec_scenes_5ev"
DICM = DATA / "dicm"
IEA = DATA / "iea_pieanet_lists"
MSEC_SCENES = (
    "a0024-_DSC8932",
    "a0075-jn_20080814_New_York_City_042",
    "a0088-_DGW6376",
    "a0113-IMG_1129",
    "a0125-kme_314",
    "a0145-DSC_0009-1",
)


def needs(folder: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not folder.is_dir(), reason=f"real data not present at {folder}")


@pytest.mark.realdata
@needs(MSEC)
def test_real_msec_scenes_parse_as_six_scenes_of_five_exposures():
    samples = unpaired_samples(MSEC)
    assert len(samples) == 30
    assert sorted({s.scene for s in samples}) == list(MSEC_SCENES)
    for scene in MSEC_SCENES:
        group = [s for s in samples if s.scene == scene]
        assert [s.name for s in group] == scene_names(scene)
        assert [(s.ev, s.subset) for s in group] == [
            (0.0, "over"),
            (-1.5, "under"),
            (-1.0, "under"),
            (1.5, "over"),
            (1.0, "over"),
        ]
    assert sum(s.subset == "under" for s in samples) == 12


@pytest.mark.realdata
@needs(MSEC)
def test_msec_scenes_config_is_the_real_scenes_as_an_unpaired_test_set(tmp_path):
    """`data=msec_scenes`, as `benchmark datasets=[msec_scenes]` scores it: no targets, an EV per image."""
    cfg = compose_data("msec_scenes", [f"data.test_root={MSEC}", "data.num_workers=0"], tmp_path)
    module = hydra.utils.instantiate(cfg.data)
    module.setup("test")
    samples = module.split_samples("test")
    assert module.name == "msec_scenes" and module.target_kind is None
    assert len(samples) == 30 and all(s.target is None for s in samples)
    assert sorted({s.ev for s in samples}) == [-1.5, -1.0, 0.0, 1.0, 1.5]


@pytest.mark.realdata
@needs(MSEC)
def test_real_msec_files_in_an_afifi_training_tree(tmp_path):
    """The real MSEC inputs (linked into INPUT_IMAGES) pair with ground truths named by their scene."""
    inputs = tmp_path / "training" / "INPUT_IMAGES"
    inputs.mkdir(parents=True)
    for path in sorted(MSEC.glob("*.JPG")):
        (inputs / path.name).symlink_to(path)
    generator = torch.Generator().manual_seed(0)
    for scene in MSEC_SCENES:
        write_image(tmp_path / "training" / "GT_IMAGES" / f"{scene}.jpg", tree_image(generator))
    samples = afifi_samples(tmp_path, "train")
    assert len(samples) == 30
    assert samples[5].name == "a0075-jn_20080814_New_York_City_042_0.JPG"
    assert (
        samples[5].target == tmp_path / "training" / "GT_IMAGES" / "a0075-jn_20080814_New_York_City_042.jpg"
    )


@pytest.mark.realdata
@needs(DICM)
def test_real_dicm_folder_has_64_unpaired_images():
    samples = unpaired_samples(DICM)
    assert len(samples) == 64
    assert (samples[0].name, samples[-1].name) == ("01.jpg", "69.jpg")
    assert all(s.ev is None and s.subset == "" and s.target is None for s in samples)


@pytest.mark.realdata
@needs(IEA)
@pytest.mark.parametrize(
    ("name", "rows", "references", "evs"),
    [
        ("train_256.csv", 36_972, 4_108, {-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0}),
        ("train_256_2ev.csv", 20_540, 4_108, {-2.0, -1.0, 0.0, 1.0, 2.0}),
        ("valid_256_2ev.csv", 4_375, 875, {-2.0, -1.0, 0.0, 1.0, 2.0}),
    ],
)
def test_real_iea40k_csv_counts(name, rows, references, evs):
    from exposure_lab.data.layouts import iea40k_ev

    parsed = read_iea40k_csv(IEA / name)
    assert len(parsed) == rows
    assert len({ref_id for _, ref_id, _ in parsed}) == references
    assert {iea40k_ev(Path(img_id).stem) for img_id, _, _ in parsed} == evs
    assert all(0 <= score <= 10 for _, _, score in parsed)


@pytest.mark.realdata
@needs(IEA)
def test_real_iea40k_csv_rows_against_a_fixture_tree(tmp_path):
    real_csv = IEA / "train_256_2ev.csv"
    head = real_csv.read_text().splitlines()[:11]
    (tmp_path / "train_256_2ev.csv").write_text("\n".join(head) + "\n")
    rows = list(csv.reader(head[1:]))
    root = write_iea40k_tree(tmp_path, [img_id for img_id, _, _ in rows], csv_name=None)
    samples = iea40k_samples(root, "train_256_2ev.csv")
    assert [(s.name, s.scene, s.score) for s in samples] == sorted(
        (img_id, Path(ref_id).stem, float(score)) for img_id, ref_id, score in rows
    )
    first = samples[0]
    assert (first.name, first.scene, first.ev, first.subset, first.score) == (
        "a0001-jmac_DSC1459_N1.png",
        "a0001-jmac_DSC1459",
        -1.0,
        "under",
        7.25,
    )
    assert (samples[2].name, samples[2].ev, samples[2].subset, samples[2].score) == (
        "a0001-jmac_DSC1459_P0.png",
        0.0,
        "over",
        7.77,
    )
    with pytest.raises(DataLayoutError) as error:
        iea40k_samples(root, real_csv)
    assert str(error.value).startswith(
        f"iea40k: 20530 of 20540 images listed in {real_csv} are missing from {root / 'IEA_img'}: "
        "a0003-NKIM_MG_8178_N1.png, a0003-NKIM_MG_8178_N2.png, "
    )
    assert str(error.value).endswith(", …")
