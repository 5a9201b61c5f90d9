"""Lightning callbacks: image grids, training curves, staged patch-size training."""

from exposure_lab.callbacks.image_grid import ImageGridCallback
from exposure_lab.callbacks.staged_training import ActiveStage, StagedTraining
from exposure_lab.callbacks.training_curves import TrainingCurvesCallback

__all__ = ["ActiveStage", "ImageGridCallback", "StagedTraining", "TrainingCurvesCallback"]
