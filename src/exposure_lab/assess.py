"""`exposure-lab assess ckpt_path=<assessor ckpt> input=<file|folder> output=<folder>`: exposure maps."""

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig
from tqdm.auto import tqdm

from exposure_lab.checkpoints import load_task
from exposure_lab.config import config_dir, register_resolvers
from exposure_lab.data.io import IMAGE_EXTENSIONS, list_images, read_image
from exposure_lab.data.pairing import split_ev_suffix
from exposure_lab.errors import DataLayoutError, ExposureLabError, exit_on_user_error
from exposure_lab.exposure_maps import (
    MAP_FORMATS,
    exposure_statistics,
    residual_of,
    write_colour_bar,
    write_heatmap,
    write_residual,
    write_scores,
)


def image_files(input: Path) -> list[Path]:
    """`input` itself when it is an image file, else the images of the folder `input` (sorted)."""
    if input.is_dir():
        paths = list_images(input)
        if not paths:
            raise DataLayoutError(f"{input}: no images in this folder")
        return paths
    if not input.is_file() or input.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataLayoutError(f"{input}: not an image file or a folder of images")
    return [input]


def assess_paths(
    task: Any, input: Path, output: Path, device: str = "cpu", map_format: str = "png", threshold: float = 0.1
) -> list[dict[str, Any]]:
    """Write the residual map, heatmap and statistics of every image of `input` into `output` (see
    conf/assess.yaml); `task` is any object with `residual_map`. Returns the scores.csv rows."""
    if map_format not in MAP_FORMATS:
        raise ExposureLabError(f"map_format must be one of {', '.join(MAP_FORMATS)}, got {map_format!r}")
    paths = image_files(input)
    output.mkdir(parents=True, exist_ok=True)
    task = task.to(device).eval()
    rows = []
    for path in tqdm(paths, desc="assess", unit="img", disable=len(paths) < 2):
        residual = residual_of(task, read_image(path).to(device)).cpu()
        write_residual(output / f"{path.stem}_residual.{map_format}", residual)
        write_heatmap(output / f"{path.stem}_heatmap.png", residual)
        rows.append(
            {
                "name": path.name,
                "ev": split_ev_suffix(path.stem)[1],
                **exposure_statistics(residual, threshold),
            }
        )
    write_colour_bar(output / "colour_bar.png")
    write_scores(output / "scores.csv", rows)
    return rows


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="assess")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    if not cfg.get("ckpt_path") or not cfg.get("input") or not cfg.get("output"):
        raise ExposureLabError(
            "assess needs ckpt_path=<assessor checkpoint>, input=<file|folder> and output=<folder>"
        )
    task = load_task(cfg.ckpt_path)[0]
    if not hasattr(task, "residual_map"):
        raise ExposureLabError(f"{cfg.ckpt_path}: not an exposure assessor (its model has no residual_map)")
    output = Path(cfg.output)
    rows = assess_paths(task, Path(cfg.input), output, cfg.device, cfg.map_format, float(cfg.threshold))
    mean_score = sum(row["score"] for row in rows) / len(rows)
    print(f"assessed {len(rows)} image(s), mean score {mean_score:.3f}")
    print(output.resolve())


register_resolvers()

if __name__ == "__main__":
    main()
