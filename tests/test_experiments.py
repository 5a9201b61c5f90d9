"""Recorded experiment numbers stay reproducible: the demo's parameter-free baselines are re-scored."""

import pytest
from tests.helpers import REPO, read_json

from exposure_lab.evaluation.experiments import load_experiment

DETERMINISTIC = {"psnr": 0.01, "ssim": 0.0005, "lpips": 0.0005}  # the baselines have no seed


@pytest.mark.slow
def test_demo_baselines_match_the_recorded_numbers(cli, tmp_path):
    spec = load_experiment(REPO / "experiments" / "demo.yaml")
    baselines = spec.needed("model")
    assert baselines == ["auto_gamma", "clahe", "gamma", "hist_eq", "identity"]
    run_dir = tmp_path / "bench"
    cli(
        "benchmark",
        f"models=[{','.join(baselines)}]",
        f"metrics={spec.protocol}",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.num_workers=0",
        f"hydra.run.dir={run_dir}",
    )
    results = read_json(run_dir / "results.json")["results"]
    for model in baselines:
        for metric, value in spec.expected[model].items():
            assert results[model][metric] == pytest.approx(value, abs=DETERMINISTIC[metric]), (model, metric)
