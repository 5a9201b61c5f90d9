"""LMSPEC (Afifi et al., CVPR 2021) / Endo-LMSPEC (García-Vega et al., ISBI 2023) patch rejection rules and
random corner search.

Random windows of a reference image (the ground truth, an input, or the input at a given EV) are screened
by the rejection rules (too dark, too bright, too flat). `choose_corners` serves on-the-fly crops
(`patches=online`) and the offline extraction of `exposure_lab.data.patches`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from exposure_lab.config import plain
from exposure_lab.data.pairing import EV_SUFFIXES
from exposure_lab.errors import DataLayoutError

REASONS = ("kept", "dark", "bright", "flat")
RULES = ("lmspec", "endo_lmspec")
# MATLAB rgb2gray on double images (luma row of inv(YIQ)), used by LMSPEC's imgradient(rgb2gray(G)).
_MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
# Pillow's 8-bit "L" (ImageOps.grayscale, used by Endo-LMSPEC): (R·19595 + G·38470 + B·7471 + 2^15) >> 16.
_PILLOW_GRAY = (19595, 38470, 7471)
_CHUNK_ELEMENTS = 2**22  # float64 values of the candidate patches screened at once (32 MB)


@dataclass(frozen=True)
class PatchRules:
    """How candidate windows are screened.

    `rule`: "lmspec" (screen the ground-truth patch: dark if the per-pixel channel sum averages below `dark`,
    bright if the mean exceeds `bright`, flat if the mean Sobel magnitude of its gray image is below
    `min_gradient`) or "endo_lmspec" (screen the exposed patch: mean rounded to 2 decimals below `dark` or
    above `bright`, or Sobel magnitude sum / (pixels · max magnitude) below `min_gradient`).
    `reference`: the image screened — "gt", "input" (each input screens its own windows) or an EV such as
    "0" (the scene's input at that EV; for sets without ground truth). `max_tries`: rejected candidates after
    which the search gives up (the official `trials`; kept candidates do not count).
    """

    rule: str = "lmspec"
    reference: str = "gt"
    max_tries: int = 200
    dark: float = 0.02
    bright: float = 0.98
    min_gradient: float = 0.06

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PatchRules:
        """Rules from a conf/patches mapping (`rule`, `reference`, `max_tries`, `thresholds.{dark, bright,
        min_gradient}`; the loader keys `mode`, `root` and `validate_on_patches` are ignored); one
        DataLayoutError lists every bad key or value."""
        config = plain(config)
        problems = [
            f"unknown key {key!r} (expected rule, reference, max_tries, thresholds)"
            for key in config
            if key
            not in ("rule", "reference", "max_tries", "thresholds", "mode", "root", "validate_on_patches")
        ]
        thresholds = config.get("thresholds") or {}
        if not isinstance(thresholds, Mapping):
            problems.append(f"thresholds must map dark/bright/min_gradient to numbers, got {thresholds!r}")
            thresholds = {}
        problems += [
            f"unknown key 'thresholds.{key}' (expected dark, bright, min_gradient)"
            for key in thresholds
            if key not in ("dark", "bright", "min_gradient")
        ]
        defaults = cls()
        rule = config.get("rule", defaults.rule)
        if rule not in RULES:
            problems.append(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
        reference = _reference_name(config.get("reference", defaults.reference))
        if reference is None:
            problems.append(
                f"reference must be gt, input or an EV of {sorted(set(EV_SUFFIXES.values()))} "
                f"(e.g. 0 or N1.5), got {config.get('reference')!r}"
            )
        max_tries = config.get("max_tries", defaults.max_tries)
        if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
            problems.append(f"max_tries must be a positive integer, got {max_tries!r}")
        values = {
            key: thresholds.get(key, getattr(defaults, key)) for key in ("dark", "bright", "min_gradient")
        }
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                problems.append(f"thresholds.{key} must be a non-negative number, got {value!r}")
        if problems:
            raise DataLayoutError("patch rules: " + "; ".join(problems))
        return cls(
            rule=rule,
            reference=str(reference),
            max_tries=max_tries,
            **{key: float(value) for key, value in values.items()},
        )

    def to_config(self) -> dict[str, Any]:
        """The conf/patches mapping of these rules (inverse of `from_config`)."""
        return {
            "rule": self.rule,
            "reference": self.reference,
            "max_tries": self.max_tries,
            "thresholds": {"dark": self.dark, "bright": self.bright, "min_gradient": self.min_gradient},
        }

    @property
    def reference_ev(self) -> float | None:
        """The EV of the reference input, or None when the reference is "gt" or "input"."""
        return None if self.reference in ("gt", "input") else float(self.reference)


def patch_scores(patches: torch.Tensor, rules: PatchRules) -> dict[str, torch.Tensor]:
    """The (N,) float64 values `rules` compare, for patches (N, 3, s, s) in [0, 1]: "dark" (rejected when
    below `rules.dark`), "bright" (above `rules.bright`) and "flat" (below `rules.min_gradient`)."""
    if patches.ndim != 4 or patches.shape[1] != 3:
        raise ValueError(f"expected patches of shape (N, 3, s, s), got {tuple(patches.shape)}")
    import kornia.filters

    x = patches.detach().to(torch.float64)
    height, width = x.shape[-2:]
    if rules.rule == "lmspec":
        gray = torch.einsum("nchw,c->nhw", x, x.new_tensor(_MATLAB_GRAY))[:, None]
        # kornia's unnormalised Sobel with its replicated border is MATLAB's imgradient(…, 'sobel') exactly.
        gradient = kornia.filters.spatial_gradient(gray, mode="sobel", normalized=False)
        return {
            "dark": x.sum(dim=(1, 2, 3)) / (height * width),
            "bright": x.mean(dim=(1, 2, 3)),
            "flat": gradient.square().sum(dim=2).sqrt().mean(dim=(1, 2, 3)),
        }
    # Endo-LMSPEC is defined only by its code, so this follows it exactly, because each step changes which
    # patches pass: the mean rounded to 2 decimals, Pillow's 8-bit gray, cv2.Sobel's default border
    # (reflect-101, kornia's "reflect"), magnitude sum / (pixels · max magnitude). One deviation: a constant
    # patch (max magnitude 0, a 0/0 that the official code lets through) scores 0, so it is flat.
    mean = torch.round(x.mean(dim=(1, 2, 3)) * 100) / 100
    weighted = torch.einsum("nchw,c->nhw", torch.round(x * 255), x.new_tensor(_PILLOW_GRAY))
    gray = torch.floor((weighted + 2**15) / 2**16)[:, None]
    kernels = kornia.filters.get_spatial_gradient_kernel2d("sobel", 1, dtype=x.dtype)
    gx = kornia.filters.filter2d(gray, kernels[:1], border_type="reflect")
    gy = kornia.filters.filter2d(gray, kernels[1:], border_type="reflect")
    magnitude = (gx.square() + gy.square()).sqrt()
    peak = magnitude.amax(dim=(1, 2, 3))
    ratio = magnitude.sum(dim=(1, 2, 3)) / (height * width * peak.clamp_min(1e-12))
    return {"dark": mean, "bright": mean, "flat": torch.where(peak > 0, ratio, 0.0)}


def rejection_codes(patches: torch.Tensor, rules: PatchRules) -> torch.Tensor:
    """Why each patch is rejected: (N,) int64 indices into REASONS (0 = kept) for (N, 3, s, s) in [0, 1].

    Dark is tested first, then bright, then flat, as in the official loops (see `patch_scores`).
    """
    scores = patch_scores(patches, rules)
    codes = torch.zeros(patches.shape[0], dtype=torch.int64)
    codes[scores["flat"] < rules.min_gradient] = REASONS.index("flat")
    codes[scores["bright"] > rules.bright] = REASONS.index("bright")
    codes[scores["dark"] < rules.dark] = REASONS.index("dark")
    return codes


@dataclass
class CornerSearch:
    """Result of `choose_corners`: accepted (top, left) corners, rejected candidates by reason, candidates
    evaluated (`tries` = kept + rejected)."""

    corners: list[tuple[int, int]] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS[1:], 0))
    tries: int = 0


def choose_corners(
    reference: torch.Tensor,
    size: int,
    count: int,
    rules: PatchRules,
    generator: torch.Generator | None = None,
) -> CornerSearch:
    """Up to `count` top-left corners of `size`×`size` windows of `reference` ((3, H, W) in [0, 1]) that
    pass `rules`, drawn uniformly at random (torch's RNG, or `generator`) and screened in vectorised chunks.

    As the official loop, the search stops at `count` kept windows or `max_tries` rejected ones, and corners
    are drawn as MATLAB's randi(H − size): the last position is never drawn, so an image not strictly larger
    than `size` yields no corners. The result depends only on the arguments and the generator state.
    """
    height, width = reference.shape[-2:]
    search = CornerSearch()
    if height <= size or width <= size or count < 1:
        return search
    offsets = torch.arange(size)
    chunk_cap = max(1, _CHUNK_ELEMENTS // (3 * size * size))
    rejected = 0
    while len(search.corners) < count and rejected < rules.max_tries:
        missing = count - len(search.corners)
        chunk = min(chunk_cap, max(2 * missing, 8), missing + rules.max_tries - rejected)
        tops = torch.randint(height - size, (chunk,), generator=generator)
        lefts = torch.randint(width - size, (chunk,), generator=generator)
        rows = (tops[:, None] + offsets)[:, :, None]
        cols = (lefts[:, None] + offsets)[:, None, :]
        codes = rejection_codes(reference[:, rows, cols].transpose(0, 1), rules)
        kept_so_far = (codes == 0).cumsum(0) + len(search.corners)
        rejected_so_far = (codes != 0).cumsum(0) + rejected
        stops = ((kept_so_far >= count) | (rejected_so_far >= rules.max_tries)).nonzero()
        used = int(stops[0]) + 1 if len(stops) else chunk
        codes = codes[:used]
        search.corners += [
            (top, left)
            for top, left, code in zip(
                tops[:used].tolist(), lefts[:used].tolist(), codes.tolist(), strict=True
            )
            if code == 0
        ]
        for reason, n in zip(REASONS[1:], torch.bincount(codes, minlength=4)[1:].tolist(), strict=True):
            search.rejected[reason] += n
        rejected += int((codes != 0).sum())
        search.tries += used
    return search


def _reference_name(value: Any) -> str | None:
    if value in ("gt", "input"):
        return value
    if isinstance(value, str) and value in EV_SUFFIXES:
        value = EV_SUFFIXES[value]
    try:
        ev = float(value)
    except (TypeError, ValueError):
        return None
    return f"{ev:g}" if ev in EV_SUFFIXES.values() else None
