"""Enhancing a video frame by frame with PyAV (FFmpeg): same frame rate, size and timestamps; audio copied."""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from exposure_lab.errors import ExposureLabError, ImageReadError

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm"})


def is_video(path: Path | str) -> bool:
    """Whether `path` has a video file extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoReport:
    """What `enhance_video` wrote: frame count, frame rate, (width, height), what happened to the audio."""

    path: Path
    frames: int
    fps: Fraction
    size: tuple[int, int]
    audio: str


def video_output_path(input: Path, output: Path) -> Path:
    """`output` when it names a video file, else `output/<input file name>`; never the input itself."""
    path = output if is_video(output) else output / input.name
    if path.resolve() == input.resolve():
        raise ExposureLabError(f"{path}: output is the input video; choose another output")
    return path


def _enhance_batch(task: nn.Module, frames: list[np.ndarray], device: str | torch.device) -> np.ndarray:
    """(N,H,W,3) uint8 RGB frames → enhanced (N,H,W,3) uint8 through `task` ((B,3,H,W) in [0,1] → same)."""
    x = torch.from_numpy(np.stack(frames)).to(device).permute(0, 3, 1, 2).float().div(255)
    with torch.inference_mode():
        y = task(x).clamp(0, 1)
    return y.mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def enhance_video(
    task: nn.Module,
    input: Path | str,
    output: Path | str,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
    crf: int = 18,
) -> VideoReport:
    """Enhance every frame of the video `input` with `task` and write the video `output` (a file name, or a
    folder that receives the input's file name).

    Frames are decoded with PyAV, enhanced independently in batches of `batch_size` (no temporal smoothing, as
    SGZ's video demo) and re-encoded with H.264 (libx264, quality `crf`; yuv420p, or yuv444p for odd sizes) at
    the source frame rate, size and timestamps. The first audio stream is copied without re-encoding when the
    output container accepts it; the report says whether it was copied, absent or dropped (and why).
    """
    input, output = Path(input), Path(output)
    if not input.is_file():
        raise ImageReadError(f"{input}: no such video file")
    path = video_output_path(input, output)
    path.parent.mkdir(parents=True, exist_ok=True)
    task = task.to(device).eval()
    try:
        source = av.open(str(input))
    except av.FFmpegError as exc:
        raise ImageReadError(f"{input}: not a readable video ({exc})") from exc
    with source:
        if not source.streams.video:
            raise ImageReadError(f"{input}: no video stream")
        video = source.streams.video[0]
        fps = video.average_rate or video.guessed_rate
        width, height = video.codec_context.width, video.codec_context.height
        with av.open(str(path), "w") as sink:
            encoder = sink.add_stream("libx264", rate=fps)
            encoder.width, encoder.height = width, height
            encoder.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
            encoder.options = {"crf": str(crf)}
            audio_in, audio_out, audio = None, None, "none in the source"
            if source.streams.audio:
                audio_in = source.streams.audio[0]
                try:
                    audio_out = sink.add_stream_from_template(audio_in)
                    audio = f"copied ({audio_in.codec_context.name})"
                except (av.FFmpegError, ValueError) as exc:
                    audio_in, audio = None, f"not copied: {path.suffix} cannot hold it ({exc})"
            pending: list[tuple[np.ndarray, int | None, Fraction | None]] = []
            written = 0

            def flush() -> None:
                nonlocal written
                if not pending:
                    return
                enhanced = _enhance_batch(task, [array for array, _, _ in pending], device)
                for array, (_, pts, time_base) in zip(enhanced, pending, strict=True):
                    frame = av.VideoFrame.from_ndarray(array, format="rgb24")
                    frame.pts, frame.time_base = pts, time_base
                    sink.mux(encoder.encode(frame))
                written += len(pending)
                progress.update(len(pending))
                pending.clear()

            streams = [video] + ([audio_in] if audio_in is not None else [])
            with tqdm(total=video.frames or None, desc="video", unit="frame") as progress:
                for packet in source.demux(streams):
                    if packet.stream.type == "audio":
                        if packet.dts is not None:
                            packet.stream = audio_out
                            sink.mux(packet)
                        continue
                    for frame in packet.decode():
                        pending.append((frame.to_ndarray(format="rgb24"), frame.pts, frame.time_base))
                        if len(pending) >= batch_size:
                            flush()
                flush()
            sink.mux(encoder.encode(None))
    if written == 0:
        raise ImageReadError(f"{input}: the video stream has no decodable frames")
    return VideoReport(path=path, frames=written, fps=Fraction(fps), size=(width, height), audio=audio)
