"""The interactive demo's work (`exposure-lab app`): the models a page offers and their options, and one run
of a model on one image file through the same calls as `exposure-lab predict` (and `assess` for the maps)."""

import json
import shlex
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from exposure_lab.checkpoints import (
    CHECKPOINT_CONFIG_KEY,
    build_task,
    compose_model_config,
    load_task,
    read_checkpoint,
)
from exposure_lab.config import config_dir
from exposure_lab.data.io import array_to_tensor, decode_image, image_inputs, list_images, write_image
from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import InferenceOptions, enhance, precision_context, prepare_net
from exposure_lab.models.lmspec_inference import PROTOCOLS, LMSPECInference
from exposure_lab.models.zero_dce import ZeroDCE
from exposure_lab.prediction.exposure_maps import exposure_statistics, residual_of
from exposure_lab.prediction.images import enhance_image, output_bits

ModelKind = Literal["lmspec", "curve", "image"]
# Slider limits of S1…S4 (finest level first) in the LMSPEC release's demo_GUI.fig.
PYRAMID_SCALE_LIMITS = ((0.5, 4.0), (0.5, 4.0), (0.5, 4.0), (0.5, 2.5))
SCALE_FACTOR_LIMITS = (1, 32)
_TASKS_PER_MODEL = 3


@dataclass(frozen=True)
class Options:
    """What the page sets for one run; None keeps the model's own (checkpoint) setting.

    LMSPEC family: `pyramid_scales` (4 values, finest first), `fusion`, `pp`, `protocol` (resize | full);
    curve models: `scale_factor` (integer ≥ 1).
    """

    pyramid_scales: tuple[float, ...] | None = None
    fusion: bool | None = None
    pp: bool | None = None
    protocol: str | None = None
    scale_factor: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "Options":
        """Options from the page's JSON object; unknown keys or wrong types raise ExposureLabError."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ExposureLabError(f"unknown option(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        try:
            scales = data.get("pyramid_scales")
            return cls(
                pyramid_scales=None if scales is None else tuple(float(s) for s in scales),
                fusion=None if data.get("fusion") is None else bool(data["fusion"]),
                pp=None if data.get("pp") is None else bool(data["pp"]),
                protocol=None if data.get("protocol") is None else str(data["protocol"]),
                scale_factor=None if data.get("scale_factor") is None else int(data["scale_factor"]),
            )
        except (TypeError, ValueError) as exc:
            raise ExposureLabError(f"bad option value ({exc})") from exc


def has_trained_weights(checkpoint: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's weights were trained (Lightning saved it after at least one optimiser step) or
    imported from a release (`exposure-lab import` records `imported_from`)."""
    stored = checkpoint.get(CHECKPOINT_CONFIG_KEY) or {}
    return int(checkpoint.get("global_step") or 0) > 0 or bool(stored.get("imported_from"))


def _model_kind(task: nn.Module) -> ModelKind:
    if isinstance(getattr(task, "inference", None), LMSPECInference):
        return "lmspec"
    if isinstance(getattr(task, "net", None), ZeroDCE):
        return "curve"
    return "image"


class DemoModel:
    """One model the page offers: a checkpoint (trained or imported) or a classical baseline by name.

    A net with trainable parameters is refused unless its weights were trained or imported: as a config name,
    and as a checkpoint written before any training step (an untrained net is no demo); an exposure assessor
    is refused too (it is given as `assessor_ckpt`). Tasks for option settings are rebuilt with
    `load_task(checkpoint, overrides)` — what `predict` does with `+model.<key>=<value>` — and the last few
    are kept.
    """

    def __init__(self, spec: str) -> None:
        self.spec = str(spec)
        self.is_checkpoint = self.spec.endswith(".ckpt") or Path(self.spec).is_file()
        if self.is_checkpoint:
            trained = has_trained_weights(read_checkpoint(self.spec))
            task, stored = load_task(self.spec)
            self.label = f"{stored.get('model_name') or Path(self.spec).stem} ({Path(self.spec).name})"
        else:
            trained = False
            task = build_task(compose_model_config(self.spec))
            self.label = self.spec
        if task.output_kind != "image":
            raise ExposureLabError(
                f"{self.spec}: an exposure assessor gives maps, not images; pass it as assessor_ckpt=<ckpt>"
            )
        if task.trainable and not trained:
            what = "no trained weights"
            if self.is_checkpoint:
                what = "weights from no training step and no import"
            raise ExposureLabError(
                f"{self.spec}: a net with {what} is not offered as a demo model; give the checkpoint of a "
                "training run, or `exposure-lab import` released weights"
            )
        self.kind = _model_kind(task)
        self.defaults = self._settings(task)
        self._tasks: OrderedDict[str, nn.Module] = OrderedDict({"{}": task})

    @staticmethod
    def _settings(task: nn.Module) -> dict[str, Any]:
        kind = _model_kind(task)
        if kind == "lmspec":
            inference = task.inference
            return {
                "pyramid_scales": list(inference.pyramid_scales),
                "fusion": inference.fusion,
                "pp": inference.pp,
                "protocol": inference.protocol,
            }
        if kind == "curve":
            return {"scale_factor": task.net.scale_factor}
        return {}

    def describe(self) -> dict[str, Any]:
        """What the page needs to draw this model's controls: label, kind, defaults and limits."""
        limits: dict[str, Any] = {}
        if self.kind == "lmspec":
            limits = {"pyramid_scales": PYRAMID_SCALE_LIMITS, "protocol": PROTOCOLS}
        elif self.kind == "curve":
            limits = {"scale_factor": SCALE_FACTOR_LIMITS}
        return {"label": self.label, "kind": self.kind, "defaults": self.defaults, "limits": limits}

    def overrides(self, options: Options) -> dict[str, Any]:
        """The `+model.<key>` overrides (nested) that turn the model's own settings into `options`."""
        wanted: dict[str, Any] = {}
        if self.kind == "lmspec":
            if options.pyramid_scales is not None:
                scales = [float(s) for s in options.pyramid_scales]
                if len(scales) != len(PYRAMID_SCALE_LIMITS):
                    raise ExposureLabError(f"pyramid_scales needs 4 values (finest first), got {scales}")
                for level, (scale, (low, high)) in enumerate(zip(scales, PYRAMID_SCALE_LIMITS, strict=True)):
                    if not low <= scale <= high:
                        raise ExposureLabError(
                            f"pyramid scale S{level + 1}={scale} is outside [{low}, {high}]"
                        )
                wanted["pyramid_scales"] = scales
            if options.protocol is not None and options.protocol not in PROTOCOLS:
                raise ExposureLabError(f"protocol must be one of {PROTOCOLS}, got {options.protocol!r}")
            for key in ("fusion", "pp", "protocol"):
                if getattr(options, key) is not None:
                    wanted[key] = getattr(options, key)
        elif self.kind == "curve" and options.scale_factor is not None:
            low, high = SCALE_FACTOR_LIMITS
            if not low <= options.scale_factor <= high:
                raise ExposureLabError(f"scale_factor must be an integer in [{low}, {high}]")
            wanted["scale_factor"] = options.scale_factor
        changed = {key: value for key, value in wanted.items() if self.defaults.get(key) != value}
        if self.kind == "curve" and changed:
            return {"net": changed}
        return changed

    def task(self, overrides: Mapping[str, Any]) -> nn.Module:
        """The task with `overrides` applied (see `overrides`), rebuilt from the checkpoint when not kept."""
        key = json.dumps(overrides, sort_keys=True)
        if key not in self._tasks:
            self._tasks[key] = load_task(self.spec, OmegaConf.create(dict(overrides)))[0]
            while len(self._tasks) > _TASKS_PER_MODEL:
                self._tasks.popitem(last=False)
        self._tasks.move_to_end(key)
        return self._tasks[key]


class _CurveMaps(nn.Module):
    """A curve net's curve maps as the image output, so `enhance` pads and tiles them like the image."""

    def __init__(self, net: ZeroDCE) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)[1]


@dataclass
class Result:
    """One run: the enhanced image, its timing and what the page shows beside it.

    `output` (3,H,W) in [0,1] on the CPU; `bits`: what predict would write (8, or 16 for 16-bit PNG/TIFF
    input); `seconds`: wall time of the model's forward (padding, tiling, its inference protocol);
    `curve_map`: for curve models the mean of α = −A over the curve channels, (1,H,W) in [−1,1];
    `residuals`/`scores`: the assessor's (1,H,W) maps and statistics of input and output; `extra_seconds`:
    wall time of the curve map and of the assessor (both images), when computed.
    """

    input: Tensor
    output: Tensor
    bits: int
    seconds: float
    command: str
    overrides: dict[str, Any]
    curve_map: Tensor | None = None
    residuals: dict[str, Tensor] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    extra_seconds: dict[str, float] = field(default_factory=dict)


def _flat_overrides(overrides: Mapping[str, Any], prefix: str = "+model") -> list[str]:
    items = []
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            items += _flat_overrides(value, f"{prefix}.{key}")
        elif isinstance(value, bool):
            items.append(f"{prefix}.{key}={str(value).lower()}")
        elif isinstance(value, list | tuple):
            items.append(f"{prefix}.{key}=[{','.join(f'{v:g}' for v in value)}]")
        else:
            items.append(f"{prefix}.{key}={value}")
    return items


def predict_command(
    model: DemoModel,
    overrides: Mapping[str, Any],
    input: Path,
    output: Path,
    device: str,
    tile_size: int | None,
    tile_overlap: int,
    inference: InferenceOptions | None = None,
) -> str:
    """The `exposure-lab predict …` line that writes this run's output for `input` into folder `output`
    (`inference`: predict's `precision`/`channels_last`, None: predict's defaults)."""
    inference = inference or InferenceOptions()
    words = ["exposure-lab", "predict"]
    if model.is_checkpoint:
        words.append(f"ckpt_path={Path(model.spec).resolve()}")
    else:
        words.append(f"model={model.spec}")
    words += [f"input={input.resolve()}", f"output={output}"]
    predict_defaults = OmegaConf.load(config_dir() / "predict.yaml")
    if device != predict_defaults.device:
        words.append(f"device={device}")
    if tile_size != predict_defaults.tile_size:
        words.append(f"tile_size={'null' if tile_size is None else tile_size}")
    if tile_overlap != predict_defaults.tile_overlap:
        words.append(f"tile_overlap={tile_overlap}")
    if inference.precision != predict_defaults.precision:
        words.append(f"precision={inference.precision}")
    if inference.channels_last != predict_defaults.channels_last:
        words.append(f"channels_last={str(inference.channels_last).lower()}")
    return shlex.join(words + _flat_overrides(overrides))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(
    model: DemoModel,
    image: Path,
    options: Options,
    device: str = "cpu",
    tile_size: int | None = 1024,
    tile_overlap: int = 32,
    assessor: nn.Module | None = None,
    threshold: float = 0.1,
    output_dir: Path = Path("enhanced"),
    inference: InferenceOptions | None = None,
) -> Result:
    """Enhance the image file `image` with `model` under `options`, exactly as `exposure-lab predict` would
    (same checks, decoding, task forward, clamping and bit depth, and predict's `precision`/`channels_last`
    from `inference`, None: its defaults); bad input raises the CLI's ExposureLabError.
    With `assessor` (an exposure-map task) also its maps and statistics of input and output, computed under
    the same inference options.
    """
    inference = inference or InferenceOptions()
    path = image_inputs(image)[0]
    array = decode_image(path)
    overrides = model.overrides(options)
    task = model.task(overrides)
    task.tile_size, task.tile_overlap = tile_size, tile_overlap
    target = torch.device(device)
    task = task.to(target).eval()
    prepare_net(task.net, inference)
    x = array_to_tensor(array).to(target)
    _synchronize(target)
    start = time.perf_counter()
    with precision_context(inference, target):
        output = enhance_image(task, x)
    _synchronize(target)
    seconds = time.perf_counter() - start
    output = output.float()  # bf16 autocast may return bf16; write_image converts the same way
    result = Result(
        input=x.cpu(),
        output=output.cpu(),
        bits=output_bits(array, path),
        seconds=seconds,
        command=predict_command(
            model, overrides, path, output_dir, device, tile_size, tile_overlap, inference
        ),
        overrides=overrides,
    )
    if model.kind == "curve":
        start = time.perf_counter()
        with torch.inference_mode(), precision_context(inference, target):
            curves = enhance(_CurveMaps(task.net), x[None], tile_size, tile_overlap)[0]
        result.curve_map = (-curves.float()).mean(0, keepdim=True).clamp(-1, 1).cpu()
        result.extra_seconds["curve map"] = time.perf_counter() - start
    if assessor is not None:
        start = time.perf_counter()
        assessor = assessor.to(target).eval()
        prepare_net(assessor.net, inference)
        for name, picture in (("input", x), ("output", output)):
            with precision_context(inference, target):
                residual = residual_of(assessor, picture).float().cpu()
            result.residuals[name] = residual
            result.scores[name] = exposure_statistics(residual, threshold)
        result.extra_seconds["assessor"] = time.perf_counter() - start
    return result


def load_assessor(path: str | Path) -> nn.Module:
    """The exposure assessor of checkpoint `path`; ExposureLabError when it is not one."""
    task = load_task(path)[0]
    if task.output_kind != "exposure_map":
        raise ExposureLabError(
            f"{path}: not an exposure assessor (assessor_ckpt= takes an assessor checkpoint)"
        )
    return task


def write_output(result: Result, path: Path) -> Path:
    """Write the full-resolution output as predict does (`write_image`, 8 or 16 bits) at `path`."""
    return write_image(path, result.output, bits=result.bits)


def sample_images(folders: Sequence[Path | str]) -> list[tuple[str, Path]]:
    """(label, file) of every image in `folders` (each searched recursively), labelled `<folder>/<relative
    path>`; a folder that does not exist raises DataLayoutError."""
    found = []
    for folder in map(Path, folders):
        found += [(f"{folder.name}/{p.relative_to(folder)}", p) for p in list_images(folder, recursive=True)]
    return found
