"""`make bench` / `exposure-lab bench [key=value ...]`: cost of the model configs' nets, the metrics and data
loading on this machine, as JSON.

Keys (all optional):
  model=<name> | models=[a,b]   only these conf/model configs (then no metric and data sections)
  sizes=[256,512]               square forward sizes
  repeats=5                     timed calls per measurement (median) …
  time_budget_s=10              … fewer (at least one) when they would take longer than this
  max_gmacs=<G>                 skip a timing whose one call costs more GMACs (a training step counts 3× its
                                forward); default: no limit for named models, 150 for all configs
  train_size=128 train_batch=4  training-throughput batch
  out=<file.json>               also write the JSON here
  speed=default | speed=[unet:512,...]  instead: the machine's fp32/bf16 matmul peak, then per net:size the
                                latency of eager fp32 NCHW, fast fp32, bf16 and ONNX Runtime, speed-ups,
                                GFLOP/s, share of peak and output differences (`make bench`)
  onnx_models=[zero_dce_pp,unet]  the nets of the speed table also timed with ONNX Runtime (export first)
  compile_models=[p_ieanet,p_ieanet_release]  … also timed with precision=bf16 compile=true (the compile
                                time, about 100 s per net here, is its own column)
With speed= also (defaults with speed=default, else off; [] turns one off):
  train_models=[unet,lmspec,mirnet_small,zero_dce_pp]  training images/s in fp32 and bf16-mixed at
                                train_size × train_batch, beside one data-loader worker's items/s
  large_images=[6,12,24] large_model=unet  tiled predict of a 6/12/24-megapixel PNG: s, ms/MP, peak memory
  video_models=[zero_dce_pp:model.net.scale_factor=12,lmspec]  predict of a 1280×720 clip: frames/s
  seam_models=[unet,lmspec]     feathered tiles (512, overlap 32) vs the whole 1536×1024 image, grey levels
Peak memory (during the first forward call): CUDA's max allocated bytes, or on Linux CPUs the growth of the
resident set's high-water mark.
"""

import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from exposure_lab.commands import exit_on_user_error
from exposure_lab.errors import ExposureLabError
from exposure_lab.evaluation.cost import (
    DEFAULT_COMPILE_MODELS,
    DEFAULT_ONNX_MODELS,
    DEFAULT_SPEED_RUNS,
    bench_speed,
    run,
    speed_table,
)
from exposure_lab.evaluation.workloads import (
    DEFAULT_SEAM_MODELS,
    DEFAULT_TRAIN_MODELS,
    DEFAULT_VIDEO_MODELS,
    LARGE_IMAGE_SIZES,
    bench_workloads,
    workload_tables,
)

ALL_MODELS_MAX_GMACS = 150.0
DEFAULTS: dict[str, Any] = {
    "model": None,
    "models": None,
    "sizes": [256, 512],
    "repeats": 5,
    "max_gmacs": None,
    "train_size": 128,
    "train_batch": 4,
    "time_budget_s": 10.0,
    "out": None,
    "speed": None,
    "onnx_models": list(DEFAULT_ONNX_MODELS),
    "compile_models": list(DEFAULT_COMPILE_MODELS),
    "train_models": None,
    "large_images": None,
    "large_model": "unet",
    "video_models": None,
    "seam_models": None,
}
WORKLOAD_DEFAULTS = {
    "train_models": list(DEFAULT_TRAIN_MODELS),
    "large_images": sorted(LARGE_IMAGE_SIZES),
    "video_models": list(DEFAULT_VIDEO_MODELS),
    "seam_models": list(DEFAULT_SEAM_MODELS),
}


def parse_arguments(argv: list[str]) -> dict[str, Any]:
    """`key=value` arguments (YAML values, e.g. sizes=[256,512]) merged over `DEFAULTS`."""
    pairs = [arg.lstrip("+") for arg in argv]
    malformed = [arg for arg in pairs if "=" not in arg]
    if malformed:
        raise ExposureLabError(
            f"bench: arguments are key=value, got {malformed}; see `exposure-lab bench --help`"
        )
    given = OmegaConf.to_container(OmegaConf.from_dotlist(pairs))
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ExposureLabError(f"bench: unknown key(s) {unknown}; known: {sorted(DEFAULTS)}")
    options = {**DEFAULTS, **given}
    if options["max_gmacs"] is None:
        options["max_gmacs"] = float("inf") if options["model"] or options["models"] else ALL_MODELS_MAX_GMACS
    if options["speed"] == "default":
        options["speed"] = list(DEFAULT_SPEED_RUNS)
        options |= {key: value for key, value in WORKLOAD_DEFAULTS.items() if options[key] is None}
    options |= {key: [] for key in WORKLOAD_DEFAULTS if options[key] is None}
    options |= {key: [options[key]] for key in WORKLOAD_DEFAULTS if not isinstance(options[key], list)}
    unknown_sizes = sorted(set(options["large_images"]) - set(LARGE_IMAGE_SIZES))
    if unknown_sizes:
        raise ExposureLabError(
            f"bench: large_images={options['large_images']}: sizes are {sorted(LARGE_IMAGE_SIZES)} megapixels"
        )
    if options["speed"] is not None and not isinstance(options["speed"], list):
        raise ExposureLabError(f"bench: speed is default or a list of net:size, got {options['speed']!r}")
    if isinstance(options["sizes"], int):
        options["sizes"] = [options["sizes"]]
    if not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in options["sizes"]
    ):
        raise ExposureLabError(f"bench: sizes={options['sizes']}: expected whole numbers of pixels >= 1")
    return options


@exit_on_user_error
def main() -> None:
    """Entry point: `python -m exposure_lab.commands.bench [key=value ...]`; prints the JSON report."""
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(__doc__)
        return
    options = parse_arguments(sys.argv[1:])
    report = bench_speed(options) | bench_workloads(options) if options["speed"] else run(options)
    text = json.dumps(report, indent=2)
    if options["out"]:
        Path(options["out"]).write_text(text)
    print(text)
    if options["speed"]:
        print(speed_table(report))
        print()
        print(workload_tables(report))


if __name__ == "__main__":
    main()
