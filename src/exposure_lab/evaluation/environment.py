"""What a result was measured with: git commit, package versions, device name and thread count."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from exposure_lab.config import config_dir

PACKAGES = (
    "exposure_lab",
    "torch",
    "torchvision",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "kornia",
    "numpy",
)


def git_commit(repo: Path | None = None) -> str:
    """`<commit>` of the source checkout (`+dirty` with uncommitted changes), or `unknown` outside one."""
    repo = repo or config_dir().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution (`not installed` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(accelerator: str = "cpu") -> str:
    """The GPU's name when `accelerator` uses CUDA and one is present, else the CPU model with its cores."""
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{cpu_name()} ({os.cpu_count()} logical cores)"


def environment(accelerator: str = "cpu") -> dict[str, Any]:
    """git commit, package versions, device name, torch threads, Python and OS."""
    return {
        "git_commit": git_commit(),
        "packages": package_versions(),
        "device": device_name(accelerator),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
