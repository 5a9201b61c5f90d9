"""EV suffix parsing and pairing of inputs with targets by file stem."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exposure_lab.data.pairing import EV_SUFFIXES, pair_by_stem, split_ev_suffix, subset_of_ev
from exposure_lab.errors import DataLayoutError


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("a0001-jmac_DSC1459_N1.5", ("a0001-jmac_DSC1459", -1.5)),
        ("a0001-jmac_DSC1459_N1", ("a0001-jmac_DSC1459", -1.0)),
        ("a0001-jmac_DSC1459_0", ("a0001-jmac_DSC1459", 0.0)),
        ("a0001-jmac_DSC1459_P1", ("a0001-jmac_DSC1459", 1.0)),
        ("a0001-jmac_DSC1459_P1.5", ("a0001-jmac_DSC1459", 1.5)),
        ("a0001-jmac_DSC1459", ("a0001-jmac_DSC1459", None)),
        ("scene_00", ("scene_00", None)),
        ("IMG_P2", ("IMG_P2", None)),
        ("_P1", ("_P1", None)),
        ("P1", ("P1", None)),
    ],
)
def test_split_ev_suffix(stem, expected):
    assert split_ev_suffix(stem) == expected


def test_ev_table_and_subsets():
    assert EV_SUFFIXES == {"N1.5": -1.5, "N1": -1.0, "0": 0.0, "P1": 1.0, "P1.5": 1.5}
    assert [subset_of_ev(ev) for ev in (-1.5, -1.0, 0.0, 1.0, 1.5)] == ["under"] * 2 + ["over"] * 3
    assert subset_of_ev(None) == "" and subset_of_ev(math.nan) == ""


def test_pair_by_stem_uses_ev_stripped_stem_and_any_extension():
    inputs = [Path("in/x_N1.5.jpg"), Path("in/x_P1.5.jpg"), Path("in/y.png")]
    targets = [Path("gt/x.png"), Path("gt/y.tif")]
    assert pair_by_stem(inputs, targets) == [
        (Path("in/x_N1.5.jpg"), Path("gt/x.png")),
        (Path("in/x_P1.5.jpg"), Path("gt/x.png")),
        (Path("in/y.png"), Path("gt/y.tif")),
    ]


def test_exact_stem_wins_over_stripped_stem():
    inputs = [Path("in/a_0.png")]
    assert pair_by_stem(inputs, [Path("gt/a.png"), Path("gt/a_0.png")]) == [(inputs[0], Path("gt/a_0.png"))]


def test_unmatched_inputs_are_listed_in_one_line():
    inputs = [Path(f"in/orphan{i:02d}_P1.png") for i in range(12)] + [Path("in/ok_N1.png")]
    with pytest.raises(DataLayoutError) as info:
        pair_by_stem(inputs, [Path("gt/ok.png")])
    message = str(info.value)
    assert "\n" not in message
    assert "12 of 13 input images in in have no target" in message
    assert "orphan00_P1.png" in message and "orphan09_P1.png" in message
    assert "orphan10_P1.png" not in message and "…" in message
    assert "gt" in message


def test_ambiguous_target_stems_are_an_error():
    with pytest.raises(DataLayoutError, match=r"share a stem \(1\): a"):
        pair_by_stem([Path("in/a.png")], [Path("gt/a.png"), Path("gt/a.jpg")])
