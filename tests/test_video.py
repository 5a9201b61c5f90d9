"""Video prediction: a clip the test writes itself goes through `enhance_video` and the predict command."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from exposure_lab.checkpoints import build_task, compose_model_config
from exposure_lab.errors import ExposureLabError, ImageReadError
from exposure_lab.prediction.video import enhance_video, is_video, video_output_path

FRAMES, WIDTH, HEIGHT, FPS = 10, 64, 48, 12


def write_clip(path: Path, with_audio: bool) -> Path:
    """A dark 64×48 clip of 10 frames at 12 fps (H.264), with a 1 kHz AAC tone when `with_audio`."""
    generator = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = container.add_stream("aac", rate=16000) if with_audio else None
        for index in range(FRAMES):
            array = (generator.random((HEIGHT, WIDTH, 3)) * 60 + index * 2).astype(np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(video.encode(None))
        if audio is not None:
            seconds = FRAMES / FPS
            samples = int(16000 * seconds)
            for start in range(0, samples, 1024):
                t = np.arange(start, min(start + 1024, samples)) / 16000
                tone = (0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None]
                frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, start
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))
    return path


def probe(path: Path) -> tuple[int, Fraction, tuple[int, int], int, float]:
    """(decoded frames, average fps, (width, height), audio streams, mean frame value)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return (
            len(frames),
            stream.average_rate,
            (stream.codec_context.width, stream.codec_context.height),
            len(container.streams.audio),
            float(np.mean(frames)),
        )


@pytest.fixture
def zero_dce_pp_task() -> torch.nn.Module:
    """A Zero-DCE++ task whose curve maps are pushed negative (bias −1 on the last layer) so it brightens."""
    task = build_task(compose_model_config("zero_dce_pp"))
    with torch.no_grad():
        task.net.convs[6].pointwise.bias.fill_(-1.0)
    return task


@pytest.mark.parametrize("with_audio", [True, False])
def test_video_round_trip_keeps_frames_size_fps_and_audio(zero_dce_pp_task, tmp_path, with_audio):
    clip = write_clip(tmp_path / "clip.mp4", with_audio)
    report = enhance_video(zero_dce_pp_task, clip, tmp_path / "out.mp4", batch_size=4)
    frames, fps, size, audio_streams, brightness = probe(report.path)
    assert (frames, fps, size) == (FRAMES, FPS, (WIDTH, HEIGHT))
    assert (report.frames, report.fps, report.size) == (FRAMES, FPS, (WIDTH, HEIGHT))
    assert audio_streams == int(with_audio)
    assert report.audio == ("copied (aac)" if with_audio else "none in the source")
    assert brightness > probe(clip)[4] + 10


def test_predict_command_writes_video_into_a_folder(cli, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", with_audio=False)
    lines = cli("predict", "model=identity", f"input={clip}", f"output={tmp_path / 'out'}")
    assert lines[-1] == str((tmp_path / "out" / "clip.mp4").resolve())
    assert any("10 frames" in line and "audio: none in the source" in line for line in lines)
    assert probe(tmp_path / "out" / "clip.mp4")[:3] == (FRAMES, FPS, (WIDTH, HEIGHT))


def test_video_paths():
    assert is_video("a/B.MP4") and not is_video("a/b.png")
    assert video_output_path(Path("in/clip.mov"), Path("out")) == Path("out/clip.mov")
    with pytest.raises(ExposureLabError, match="output is the input video"):
        video_output_path(Path("clip.mp4"), Path("clip.mp4"))


def test_a_file_that_is_not_a_video_is_a_clear_error(zero_dce_pp_task, tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(ImageReadError, match=r"broken\.mp4: not a readable video"):
        enhance_video(zero_dce_pp_task, tmp_path / "broken.mp4", tmp_path / "out.mp4")
