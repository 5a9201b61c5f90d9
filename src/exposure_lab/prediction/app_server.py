"""The demo's local web server (standard library `http.server`): one self-contained page and a small JSON
API over `prediction.app`; nothing on the page is fetched from anywhere but this server."""

import io
import json
import secrets
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image
from torch import Tensor, nn

from exposure_lab.data.io import decode_image, image_inputs
from exposure_lab.data.synthetic import render_synthetic_set, synthetic_set_complete
from exposure_lab.errors import ExposureLabError, user_message
from exposure_lab.inference import InferenceOptions
from exposure_lab.prediction.app import (
    DemoModel,
    Options,
    Result,
    load_assessor,
    run,
    sample_images,
    write_output,
)
from exposure_lab.prediction.exposure_maps import heatmap
from exposure_lab.runs import check_tiles

PAGE = "app_page.html"
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
_KEPT_BLOBS = 96
_KEPT_RESULTS = 4


def _uint8(image: Tensor | np.ndarray) -> np.ndarray:
    """(3,H,W) tensor in [0,1] or uint8/uint16 (H,W,3) array → uint8 (H,W,3)."""
    if isinstance(image, Tensor):
        return image.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if image.dtype == np.uint16:
        return np.round(image / 257.0).astype(np.uint8)
    return image


def preview_png(image: Tensor | np.ndarray, max_side: int) -> bytes:
    """PNG bytes of an image for display, shrunk (bilinear) so its long side is at most `max_side`."""
    picture = Image.fromarray(_uint8(image))
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class _Kept:
    result: Result
    source: Path
    written: Path | None = None


class DemoApp:
    """The state behind the page: models, sample images, uploaded images, recent results and image bytes.

    Uploads are saved under `work_dir/uploads/<n>/<file name>`, full-resolution downloads written under
    `work_dir/downloads/<result>/`. Runs are serialised (one at a time) and use `inference` (predict's
    `precision` and `channels_last`); every handler raises ExposureLabError for bad input, which the server
    answers with the CLI's `error:` line.
    """

    def __init__(
        self,
        models: list[DemoModel],
        samples: list[tuple[str, Path]],
        work_dir: Path,
        assessor: nn.Module | None = None,
        device: str = "cpu",
        tile_size: int | None = 1024,
        tile_overlap: int = 32,
        threshold: float = 0.1,
        preview_side: int = 2048,
        inference: InferenceOptions | None = None,
    ) -> None:
        if not models:
            raise ExposureLabError("app needs at least one model: ckpt_path=, model= or models=[...]")
        self.models, self.samples, self.work_dir = models, samples, Path(work_dir)
        self.assessor, self.device, self.threshold = assessor, device, threshold
        self.tile_size, self.tile_overlap, self.preview_side = tile_size, tile_overlap, preview_side
        self.inference = inference or InferenceOptions()
        self.images: dict[str, Path] = {}
        self.blobs: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self.results: OrderedDict[str, _Kept] = OrderedDict()
        self.lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        """The page's start-up data: models with their controls, sample names, assessor presence, device and
        inference options (e.g. "fp32, channels-last")."""
        return {
            "models": [model.describe() for model in self.models],
            "samples": [label for label, _ in self.samples],
            "assessor": self.assessor is not None,
            "device": self.device,
            "inference": self.inference.describe().removeprefix("inference: "),
            "preview_side": self.preview_side,
        }

    def _keep_blob(self, data: bytes, content_type: str = "image/png") -> str:
        key = secrets.token_hex(8)
        self.blobs[key] = (data, content_type)
        while len(self.blobs) > _KEPT_BLOBS:
            self.blobs.popitem(last=False)
        return f"/api/blob/{key}"

    def _image_entry(self, path: Path) -> dict[str, Any]:
        array = decode_image(image_inputs(path)[0])
        key = secrets.token_hex(8)
        self.images[key] = path
        height, width = array.shape[:2]
        return {
            "image": key,
            "name": path.name,
            "width": width,
            "height": height,
            "preview": self._keep_blob(preview_png(array, self.preview_side)),
        }

    def add_upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Save uploaded bytes under their file name and decode them as predict would; the image's entry."""
        name = Path(name.replace("\\", "/")).name or "upload"
        folder = self.work_dir / "uploads" / str(len(self.images) + 1)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        with self.lock:
            return self._image_entry(path)

    def add_sample(self, index: str) -> dict[str, Any]:
        """The entry of sample image number `index`."""
        if not index.isdigit() or int(index) >= len(self.samples):
            raise ExposureLabError(f"no sample image number {index} (there are {len(self.samples)})")
        with self.lock:
            return self._image_entry(self.samples[int(index)][1])

    def run(self, image: str, model: int, options: dict[str, Any] | None) -> dict[str, Any]:
        """Run model number `model` on a loaded image with the page's options; what the page shows."""
        if image not in self.images:
            raise ExposureLabError("no image loaded (upload one or pick a sample)")
        if not 0 <= model < len(self.models):
            raise ExposureLabError(f"no model number {model} (there are {len(self.models)})")
        started = time.perf_counter()
        key = secrets.token_hex(8)
        with self.lock:
            result = run(
                self.models[model],
                self.images[image],
                Options.from_json(options),
                device=self.device,
                tile_size=self.tile_size,
                tile_overlap=self.tile_overlap,
                assessor=self.assessor,
                threshold=self.threshold,
                output_dir=self.work_dir / "predict",
                inference=self.inference,
            )
            self.results[key] = _Kept(result, self.images[image])
            while len(self.results) > _KEPT_RESULTS:
                self.results.popitem(last=False)
            height, width = result.output.shape[-2:]
            answer: dict[str, Any] = {
                "result": key,
                "output": self._keep_blob(preview_png(result.output, self.preview_side)),
                "width": width,
                "height": height,
                "latency_ms": round(result.seconds * 1000.0, 1),
                "extra_ms": {name: round(t * 1000.0, 1) for name, t in result.extra_seconds.items()},
                "command": result.command,
                "download": f"/api/download/{key}",
                "curve_map": None,
                "heatmaps": None,
                "scores": None,
            }
            if result.curve_map is not None:
                answer["curve_map"] = self._keep_blob(
                    preview_png(heatmap(result.curve_map), self.preview_side)
                )
            if result.residuals:
                answer["heatmaps"] = {
                    name: self._keep_blob(preview_png(heatmap(residual), self.preview_side))
                    for name, residual in result.residuals.items()
                }
                answer["scores"] = result.scores
        answer["total_ms"] = round((time.perf_counter() - started) * 1000.0, 1)
        return answer

    def download(self, key: str) -> tuple[Path, str]:
        """The full-resolution PNG of result `key` (written on first request) and its download name."""
        with self.lock:
            kept = self.results.get(key)
            if kept is None:
                raise ExposureLabError("that result is no longer kept; run the model again")
            if kept.written is None:
                folder = self.work_dir / "downloads" / key
                kept.written = write_output(kept.result, folder / f"{kept.source.stem}.png")
        return kept.written, f"{kept.source.stem}_enhanced.png"


def page_html() -> bytes:
    """The page: one self-contained HTML file (inline style and script, system fonts, no external URL)."""
    return resources.files("exposure_lab.prediction").joinpath(PAGE).read_bytes()


def _handler(app: DemoApp) -> type[BaseHTTPRequestHandler]:
    page = page_html()

    class Handler(BaseHTTPRequestHandler):
        server_version = "exposure-lab-app"

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are not logged (the command prints only its URL)."""

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _guarded(self, action) -> None:
            try:
                action()
            except Exception as exc:
                message = user_message(exc)
                if message is not None:
                    lines = message.splitlines() or [message]
                    error = "\n".join(f"error: {line}" for line in lines)
                    self._json(HTTPStatus.BAD_REQUEST, {"error": error})
                    return
                traceback.print_exc(file=sys.stderr)
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {exc!r}"})

        def do_GET(self) -> None:
            self._guarded(self._get)

        def do_POST(self) -> None:
            self._guarded(self._post)

        def _get(self) -> None:
            path = urlsplit(self.path).path
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif path == "/api/config":
                self._json(HTTPStatus.OK, app.config())
            elif path.startswith("/api/blob/") and path.removeprefix("/api/blob/") in app.blobs:
                self._send(HTTPStatus.OK, *app.blobs[path.removeprefix("/api/blob/")])
            elif path.startswith("/api/download/"):
                written, name = app.download(path.removeprefix("/api/download/"))
                disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
                self._send(HTTPStatus.OK, written.read_bytes(), "image/png", disposition)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"error: no such page {path}"})

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_UPLOAD_BYTES:
                raise ExposureLabError(f"upload of {length} bytes is above the limit of {MAX_UPLOAD_BYTES}")
            return self.rfile.read(length)

        def _post(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if url.path == "/api/images" and "sample" in query:
                self._json(HTTPStatus.OK, app.add_sample(query["sample"]))
            elif url.path == "/api/images":
                self._json(HTTPStatus.OK, app.add_upload(query.get("name", "upload"), self._body()))
            elif url.path == "/api/run":
                try:
                    request = json.loads(self._body() or b"{}")
                except json.JSONDecodeError as exc:
                    raise ExposureLabError(f"run request is not JSON ({exc})") from exc
                if not isinstance(request, dict) or not isinstance(request.get("model", 0), int):
                    raise ExposureLabError("run request must be {image, model (number), options}")
                self._json(
                    HTTPStatus.OK,
                    app.run(str(request.get("image")), request.get("model", 0), request.get("options")),
                )
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"error: no such action {url.path}"})

    return Handler


def make_server(app: DemoApp, host: str = "127.0.0.1", port: int = 7860) -> ThreadingHTTPServer:
    """A threaded HTTP server for `app` bound to `host:port` (port 0: any free port); call serve_forever."""
    try:
        server = ThreadingHTTPServer((host, port), _handler(app))
    except OSError as exc:
        raise ExposureLabError(
            f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose port=<n>"
        ) from exc
    server.daemon_threads = True
    return server


def demo_app(cfg: DictConfig, specs: Sequence[str]) -> DemoApp:
    """The app that conf/app.yaml describes for the models `specs` (checkpoints or baseline names): samples
    from `samples` and, with `synthetic_samples`, the synthetic test scenes (rendered first when absent)."""
    check_tiles(cfg.tile_size, cfg.tile_overlap)
    folders = (
        [] if cfg.samples is None else [cfg.samples] if isinstance(cfg.samples, str) else list(cfg.samples)
    )
    if cfg.synthetic_samples:
        root = Path(cfg.synthetic_root)
        if not synthetic_set_complete(root):
            render_synthetic_set(root, progress=False, **cfg.render)
        folders.insert(0, root / "testing" / "INPUT_IMAGES")
    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return DemoApp(
        [DemoModel(str(spec)) for spec in specs],
        sample_images(folders),
        Path(cfg.paths.output_dir),
        assessor=load_assessor(cfg.assessor_ckpt) if cfg.assessor_ckpt else None,
        device=device,
        tile_size=cfg.tile_size,
        tile_overlap=cfg.tile_overlap,
        threshold=float(cfg.threshold),
        preview_side=int(cfg.preview_side),
        inference=InferenceOptions(precision=str(cfg.precision), channels_last=bool(cfg.channels_last)),
    )
