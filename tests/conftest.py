"""Shared fixtures: tiny data sets in real layouts, and the CLI run in-process (helpers: tests/helpers.py)."""

from collections.abc import Callable
from pathlib import Path

import lightning  # noqa: F401  (imported at collection so its log handler binds to pytest's session stream)
import pytest
from tests.helpers import run_cli, write_paired_scenes


@pytest.fixture(scope="session")
def paired_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`write_paired_scenes` of 40×48 scenes, 4 of them for test."""
    return write_paired_scenes(tmp_path_factory.mktemp("paired"), 40, 48, test_scenes=4)


@pytest.fixture(scope="session")
def paired_overrides(paired_root: Path) -> list[str]:
    """Overrides that train the small U-Net on the fixture's training split, testing on its test split."""
    return [
        "data=paired",
        f"data.train_input_dir={paired_root / 'training' / 'INPUT_IMAGES'}",
        f"data.train_target_dir={paired_root / 'training' / 'GT_IMAGES'}",
        f"data.input_dir={paired_root / 'testing' / 'INPUT_IMAGES'}",
        f"data.target_dir={paired_root / 'testing' / 'GT_IMAGES'}",
        "data.patch_size=32",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.val_fraction=0.25",
    ]


@pytest.fixture
def cli() -> Callable[..., list[str]]:
    """`run_cli` as a fixture."""
    return run_cli
