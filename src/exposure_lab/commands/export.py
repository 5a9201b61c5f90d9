"""`exposure-lab export ckpt_path=<ckpt>|model=<name> [format=onnx] [out=<file>]`: ONNX + parity check."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from exposure_lab.checkpoints import build_task, load_task
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.prediction.onnx import export_with_parity, parity_image
from exposure_lab.runs import register_resolvers

FORMATS = ("onnx",)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="export")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    model = cfg.get("model")
    if bool(cfg.get("ckpt_path")) == bool(model and "_target_" in model):
        raise ExposureLabError("export needs exactly one of ckpt_path=<checkpoint> or model=<model name>")
    if cfg.format not in FORMATS:
        raise ExposureLabError(f"format must be one of {', '.join(FORMATS)}, got {cfg.format!r}")
    task = load_task(cfg.ckpt_path, model)[0] if cfg.get("ckpt_path") else build_task(model)
    name = Path(cfg.ckpt_path).stem if cfg.get("ckpt_path") else hydra_model_name(cfg)
    out = Path(cfg.out or f"{name}.onnx")
    path, difference = export_with_parity(task.net, out, parity_image(), float(cfg.tolerance))
    print(f"ONNX Runtime vs PyTorch on a 200x264 photo: max abs difference {difference:.3g}")
    print(path.resolve())


def hydra_model_name(cfg: DictConfig) -> str:
    """The `model=<name>` choice of this run (the config group option), for the default file name."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get("model") or "model"


register_resolvers()

if __name__ == "__main__":
    main()
