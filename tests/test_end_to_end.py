"""Train → checkpoint → eval / benchmark / predict through the real CLI entry points, in-process."""

import csv
from pathlib import Path

import pytest
import torch
from tests.helpers import TEST_IMAGES, read_json, run_cli

from exposure_lab.data.io import read_image, write_image
from exposure_lab.models.unet import UNet


@pytest.fixture(scope="module")
def trained(paired_overrides, tmp_path_factory) -> tuple[Path, list[str]]:
    """A fast_dev_run of a non-default U-Net on the paired fixture; returns its run dir and printed lines."""
    run_dir = tmp_path_factory.mktemp("train")
    net = ["model.net.base_channels=8", "model.net.depth=2"]
    lines = run_cli(
        "train", *paired_overrides, *net, "debug=fdr", "compare_with=[identity]", f"hydra.run.dir={run_dir}"
    )
    return run_dir, lines


def test_train_writes_checkpoint_tables_and_config(trained):
    run_dir, lines = trained
    assert lines[-1] == str(run_dir)
    result = read_json(run_dir / "result.json")
    checkpoint = Path(result["best_checkpoint"])
    assert checkpoint.is_file() and checkpoint.parent == run_dir / "checkpoints"
    assert (run_dir / "config_resolved.yaml").is_file()
    grid = read_image(run_dir / "image_grids" / "epoch_000.png")
    assert grid.shape == (3, 4 * 128 + 5 * 2, 4 * round(48 * 128 / 40) + 2 * 2)  # 4 val images × 4 panels
    assert (run_dir / "training_curves.png").is_file() and (run_dir / "metrics_history.csv").is_file()
    tables = read_json(run_dir / "results.json")
    assert set(tables["results"]) == {"unet", "identity"}
    assert 5 < tables["results"]["identity"]["psnr"] < 40
    assert tables["results"]["identity"]["params"] == 0
    assert "PSNR" in tables["protocol"]
    assert (run_dir / "results.md").read_text().startswith(tables["protocol"])


def test_eval_from_checkpoint_alone_reproduces_test_metrics(trained, cli, tmp_path):
    run_dir, _ = trained
    checkpoint = read_json(run_dir / "result.json")["best_checkpoint"]
    eval_dir = tmp_path / "eval"
    lines = cli("eval", f"ckpt_path={checkpoint}", "save_images=true", f"hydra.run.dir={eval_dir}")
    assert lines[-1] == str(eval_dir)
    trained_scores = read_json(run_dir / "results.json")["results"]["unet"]
    eval_scores = read_json(eval_dir / "results.json")["results"]["unet"]
    assert eval_scores["params"] == sum(p.numel() for p in UNet(base_channels=8, depth=2).parameters())
    for metric in ("psnr", "ssim"):
        assert eval_scores[metric] == pytest.approx(trained_scores[metric], abs=1e-6)
    with open(eval_dir / "per_image.csv") as handle:
        rows = list(csv.DictReader(handle))
    saved = sorted(p.name for p in (eval_dir / "images" / "unet").iterdir())
    assert saved == sorted(f"{Path(row['name']).stem}.png" for row in rows)
    assert len(rows) == TEST_IMAGES and {row["subset"] for row in rows} == {"under", "over"}


def test_benchmark_tables_bold_best_and_last_line_is_run_dir(trained, cli, paired_overrides, tmp_path):
    run_dir, _ = trained
    checkpoint = read_json(run_dir / "result.json")["best_checkpoint"]
    bench_dir = tmp_path / "bench"
    data = [o for o in paired_overrides if o.startswith("data")]
    lines = cli(
        "benchmark", f"models=[{checkpoint},identity,gamma,clahe]", *data, f"hydra.run.dir={bench_dir}"
    )
    assert lines[-1] == str(bench_dir)
    results = read_json(bench_dir / "results.json")["results"]
    assert len(results) == 4
    for scores in results.values():
        assert {"psnr", "ssim", "params", "latency_ms_per_mp"} <= set(scores)
    best = max(results, key=lambda name: results[name]["psnr"])
    table = (bench_dir / "results.md").read_text()
    best_row = next(line for line in table.splitlines() if line.startswith(f"| {best} "))
    assert f"**{results[best]['psnr']:.2f}**" in best_row
    with open(bench_dir / "per_image.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 4 * TEST_IMAGES
    assert table.splitlines()[0].endswith(" | inference: fp32, channels-last")


def test_benchmark_in_bf16_says_so_and_an_unknown_precision_is_one_line(
    trained, cli, paired_overrides, tmp_path, capsys
):
    run_dir, _ = trained
    checkpoint = read_json(run_dir / "result.json")["best_checkpoint"]
    data = [o for o in paired_overrides if o.startswith("data")]
    fp32_dir, bf16_dir = tmp_path / "fp32", tmp_path / "bf16"
    cli("benchmark", f"models=[{checkpoint}]", *data, f"hydra.run.dir={fp32_dir}")
    cli("benchmark", f"models=[{checkpoint}]", *data, "precision=bf16", f"hydra.run.dir={bf16_dir}")
    protocol = (bf16_dir / "results.md").read_text().splitlines()[0]
    assert protocol.endswith(" | inference: bf16 autocast (not exact), channels-last")
    fp32, bf16 = (
        next(iter(read_json(d / "results.json")["results"].values()))["psnr"] for d in (fp32_dir, bf16_dir)
    )
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, abs=0.5)
    with pytest.raises(SystemExit) as exit_info:
        cli("benchmark", "models=[identity]", *data, "precision=fp16", f"hydra.run.dir={tmp_path / 'x'}")
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert exit_info.value.code == 2 and line == "error: precision must be one of fp32, bf16, got 'fp16'"


def test_predict_keeps_names_and_odd_sizes(trained, cli, tmp_path):
    run_dir, _ = trained
    checkpoint = read_json(run_dir / "result.json")["best_checkpoint"]
    photos = tmp_path / "photos"
    write_image(photos / "odd.png", torch.rand(3, 37, 53))
    write_image(photos / "wide.jpg", torch.rand(3, 21, 90))
    for spec in (f"ckpt_path={checkpoint}", "model=gamma"):
        out = tmp_path / f"out_{spec.split('=')[0]}"
        cli("predict", spec, f"input={photos}", f"output={out}", f"hydra.run.dir={tmp_path / 'p'}")
        assert sorted(p.name for p in out.iterdir()) == ["odd.png", "wide.jpg"]
        assert read_image(out / "odd.png").shape == (3, 37, 53)
        assert read_image(out / "wide.jpg").shape == (3, 21, 90)


def test_user_errors_are_one_line_with_exit_status_2(cli, tmp_path, capsys, paired_root):
    with pytest.raises(SystemExit) as exit_info:
        cli("eval", f"ckpt_path={tmp_path / 'missing.ckpt'}", f"hydra.run.dir={tmp_path / 'e'}")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'missing.ckpt'}: checkpoint not found"]

    input_dir = paired_root / "testing" / "INPUT_IMAGES"
    orphans = tmp_path / "gt"
    write_image(orphans / "other.png", torch.rand(3, 8, 8))
    with pytest.raises(SystemExit) as exit_info:
        cli(
            "benchmark",
            "models=[identity]",
            "data=paired",
            f"data.input_dir={input_dir}",
            f"data.target_dir={orphans}",
            "data.num_workers=0",
            f"hydra.run.dir={tmp_path / 'b'}",
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "have no target" in last and "scene08_N1.png" in last


def test_baseline_cannot_be_trained(cli, paired_overrides, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli("train", "model=clahe", *paired_overrides, "debug=fdr", f"hydra.run.dir={tmp_path}")
    assert "no trainable parameters" in capsys.readouterr().err


def test_training_on_the_test_folders_is_not_reported_as_a_test_score(cli, paired_root, tmp_path):
    folders = paired_root / "training"
    data = [
        "data=paired",
        f"data.input_dir={folders / 'INPUT_IMAGES'}",
        f"data.target_dir={folders / 'GT_IMAGES'}",
    ]
    cli("train", *data, "data.patch_size=32", "data.num_workers=0", "debug=fdr", f"hydra.run.dir={tmp_path}")
    assert not (tmp_path / "results.json").exists()
    assert "not testing: the test folders" in (tmp_path / "train.log").read_text()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
