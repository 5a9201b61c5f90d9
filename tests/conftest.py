"""Shared fixtures: tiny data sets in real layouts, and the CLI run in-process."""

import contextlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import lightning  # noqa: F401  (imported at collection so its log handler binds to pytest's session stream)
import pytest
import torch

from exposure_lab.cli import run_command
from exposure_lab.data.io import write_image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(min(2, torch.get_num_threads()))


def smooth_image(generator: torch.Generator, height: int, width: int) -> torch.Tensor:
    """A (3,H,W) image in [0,1] with structure at several scales (upsampled noise), not flat."""
    coarse = torch.rand(1, 3, 5, 6, generator=generator)
    fine = torch.rand(1, 3, height, width, generator=generator)
    image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    return (0.8 * image + 0.2 * fine).clamp(0, 1)[0]


@pytest.fixture(scope="session")
def paired_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """INPUT/GT folders: 8 scenes of 40×48, each at EV −1 (darker) and +1 (brighter), Afifi-style names."""
    root = tmp_path_factory.mktemp("paired")
    generator = torch.Generator().manual_seed(0)
    for scene in range(8):
        target = smooth_image(generator, 40, 48)
        write_image(root / "GT_IMAGES" / f"scene{scene:02d}.png", target)
        write_image(root / "INPUT_IMAGES" / f"scene{scene:02d}_N1.png", target * 0.45)
        write_image(root / "INPUT_IMAGES" / f"scene{scene:02d}_P1.png", (target * 1.6).clamp(0, 1))
    return root / "INPUT_IMAGES", root / "GT_IMAGES"


@pytest.fixture(scope="session")
def paired_overrides(paired_folders: tuple[Path, Path]) -> list[str]:
    """Overrides that train/eval the small U-Net quickly on the paired fixture."""
    input_dir, target_dir = paired_folders
    return [
        "data=paired",
        f"data.input_dir={input_dir}",
        f"data.target_dir={target_dir}",
        "data.patch_size=32",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.val_fraction=0.25",
    ]


def run_cli(command: str, *overrides: str) -> list[str]:
    """Run `exposure-lab <command> <overrides>` in this process; returns the non-empty stdout lines."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run_command(command, list(overrides))
    print(buffer.getvalue())
    return [line for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.fixture
def cli() -> Callable[..., list[str]]:
    """`run_cli` as a fixture."""
    return run_cli


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
