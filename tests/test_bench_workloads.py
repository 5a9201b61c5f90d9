"""`make bench`'s workload sections: training in fp32 and bf16-mixed, tiled predict of large images, video
frames/s, seams of tiled inference (structure and meaning, not speed)."""

import math
import sys

import pytest
import torch
from torch import nn

from exposure_lab.commands import bench
from exposure_lab.commands.bench import parse_arguments
from exposure_lab.evaluation.workloads import (
    DEFAULT_TRAIN_MODELS,
    bench_large_images,
    bench_training,
    bench_video,
    seam_error,
    task_of,
    workload_tables,
)


class _GlobalGain(nn.Module):
    """Scales each image by 0.5 / its mean: every tile sees another mean, so tiles disagree."""

    def forward(self, x):
        return x * 0.5 / x.mean(dim=(-3, -2, -1), keepdim=True)


def _gradient(height: int = 96, width: int = 160) -> torch.Tensor:
    ys = torch.linspace(0.1, 0.9, height)[:, None]
    xs = torch.linspace(0.2, 0.6, width)[None, :]
    return (ys * xs).expand(3, height, width)[None].clone()


def test_seam_error_is_zero_for_a_pixelwise_net_and_feathering_lowers_the_step():
    image = _gradient()
    pixelwise = seam_error(nn.Conv2d(3, 3, 1), image, tile_size=48, tile_overlap=16)
    assert pixelwise["max_grey_levels"] < 1e-3 and pixelwise["butted_max_step_grey_levels"] < 1e-3
    global_gain = seam_error(_GlobalGain(), image, tile_size=48, tile_overlap=16)
    assert global_gain["mean_grey_levels"] > 1
    assert global_gain["butted_max_step_grey_levels"] > 2 * global_gain["max_step_grey_levels"]


def test_data_section_measures_both_window_modes_and_the_corner_search():
    from exposure_lab.evaluation.cost import bench_data

    report = bench_data(repeats=1)
    assert report["paired_items_per_s_random_128"] > 0 and report["paired_items_per_s_online_128"] > 0
    assert {f"corner_search_ms_{s}_x{n}" for s, n in ((128, 10), (256, 6), (512, 4))} <= set(report)


def test_training_rows_give_both_precisions_and_the_loader_ratio():
    (row,) = bench_training(["zero_dce"], size=32, batch=2, repeats=1, budget_s=1.0, loader_items_per_s=100.0)
    speeds = [row[f"{path}_images_per_s"] for path in ("eager_fp32", "fp32", "bf16")]
    assert all(speed > 0 for speed in speeds)
    assert row["bf16_speedup"] == pytest.approx(row["bf16_images_per_s"] / row["eager_fp32_images_per_s"])
    assert row["bf16_over_fp32"] == pytest.approx(row["bf16_images_per_s"] / row["fp32_images_per_s"])
    assert row["loader_over_step"] == pytest.approx(100.0 / max(speeds))


def test_large_image_rows_run_the_tiled_predict_path(monkeypatch):
    import exposure_lab.evaluation.workloads as workloads

    calls = []
    original = workloads.predict_paths
    monkeypatch.setattr(
        workloads, "predict_paths", lambda task, *a: calls.append(task.tile_size) or original(task, *a)
    )
    rows = bench_large_images("unet", [(200, 300), (100, 300)], tile_size=128, tile_overlap=32)
    assert calls == [128, 128] and [r["size"] for r in rows] == ["300x200", "300x100"]
    assert all(
        r["seconds"] > 0 and math.isclose(r["ms_per_megapixel"], 1e3 * r["seconds"] / r["megapixels"])
        for r in rows
    )


def test_video_rows_count_every_frame():
    spec = "zero_dce_pp:model.net.scale_factor=4"
    (row,) = bench_video([spec], frames=3, width=64, height=48, batch_size=2)
    assert row["frames"] == 3 and row["size"] == "64x48" and row["fps"] > 0


def test_task_of_applies_overrides_and_reads_checkpoints(tmp_path):
    assert task_of("zero_dce_pp:model.net.scale_factor=12").net.scale_factor == 12
    with pytest.raises(Exception, match=r"nothing\.ckpt"):
        task_of(str(tmp_path / "nothing.ckpt"))


def test_speed_default_turns_every_workload_on_and_other_speed_runs_leave_them_off():
    default = parse_arguments(["speed=default"])
    assert default["train_models"] == list(DEFAULT_TRAIN_MODELS) and default["large_images"] == [6, 12, 24]
    assert default["video_models"] and default["seam_models"]
    custom = parse_arguments(["speed=[unet:64]", "seam_models=lmspec"])
    assert custom["train_models"] == custom["large_images"] == [] and custom["seam_models"] == ["lmspec"]


def test_unknown_large_image_size_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["exposure-lab bench", "speed=default", "large_images=[6,7]"])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and "large_images=[6, 7]" in line and "[6, 12, 24]" in line


def test_workload_tables_render_every_section():
    report = {
        "training": [
            {
                "model": "unet",
                "size": 128,
                "batch": 4,
                "eager_fp32_images_per_s": 5.0,
                "fp32_images_per_s": 10.0,
                "bf16_images_per_s": 25.0,
                "fp32_speedup": 2.0,
                "bf16_speedup": 5.0,
                "bf16_over_fp32": 2.5,
                "loader_items_per_s": 40.0,
                "loader_over_step": 1.6,
            }
        ],
        "large_images": [
            {
                "model": "unet",
                "megapixels": 6.0,
                "size": "3000x2000",
                "tile": 1024,
                "seconds": 6.0,
                "ms_per_megapixel": 1000.0,
                "peak_added_mb": None,
            }
        ],
        "video": [{"model": "lmspec", "frames": 16, "size": "1280x720", "seconds": 8.0, "fps": 2.0}],
        "seams": [
            {
                "model": "unet",
                "size": "1536x1024",
                "tile": 512,
                "overlap": 32,
                "max_grey_levels": 3.0,
                "mean_grey_levels": 1.0,
                "max_step_grey_levels": 0.5,
                "butted_max_step_grey_levels": 4.0,
            }
        ],
    }
    text = workload_tables(report)
    assert "| unet | 128² × 4 | 5 | 10 | 25 | 2.00 | 5.00 | 2.50 | 40 | 1.60 |" in text
    assert "| unet | 3000x2000 | 6 | 1024 | 6.0 | 1000 | – |" in text
    assert "| lmspec | 16 | 1280x720 | 8.0 | 2.00 |" in text
    assert "| unet | 1536x1024 | 512 / 32 | 3.00 | 1.000 | 0.50 | 4.00 |" in text
    assert workload_tables({}) == ""
