"""Recorded experiment numbers stay reproducible: the demo's parameter-free baselines are re-scored."""

import pytest
from omegaconf import OmegaConf
from tests.helpers import REPO, read_json


@pytest.mark.slow
def test_demo_baselines_match_the_recorded_numbers(cli, tmp_path):
    reference = OmegaConf.to_container(OmegaConf.load(REPO / "experiments" / "demo.yaml"))
    run_dir = tmp_path / "bench"
    baselines = reference["baselines"]
    cli(
        "benchmark",
        f"models=[{','.join(baselines)}]",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.num_workers=0",
        f"hydra.run.dir={run_dir}",
    )
    results = read_json(run_dir / "results.json")["results"]
    for model, expected in baselines.items():
        for metric, value in expected.items():
            assert results[model][metric] == pytest.approx(value, abs=reference["tolerance"][metric]), (
                model,
                metric,
            )
