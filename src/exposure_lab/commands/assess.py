"""`exposure-lab assess ckpt_path=<assessor ckpt> input=<file|folder> output=<folder>`: exposure maps."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from exposure_lab.checkpoints import load_task
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import InferenceOptions, precision_context, prepare_net
from exposure_lab.prediction.exposure_maps import assess_paths
from exposure_lab.prediction.outputs import UnreadableImages
from exposure_lab.runs import register_resolvers, require_device


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="assess")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    if not cfg.get("ckpt_path") or not cfg.get("input") or not cfg.get("output"):
        raise ExposureLabError(
            "assess needs ckpt_path=<assessor checkpoint>, input=<file|folder> and output=<folder>"
        )
    task = load_task(cfg.ckpt_path)[0]
    if task.output_kind != "exposure_map":
        raise ExposureLabError(f"{cfg.ckpt_path}: not an exposure assessor (its model has no residual_map)")
    require_device(cfg.device, "device")
    inference = InferenceOptions.from_config(cfg)
    prepare_net(task.net, inference)
    output = Path(cfg.output)
    options = (cfg.device, cfg.map_format, float(cfg.threshold), cfg.on_error)
    try:
        with precision_context(inference, cfg.device):
            rows = assess_paths(task, Path(cfg.input), output, *options)
    except UnreadableImages as exc:
        print(f"assessed the other images into {output.resolve()}; {len(exc.problems)} could not be read")
        raise
    mean_score = sum(row["score"] for row in rows) / len(rows)
    print(f"assessed {len(rows)} image(s), mean score {mean_score:.3f}")
    print(output.resolve())


register_resolvers()

if __name__ == "__main__":
    main()
