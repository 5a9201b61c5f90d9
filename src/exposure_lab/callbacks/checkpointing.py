"""Checkpoint callbacks of a training run: resumable across run folders, written atomically."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint that, resumed from a checkpoint of another run folder, copies that run's
    best checkpoints into this run's folder and keeps their scores (Lightning forgets them when the folder
    changes), so the best checkpoint of a resumed run is the best of all its epochs."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        previous = state_dict.get("dirpath")
        if previous and self.dirpath and Path(previous).resolve() != Path(self.dirpath).resolve():
            state_dict = self._carried_over(state_dict, Path(self.dirpath))
        super().load_state_dict(state_dict)

    @staticmethod
    def _carried_over(state: dict[str, Any], folder: Path) -> dict[str, Any]:
        folder.mkdir(parents=True, exist_ok=True)

        def copied(path: str | None) -> str | None:
            if not path:
                return path
            source, copy = Path(path), folder / Path(path).name
            if source.is_file() and not copy.exists():
                partial = copy.with_name(f".{copy.name}.{uuid.uuid4().hex[:8]}.partial")
                shutil.copyfile(source, partial)
                os.replace(partial, copy)
            return str(copy)

        keys = ("best_model_path", "kth_best_model_path", "last_model_path")
        moved = {key: copied(state.get(key)) for key in keys}
        best_k = {copied(path): score for path, score in state.get("best_k_models", {}).items()}
        return {**state, **moved, "best_k_models": best_k, "dirpath": str(folder)}


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it and renames it into place, so an interrupted
    save (a kill, a full disk) leaves the previous checkpoint intact instead of a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        target = Path(path)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            super().save_checkpoint(checkpoint, partial, storage_options)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
