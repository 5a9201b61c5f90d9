"""Where the Hydra configs live and the OmegaConf resolvers they use."""

from pathlib import Path

from omegaconf import OmegaConf


def config_dir() -> Path:
    """The `conf/` folder: inside the installed wheel, or at the top of a source checkout."""
    packaged = Path(__file__).parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "conf"


def metric_mode(metric_key: str) -> str:
    """'max' or 'min' for a logged key such as `val/psnr`, from the metric's direction."""
    from exposure_lab.metrics import higher_is_better

    return "max" if higher_is_better(metric_key) else "min"


def register_resolvers() -> None:
    """Register `${metric_mode:val/psnr}`; safe to call more than once."""
    OmegaConf.register_new_resolver("metric_mode", metric_mode, replace=True)
