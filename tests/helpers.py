"""Test helpers: tiny data sets in real layouts, composed configs, and the CLI run in-process."""

import contextlib
import io
import json
import os
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from exposure_lab.cli import run_command
from exposure_lab.config import config_dir
from exposure_lab.data.io import write_image
from exposure_lab.runs import register_resolvers

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# `make test` runs two pytest workers on this 2-core machine: one thread each (and for their children)
_THREADS = max(1, min(2, os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
torch.set_num_threads(_THREADS)


def smooth_image(generator: torch.Generator, height: int, width: int) -> torch.Tensor:
    """A (3,H,W) image in [0,1] with structure at several scales (upsampled noise), not flat."""
    coarse = torch.rand(1, 3, 5, 6, generator=generator)
    fine = torch.rand(1, 3, height, width, generator=generator)
    image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    return (0.8 * image + 0.2 * fine).clamp(0, 1)[0]


TEST_IMAGES = 8  # 4 test scenes × 2 exposures in the paired fixture


def write_paired_scenes(root: Path, height: int, width: int, test_scenes: int) -> Path:
    """Afifi-style `training|testing/{INPUT_IMAGES,GT_IMAGES}` under `root`: 8 training and `test_scenes` test
    scenes of height×width, each at EV −1 (darker) and +1."""
    generator = torch.Generator().manual_seed(0)
    for split, scenes in (("training", range(8)), ("testing", range(8, 8 + test_scenes))):
        for scene in scenes:
            target = smooth_image(generator, height, width)
            write_image(root / split / "GT_IMAGES" / f"scene{scene:02d}.png", target)
            write_image(root / split / "INPUT_IMAGES" / f"scene{scene:02d}_N1.png", target * 0.45)
            write_image(
                root / split / "INPUT_IMAGES" / f"scene{scene:02d}_P1.png", (target * 1.6).clamp(0, 1)
            )
    return root


def compose_config(config_name: str, overrides: list[str], run_dir: Path) -> DictConfig:
    """Compose an entry config as Hydra would for a run in `run_dir`, fully resolved (without `hydra`)."""
    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.runtime.cwd = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    del cfg.hydra
    OmegaConf.resolve(cfg)
    return cfg


def compose_data(name: str, overrides: list[str], run_dir: Path) -> DictConfig:
    """The train config with `data=<name>` and `overrides`, resolved for a run in `run_dir`."""
    return compose_config("train", [f"data={name}", *overrides], run_dir)


def run_cli(command: str, *overrides: str) -> list[str]:
    """Run `exposure-lab <command> <overrides>` in this process; returns the non-empty stdout lines."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run_command(command, list(overrides))
    print(buffer.getvalue())
    return [line for line in buffer.getvalue().splitlines() if line.strip()]


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
