"""Patch rejection rules and random corner search (LMSPEC / Endo-LMSPEC recipe)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from scipy import ndimage

from exposure_lab.data.patch_rules import REASONS, PatchRules, choose_corners, patch_scores, rejection_codes
from exposure_lab.errors import DataLayoutError

LMSPEC = PatchRules()
ENDO = PatchRules(rule="endo_lmspec", reference="input")


def constant(value: float, size: int = 16) -> torch.Tensor:
    return torch.full((1, 3, size, size), value, dtype=torch.float64)


def stripes(low: int, high: int, size: int = 16) -> torch.Tensor:
    """8-bit vertical stripes of period 4 (low, low, high, high), as (1, 3, s, s) in [0, 1]."""
    row = torch.tensor([low, low, high, high] * (size // 4), dtype=torch.float64) / 255
    return row.expand(1, 3, size, size).clone()


def ramp(step: float, size: int = 16, start: float = 0.2) -> torch.Tensor:
    """Gray ramp along x rising by `step` per pixel, as (1, 3, s, s)."""
    row = start + step * torch.arange(size, dtype=torch.float64)
    return row.expand(1, 3, size, size).clone()


def codes(patches: torch.Tensor, rules: PatchRules) -> list[str]:
    return [REASONS[c] for c in rejection_codes(patches, rules).tolist()]


def textured(generator: torch.Generator, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3) image with structure at several scales."""
    coarse = torch.rand(1, 3, 6, 7, generator=generator)
    image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    image = 0.15 + 0.7 * (0.75 * image + 0.25 * torch.rand(1, 3, height, width, generator=generator))
    return (image.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------------- rules


def test_lmspec_rejects_dark_bright_and_flat_ground_truth_patches():
    patches = torch.cat([constant(0.004), constant(0.995), constant(0.5), stripes(60, 200)])
    assert codes(patches, LMSPEC) == ["dark", "bright", "flat", "kept"]


def test_lmspec_dark_is_the_channel_sum_per_pixel_and_bright_the_mean_at_the_boundary():
    no_gradient = PatchRules(min_gradient=0.0)
    # dark compares sum(G)/s² (three channels) with 0.02, i.e. a gray level of 0.02 / 3
    assert codes(constant(0.02 / 3 - 1e-4), no_gradient) == ["dark"]
    assert codes(constant(0.02 / 3 + 1e-4), no_gradient) == ["kept"]
    assert codes(constant(0.0199), no_gradient) == ["kept"]
    assert codes(constant(0.98 + 1e-4), no_gradient) == ["bright"]
    assert codes(constant(0.98 - 1e-4), no_gradient) == ["kept"]


def test_lmspec_gradient_is_matlab_imgradient_of_rgb2gray_on_a_ramp():
    # Sobel 3×3 unnormalised, replicated border: 8·step inside, 4·step on the first and last column.
    size, step = 16, 0.01
    expected = (8 * step * (size - 2) + 4 * step * 2) / size
    assert patch_scores(ramp(step, size), LMSPEC)["flat"].item() == pytest.approx(expected, abs=1e-12)
    # and on the boundary of min_gradient (0.06) from both sides
    for target, reason in ((0.0605, "kept"), (0.0595, "flat")):
        assert codes(ramp(target * size / (8 * (size - 1)), size), LMSPEC) == [reason]


def test_lmspec_gradient_matches_scipy_sobel_with_nearest_border_on_random_patches():
    patches = torch.rand(3, 3, 20, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gray = np.einsum(
        "nchw,c->nhw", patches.numpy(), [0.298936021293775, 0.587043074451121, 0.114020904255103]
    )
    expected = [
        np.hypot(ndimage.sobel(g, axis=1, mode="nearest"), ndimage.sobel(g, axis=0, mode="nearest")).mean()
        for g in gray
    ]
    np.testing.assert_allclose(patch_scores(patches, LMSPEC)["flat"].numpy(), expected, rtol=1e-12)


def test_endo_lmspec_rounds_the_mean_to_two_decimals_before_the_thresholds():
    # raw means 0.0137 / 0.0157 round to 0.01 (dark) / 0.02 (kept); 0.9863 / 0.9824 to 0.99 / 0.98
    assert codes(stripes(0, 7), ENDO) == ["dark"]
    assert codes(stripes(0, 8), ENDO) == ["kept"]
    assert codes(stripes(248, 255), ENDO) == ["bright"]
    assert codes(stripes(246, 255), ENDO) == ["kept"]
    assert codes(stripes(246, 255), LMSPEC) == ["bright"]  # LMSPEC does not round: mean 0.982 > 0.98


def test_endo_lmspec_gradient_is_the_magnitude_sum_over_pixels_times_peak():
    # A vertical step: magnitude 4·step on two columns (cv2 reflect-101 border), so the score is 2 / s.
    def step_edge(size: int) -> torch.Tensor:
        row = torch.tensor([100.0] * (size // 2) + [150.0] * (size // 2), dtype=torch.float64) / 255
        return row.expand(1, 3, size, size).clone()

    assert patch_scores(step_edge(32), ENDO)["flat"].item() == pytest.approx(2 / 32)
    assert codes(step_edge(32), ENDO) == ["kept"]  # 0.0625
    assert codes(step_edge(34), ENDO) == ["flat"]  # 0.0588
    assert codes(constant(0.5), ENDO) == ["flat"]  # 0/0 in the official code; flat here


def test_endo_lmspec_gradient_matches_pillow_gray_and_scipy_sobel_with_mirror_border():
    generator = torch.Generator().manual_seed(1)
    patches = torch.randint(0, 256, (3, 3, 24, 24), generator=generator).to(torch.float64) / 255
    expected = []
    for patch in patches:
        rgb = (patch.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        gray = np.asarray(ImageOps.grayscale(Image.fromarray(rgb)), dtype=np.float64)
        magnitude = np.hypot(ndimage.sobel(gray, 1, mode="mirror"), ndimage.sobel(gray, 0, mode="mirror"))
        expected.append(magnitude.sum() / (24 * 24 * magnitude.max()))
    np.testing.assert_allclose(patch_scores(patches, ENDO)["flat"].numpy(), expected, rtol=1e-12)


def test_rules_from_config_validate_keys_and_values():
    rules = PatchRules.from_config(
        {"mode": "online", "rule": "endo_lmspec", "reference": "N1.5", "thresholds": {"dark": 0.1}}
    )
    assert (rules.rule, rules.reference, rules.reference_ev, rules.dark, rules.bright) == (
        "endo_lmspec",
        "-1.5",
        -1.5,
        0.1,
        0.98,
    )
    assert PatchRules.from_config({"reference": 0}).reference == "0"
    assert PatchRules.from_config(rules.to_config()) == rules
    with pytest.raises(DataLayoutError) as error:
        PatchRules.from_config(
            {"rule": "msec", "reference": "expert_c", "max_tries": 0, "thresholds": {"darkness": 1}, "x": 1}
        )
    message = str(error.value)
    for part in ("'x'", "thresholds.darkness", "rule must be", "reference must be", "max_tries"):
        assert part in message


# --------------------------------------------------------------------------------------------- corners


def test_choose_corners_keeps_count_windows_inside_the_image_reproducibly():
    image = torch.from_numpy(textured(torch.Generator().manual_seed(0), 60, 80)).permute(2, 0, 1) / 255
    first = choose_corners(image, 24, 7, LMSPEC, torch.Generator().manual_seed(3))
    again = choose_corners(image, 24, 7, LMSPEC, torch.Generator().manual_seed(3))
    other = choose_corners(image, 24, 7, LMSPEC, torch.Generator().manual_seed(4))
    assert len(first.corners) == 7 and first.tries == 7 + sum(first.rejected.values())
    assert first == again and first.corners != other.corners
    # randi(H − s) as the official code: top in [0, H − s − 1]
    assert all(0 <= top < 60 - 24 and 0 <= left < 80 - 24 for top, left in first.corners)
    crops = torch.stack([image[:, top : top + 24, left : left + 24] for top, left in first.corners])
    assert rejection_codes(crops, LMSPEC).eq(0).all()


def test_choose_corners_stops_after_max_tries_rejected_candidates():
    flat = torch.full((3, 64, 64), 0.5)
    search = choose_corners(flat, 16, 5, PatchRules(max_tries=37), torch.Generator().manual_seed(0))
    assert (
        search.corners == []
        and search.tries == 37
        and search.rejected == {"dark": 0, "bright": 0, "flat": 37}
    )
    # half black, half textured: the search keeps going until max_tries rejections, kept ones do not count
    image = torch.from_numpy(textured(torch.Generator().manual_seed(1), 64, 128)).permute(2, 0, 1) / 255
    image[:, :, :64] = 0
    search = choose_corners(image, 16, 1000, PatchRules(max_tries=25), torch.Generator().manual_seed(0))
    assert sum(search.rejected.values()) == 25 and search.rejected["dark"] > 0
    assert search.tries == len(search.corners) + 25 and len(search.corners) > 0


def test_choose_corners_gives_nothing_for_an_image_not_larger_than_the_patch():
    image = torch.rand(3, 32, 48)
    assert choose_corners(image, 32, 4, LMSPEC).corners == []
    assert choose_corners(image, 31, 4, LMSPEC).corners != []


# ------------------------------------------------------------------------------------------ extraction
