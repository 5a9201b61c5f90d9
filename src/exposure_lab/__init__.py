"""exposure_lab: Lightning + Hydra framework for exposure correction and exposure assessment."""

__version__ = "0.1.0"
