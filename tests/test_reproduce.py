"""`exposure-lab reproduce`: every experiment file says what reproduce needs and composes; full-size rows are
checked for layout errors and table generation; the synthetic rows (and the official-weights and CPU rows on
../shared/data) run end to end with a shortened schedule."""

import shutil
from pathlib import Path

import pytest
from tests.browser import chromium, full_page_screenshot, open_page
from tests.helpers import SHARED, compose_config, read_json, run_cli

from exposure_lab.config import config_dir
from exposure_lab.evaluation.experiments import ExperimentSpecError, experiments_dir, load_experiment
from exposure_lab.evaluation.reproduction import Score, cell_results, row_tables

EXPERIMENTS = sorted(experiments_dir().glob("*.yaml"))
SHORT = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=2",
    "data.num_workers=0",
    "callbacks.image_grid=null",
    "latency.size=64",
    "latency.warmup=1",
    "latency.repeats=2",
]
TINY_SYNTHETIC = ["data.render.scenes_per_photo=1", "data.render.scene_size=48", "data.patch_size=32"]


def options(kind: str) -> set[str]:
    return {path.stem for path in (config_dir() / kind).glob("*.yaml")}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_every_experiment_says_what_reproduce_needs_and_composes(path, tmp_path):
    spec = load_experiment(path)
    assert spec.name in options("experiment"), f"no conf/experiment/{spec.name}.yaml trains it"
    assert spec.protocol in options("metrics")
    assert set(spec.needed("model")) <= options("model")
    assert {spec.imports[name].model for name in spec.needed("import")} <= options("model")
    produced = [cell for row in spec.cells.values() for cell in row.values() if cell]
    assert produced, "at least one expected cell is produced by a run, a model or an import"
    for run in spec.needed("run"):
        cfg = compose_config(
            "reproduce",
            [f"experiment={spec.name}", f"metrics={spec.protocol}", *spec.data, *spec.runs[run]],
            tmp_path,
        )
        assert cfg.task_name == "reproduce" and cfg.data._target_


def write_spec(tmp_path: Path, reproduce_block: str) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(
        "experiment: demo\nsource: test\nprotocol: default\ntolerance: {psnr: 0.5}\n"
        "published:\n  net: {over/psnr: 20.0, under/psnr: 22.0}\n" + reproduce_block
    )
    return path


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("reproduce:\n  rows:\n    net: train\n", "is not run:<name>, model:<config> or import:<label>"),
        ("reproduce:\n  rows:\n    net: run:over\n", "unknown run 'over'"),
        ("reproduce:\n  rows:\n    other: run:train\n", "['other'] have no expected numbers"),
        ("reproduce:\n  rows:\n    net: import:official\n", "unknown import 'official'"),
        ("reproduce:\n  cells: {}\n", "reproduce: unknown key(s) ['cells']"),
    ],
)
def test_bad_experiment_files_are_one_line_errors(tmp_path, block, message):
    with pytest.raises(ExperimentSpecError) as error:
        load_experiment(write_spec(tmp_path, block))
    assert message in str(error.value) and str(tmp_path / "demo.yaml") in str(error.value)
    assert "\n" not in str(error.value)


def test_rows_merged_from_two_trainings_take_each_cell_from_its_run():
    spec = load_experiment(experiments_dir() / "endo_lmspec_endo4ie_indep_tuned.yaml")
    over = [Score("run:over", {"over/psnr": v, "over/ssim": 0.80}, Path()) for v in (23.0, 23.4)]
    under = [Score("run:under", {"under/psnr": v, "under/ssim": 0.70}, Path()) for v in (24.1, 24.3)]
    cells = {(c.row, c.cell): c for c in cell_results(spec, {"run:over": over, "run:under": under})}
    assert cells["endo_lmspec", "over/psnr"].values == (23.0, 23.4)
    assert cells["endo_lmspec", "under/psnr"].values == (24.1, 24.3)
    assert cells["endo_lmspec", "over/psnr"].passed  # 23.2 vs 23.139 within 0.5 dB
    assert cells["endo_lmspec", "under/ssim"].passed is False  # 0.70 vs 0.792, tolerance 0.02
    assert cells["lmspec", "over/psnr"].passed is None  # the paper's LMSPEC row: not run by this experiment
    tables = row_tables(spec, list(cells.values()))
    assert "| over/PSNR ↑ | 23.14 | 23.20 ± 0.28 (2) | +0.06 | ±0.50 | ✓ | run:over |" in tables
    assert "| under/SSIM ↑ | 0.7920 | 0.7000 ± 0.0000 (2) | −0.0920 | ±0.0200 | ✗ | run:under |" in tables
    assert "### lmspec" in tables and "not reproduced here" in tables


@pytest.mark.parametrize(
    ("experiment", "expected"),
    [
        ("mirnet_lol", ["LOL", "our485", "https://daooshee.github.io/BMVC2018website/"]),
        ("endo_lmspec_endo4ie_indep_tuned", ["Endo4IE", "doi:10.17632/3j3tmghw33"]),
        ("lmspec_afifi", ["afifi_exposure", "Exposure_Correction#dataset"]),
    ],
)
def test_missing_data_is_one_line_naming_the_folder_and_where_to_get_it(
    experiment, expected, tmp_path, capsys
):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(
            "reproduce",
            experiment,
            f"paths.data_dir={tmp_path / 'none'}",
            f"hydra.run.dir={tmp_path / 'run'}",
        )
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]


def test_missing_official_weights_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(
            "reproduce",
            "zero_dce_pp_cpu",
            f"weights_dir={tmp_path}",
            "data.root=" + str(SHARED / "data" / "dicm"),
            f"hydra.run.dir={tmp_path / 'run'}",
        )
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: zero_dce_pp_cpu: expected the official weights")
    assert str(tmp_path / "zero_dce_pp" / "Epoch99.pth") in line and "Zero-DCE_extension" in line


def test_unknown_experiment_lists_the_names(capsys):
    with pytest.raises(SystemExit):
        run_cli("reproduce", "nonsense")
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: unknown experiment 'nonsense'; experiments: demo, ")


@pytest.fixture(scope="module")
def demo_reproduction(tmp_path_factory) -> tuple[Path, list[str]]:
    """`reproduce demo seeds=[0,1]` on a tiny synthetic set, one short epoch per seed."""
    base = tmp_path_factory.mktemp("reproduce")
    run_dir = base / "outputs" / "reproduce" / "run"
    lines = run_cli(
        "reproduce",
        "demo",
        "seeds=[0,1]",
        *SHORT,
        *TINY_SYNTHETIC,
        f"paths.data_dir={base / 'data'}",
        f"paths.log_dir={base / 'outputs'}",
        f"hydra.run.dir={run_dir}",
    )
    return run_dir, lines


def test_reproduce_demo_trains_each_seed_selects_on_val_and_scores_once(demo_reproduction):
    run_dir, lines = demo_reproduction
    assert lines[-1] == str(run_dir)
    record = read_json(run_dir / "reproduction.json")
    assert record["experiment"] == "demo" and record["seeds"] == [0, 1]
    assert record["protocol"].startswith("per-image mean")
    cells = {(c["row"], c["cell"]): c for c in record["cells"]}
    assert cells["unet", "psnr"]["n"] == 2 and len(cells["unet", "psnr"]["values"]) == 2
    assert cells["unet", "psnr"]["std"] is not None
    assert cells["identity", "psnr"]["n"] == 1 and cells["identity", "psnr"]["mean"] > 5
    seeds = record["runs"]["run:train"]
    assert [s["seed"] for s in seeds] == [0, 1]
    for seed in seeds:
        assert Path(seed["checkpoint"]).is_file()
        assert seed["selected_on"]["split"] == "val" and seed["selected_on"]["metric"] == "val/psnr"
        assert seed["train_wall_time_s"] > 0
    jobs = sorted((run_dir / "train" / "train").glob("[0-9]*"))
    assert len(jobs) == 2 and not any((job / "results.json").exists() for job in jobs)  # no test in training
    env = record["environment"]
    assert env["git_commit"] and env["device"] and env["packages"]["torch"]
    markdown = (run_dir / "reproduction.md").read_text()
    assert "### unet" in markdown and " ± " in markdown and "| PSNR ↑ | 21.00 |" in markdown
    assert any(line.startswith("| PSNR ↑ | 18.78 |") for line in lines)  # the tables are printed
    assert (run_dir / "report.html").is_file()


def test_reproduce_list_is_truthful_about_data_and_last_reproduction(demo_reproduction, tmp_path):
    run_dir, _ = demo_reproduction
    outputs = run_dir.parents[1]
    lol = tmp_path / "data" / "LOL"
    run_cli(
        "data synth",
        f"out={lol}",
        "layout=lol",
        f"source={tmp_path / 'synthetic'}",
        "scenes_per_photo=1",
        "scene_size=48",
    )
    lines = run_cli("reproduce", "list", f"paths.data_dir={tmp_path / 'data'}", f"paths.log_dir={outputs}")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert "yes, found train" in rows["mirnet_lol"]  # the layout parser found LOL-v1 folders
    assert "no: " in rows["mirnet_llie"]  # flat layout: train_val/ and test/ are not there
    assert "no: " in rows["lmspec_afifi"] and "Exposure_Correction#dataset" in rows["lmspec_afifi"]
    assert "yes, " in rows["demo"] and str(run_dir) in rows["demo"]
    assert "never" in rows["mirnet_synthetic"]
    runnable = lines[-1]
    assert (
        runnable.startswith("runnable here:") and "mirnet_lol" in runnable and "lmspec_afifi" not in runnable
    )


@pytest.mark.slow
def test_reproduce_with_a_checkpoint_skips_training(demo_reproduction, tmp_path):
    run_dir, _ = demo_reproduction
    checkpoint = read_json(run_dir / "reproduction.json")["runs"]["run:train"][0]["checkpoint"]
    out = tmp_path / "run"
    run_cli(
        "reproduce",
        "demo",
        f"ckpt_path={checkpoint}",
        "data.num_workers=0",
        *TINY_SYNTHETIC,
        f"paths.data_dir={run_dir.parents[2] / 'data'}",
        f"hydra.run.dir={out}",
    )
    record = read_json(out / "reproduction.json")
    unet = [c for c in record["cells"] if c["row"] == "unet"]
    assert all(c["n"] == 1 for c in unet)
    assert record["runs"]["run:train"][0]["selected_on"]["split"] == "given (ckpt_path)"
    assert not (out / "train").exists()


def test_reproduce_report_shows_verdict_colours_in_chromium(demo_reproduction):
    from selenium.webdriver.common.by import By

    run_dir, _ = demo_reproduction
    verdict = read_json(run_dir / "reproduction.json")["verdict"]
    with chromium() as driver:
        open_page(driver, run_dir / "report.html")
        assert len(driver.find_elements(By.CSS_SELECTOR, "td.pass")) == verdict["passed"]
        assert len(driver.find_elements(By.CSS_SELECTOR, "td.fail")) == verdict["failed"]
        assert all(
            w > 0
            for w in driver.execute_script(
                "return Array.from(document.images).map(function(i){return i.naturalWidth;})"
            )
        )
        full_page_screenshot(driver, run_dir / "report_screenshot.png")


@pytest.mark.slow
def test_indep_rows_merge_the_over_only_and_under_only_trainings(tmp_path):
    """Endo-LMSPEC's Table II 'indep.' row on the synthetic set in the Endo4IE layout: two trainings."""
    endo = tmp_path / "endo4ie"
    run_cli(
        "data synth",
        f"out={endo}",
        "layout=endo4ie",
        f"source={tmp_path / 'synthetic'}",
        "scenes_per_photo=1",
        "scene_size=64",
    )
    run_dir = tmp_path / "run"
    net = ["model.net.widths=[4,4,4,4]", "model.net.depths=[1,1,1,1]", "patches=random"]
    stage = "callbacks.staged_training.stages=[{patch_size:32,epochs:1,batch_size:2}]"
    run_cli(
        "reproduce",
        "endo_lmspec_endo4ie_indep_tuned",
        "seeds=[0]",
        f"data.root={endo}",
        *SHORT,
        *net,
        stage,
        "data.patch_size=32",
        "report.images=2",
        f"hydra.run.dir={run_dir}",
    )
    record = read_json(run_dir / "reproduction.json")
    cells = {c["cell"]: c for c in record["cells"] if c["row"] == "endo_lmspec"}
    assert cells["over/psnr"]["source"] == "run:over" and cells["over/psnr"]["n"] == 1
    assert cells["under/ssim"]["source"] == "run:under" and cells["under/ssim"]["n"] == 1
    over = record["runs"]["run:over"][0]["results"]
    assert "over/psnr" in over and "under/psnr" not in over  # the over-only training saw over frames only
    assert sorted(p.name for p in (run_dir / "train").iterdir()) == ["over", "under"]


@pytest.mark.slow
@pytest.mark.realdata
def test_cpu_row_and_official_weights_on_the_real_images(tmp_path):
    weights = SHARED / "weights" / "zero_dce_pp" / "Epoch99.pth"
    dicm, train_images = SHARED / "data" / "dicm", SHARED / "data" / "zero_dce_train_2002"
    if not (weights.is_file() and dicm.is_dir() and train_images.is_dir()):
        pytest.skip("../shared weights or data not present")
    test_root, train_root = tmp_path / "dicm", tmp_path / "train"
    for folder, source, count in ((test_root, dicm, 2), (train_root, train_images, 16)):
        folder.mkdir()
        for image in sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:count]:
            shutil.copy(image, folder / image.name)
    run_dir = tmp_path / "run"
    run_cli(
        "reproduce",
        "zero_dce_pp_cpu",
        "seeds=[0]",
        f"data.root={train_root}",
        f"data.test_root={test_root}",
        *SHORT,
        "report.images=1",
        f"hydra.run.dir={run_dir}",
    )
    record = read_json(run_dir / "reproduction.json")
    by_row = {c["row"]: c for c in record["cells"] if c["cell"] == "brightness"}
    assert set(by_row) == {
        "identity",
        "zero_dce_pp_official_s12",
        "zero_dce_pp_official_s1",
        "zero_dce_pp_cpu",
    }
    assert all(c["n"] == 1 and c["mean"] is not None for c in by_row.values())
    assert by_row["zero_dce_pp_official_s12"]["mean"] > by_row["identity"]["mean"]  # it brightens
    assert (run_dir / "imported" / "official_s12.ckpt").is_file()


def test_training_gets_the_users_overrides_and_launcher_but_not_the_scoring_keys():
    from exposure_lab.commands.reproduce import forwarded

    task = [
        "experiment=demo",
        "metrics=default",
        "seeds=[0,1]",
        "ckpt_path=a.ckpt",
        "data.root=/d",
        "trainer.max_epochs=3",
        "+model.losses.ssim=0.5",
        "latency.size=64",
        "report.images=2",
    ]
    hydra = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.run.dir=/out"]
    assert forwarded(task, hydra) == [
        "data.root=/d",
        "trainer.max_epochs=3",
        "+model.losses.ssim=0.5",
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
    ]
