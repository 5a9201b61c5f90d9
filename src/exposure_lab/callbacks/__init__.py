"""Lightning callbacks: image grids, training curves, staged patch-size training, run checkpoints, exact
resume, divergence, training speed."""

from exposure_lab.callbacks.checkpointing import AtomicCheckpointIO, RunCheckpoint
from exposure_lab.callbacks.divergence import StopOnDivergence
from exposure_lab.callbacks.image_grid import ImageGridCallback
from exposure_lab.callbacks.resume import ExactResume
from exposure_lab.callbacks.staged_training import ActiveStage, StagedTraining
from exposure_lab.callbacks.training_curves import TrainingCurvesCallback
from exposure_lab.callbacks.training_speed import TrainingSpeed

__all__ = [
    "ActiveStage",
    "AtomicCheckpointIO",
    "ExactResume",
    "ImageGridCallback",
    "RunCheckpoint",
    "StagedTraining",
    "StopOnDivergence",
    "TrainingCurvesCallback",
    "TrainingSpeed",
]
