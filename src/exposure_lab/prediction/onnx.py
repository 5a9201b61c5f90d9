"""ONNX export of a net (its padding inside the graph; dynamic batch, height and width), the ONNX Runtime
parity check against PyTorch, and an ONNX Runtime net that `enhance` pads and tiles like any other."""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exposure_lab.errors import ExposureLabError
from exposure_lab.inference import enhance, primary_output

PARITY_TOLERANCE = 1e-4
INPUT_NAME, OUTPUT_NAME = "image", "output"


class ExportableNet(nn.Module):
    """`net` with its size-multiple padding in the graph: (B,3,H,W) in [0,1], any H, W ≥ 2·multiple →
    (B,C,H,W), its primary output (reflect-padded at the bottom/right, cropped back)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        # LMSPEC pads itself to `pad_multiple`; padding first leaves its own padding empty in the graph.
        self.multiple = int(getattr(net, "pad_multiple", getattr(net, "size_multiple", 1)))

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        if self.multiple > 1:
            x = F.pad(x, (0, (-width) % self.multiple, 0, (-height) % self.multiple), mode="reflect")
        return primary_output(self.net(x))[..., :height, :width]


def parity_image(height: int = 200, width: int = 264) -> Tensor:
    """A real photograph (scikit-image's astronaut, resized; shipped in the package) as (1,3,H,W) in [0,1]."""
    from skimage import data

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(photo, size=(height, width), mode="bilinear", antialias=True).clamp(0, 1)


def export_onnx(net: nn.Module, path: Path, example: Tensor) -> Path:
    """Write `net` (eval mode, fp32, NCHW) as ONNX at `path` with dynamic batch, height and width, traced on
    `example` (1,3,H,W) with its mirror image as a batch of two. The size multiple is stored in the model's
    metadata. Raises ExposureLabError with the net's `onnx_unsupported` reason (a net the exporter is known to
    fail on, after a minute of tracing), or with the exporter's first line when the net cannot be exported."""
    reason = getattr(net, "onnx_unsupported", None)
    if reason:
        raise ExposureLabError(f"{type(net).__name__} cannot be exported to ONNX: {reason}")
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapped = ExportableNet(net).eval()
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    # Traced on a batch of two (the example and its mirror image): a batch of one is specialised to a
    # constant, which fixes the graph's batch to 1 wherever an op's shape depends on it.
    batch = torch.cat([example, example.flip(-1)]) if example.shape[0] == 1 else example
    try:
        program = torch.onnx.export(
            wrapped,
            (batch,),
            dynamo=True,
            dynamic_shapes=(dims,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            verbose=False,
        )
    except Exception as exc:  # the exporter raises many types; the user gets its first line
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = next((line for line in lines if line.startswith("<class")), lines[0] if lines else "")
        raise ExposureLabError(f"{type(net).__name__} cannot be exported to ONNX: {first[:300]}") from exc
    program.model.metadata_props["size_multiple"] = str(wrapped.multiple)
    program.save(str(path))
    return path


class OnnxRuntimeNet(nn.Module):
    """An exported graph run by ONNX Runtime (CPU): (B,3,H,W) float32 → its output, as a module for `enhance`
    (the graph pads itself, so `size_multiple` is 1)."""

    size_multiple = 1

    def __init__(self, path: Path | str, threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime
        except ImportError as exc:
            raise ExposureLabError("backend=onnxruntime needs the onnxruntime package") from exc
        path = Path(path)
        if not path.is_file():
            raise ExposureLabError(f"{path}: ONNX model file not found")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ExposureLabError(f"{path}: not a loadable ONNX model ({exc})") from exc
        self.path = path

    def forward(self, x: Tensor) -> Tensor:
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        out = self.session.run(None, {self.session.get_inputs()[0].name: array})[0]
        return torch.from_numpy(out).to(x.device)


def parity_difference(net: nn.Module, path: Path, image: Tensor) -> float:
    """Max abs difference between ONNX Runtime on `path` and PyTorch (`enhance` of `net`, fp32) on `image`."""
    with torch.inference_mode():
        expected = enhance(net, image)
    actual = enhance(OnnxRuntimeNet(path), image)
    return float((actual - expected).abs().max())


def export_with_parity(
    net: nn.Module, path: Path, image: Tensor, tolerance: float = PARITY_TOLERANCE
) -> tuple[Path, float]:
    """`export_onnx`, then the parity check on `image`: (path, max abs difference); a difference above
    `tolerance` removes the file and raises ExposureLabError."""
    net = net.eval().float().to(memory_format=torch.contiguous_format)
    export_onnx(net, path, image)
    difference = parity_difference(net, path, image)
    if not difference <= tolerance:
        path.unlink(missing_ok=True)
        raise ExposureLabError(
            f"{path}: ONNX Runtime output differs from PyTorch by {difference:.3g} (> {tolerance:g}); "
            "file removed"
        )
    return path, difference


class OnnxEnhancer(nn.Module):
    """What `predict` runs with backend=onnxruntime: the exported graph on whole images, tiled as
    `tile_size`/`tile_overlap` say, clamped to [0, 1] — (B,3,H,W) → (B,3,H,W)."""

    output_kind = "image"

    def __init__(self, path: Path | str, tile_size: int | None = None, tile_overlap: int = 32) -> None:
        super().__init__()
        self.net = OnnxRuntimeNet(path)
        self.tile_size, self.tile_overlap = tile_size, tile_overlap

    def forward(self, x: Tensor) -> Tensor:
        return enhance(self.net, x, self.tile_size, self.tile_overlap).clamp(0, 1)
