"""`exposure-lab predict ckpt_path=<ckpt>|model=<name> input=<file|folder|video> output=<folder|video>`."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from exposure_lab.checkpoints import build_task, load_task
from exposure_lab.commands import exit_on_user_error
from exposure_lab.config import config_dir
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import InferenceOptions, precision_context, prepare_net
from exposure_lab.prediction.images import predict_paths
from exposure_lab.prediction.outputs import UnreadableImages
from exposure_lab.prediction.video import enhance_video, is_video
from exposure_lab.runs import check_tiles, register_resolvers, require_device


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="predict")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    model = cfg.get("model")
    options = InferenceOptions.from_config(cfg)
    if not cfg.get("input") or not cfg.get("output"):
        raise ExposureLabError("predict needs input=<file or folder> and output=<folder>")
    check_tiles(cfg.tile_size, cfg.tile_overlap)
    require_device(cfg.device, "device")
    if options.backend == "onnxruntime":
        from exposure_lab.prediction.onnx import OnnxEnhancer

        task = OnnxEnhancer(options.model_file, cfg.tile_size, cfg.tile_overlap)
    else:
        # With a checkpoint, `model` holds only `+model.<key>=<value>` overrides of its stored model config.
        if bool(cfg.get("ckpt_path")) == bool(model and "_target_" in model):
            raise ExposureLabError(
                "predict needs exactly one of ckpt_path=<checkpoint> or model=<model name>"
            )
        task = load_task(cfg.ckpt_path, model)[0] if cfg.get("ckpt_path") else build_task(model)
        if task.output_kind == "exposure_map":
            raise ExposureLabError(
                f"{cfg.ckpt_path or cfg.model}: an exposure assessor gives maps, not images; use `assess`"
            )
        task.tile_size, task.tile_overlap = cfg.tile_size, cfg.tile_overlap
        prepare_net(task.net, options)
    with precision_context(options, cfg.device):
        run(cfg, task)


def run(cfg: DictConfig, task: object) -> None:
    """Enhance the video or the images of `cfg.input` with `task` and print the summary."""
    if is_video(cfg.input):
        report = enhance_video(
            task, Path(cfg.input), Path(cfg.output), device=cfg.device, batch_size=cfg.video_batch_size
        )
        (width, height), fps = report.size, float(report.fps)
        print(f"wrote {report.frames} frames, {width}x{height} at {fps:g} fps; audio: {report.audio}")
        print(report.path.resolve())
        return
    try:
        written = predict_paths(task, Path(cfg.input), Path(cfg.output), cfg.device, cfg.on_error)
    except UnreadableImages as exc:
        print(f"wrote {len(exc.written)} image(s); {len(exc.problems)} could not be read")
        raise
    print(f"wrote {len(written)} image(s)")
    print(Path(cfg.output).resolve())


register_resolvers()

if __name__ == "__main__":
    main()
