"""report.html in a real browser: a benchmark of three models on a paired and an unpaired set, opened in
headless Chromium; tables, plots and the image viewer are checked in the DOM and a screenshot is kept."""

from pathlib import Path

import pytest
import torch
from tests.browser import chromium, element_pixels, full_page_screenshot, image_sizes, open_page
from tests.helpers import read_json, smooth_image

from exposure_lab.data.io import write_image

MODELS = ["identity", "gamma", "clahe"]


@pytest.fixture(scope="module")
def benchmark_run(paired_root, tmp_path_factory) -> Path:
    """`benchmark` of MODELS on the paired fixture and three unpaired images; returns the run dir."""
    from tests.helpers import run_cli

    unpaired = tmp_path_factory.mktemp("unpaired")
    generator = torch.Generator().manual_seed(3)
    for index in range(3):
        write_image(unpaired / f"photo{index}.png", smooth_image(generator, 36, 52) * 0.3)
    run_dir = tmp_path_factory.mktemp("report_bench")
    run_cli(
        "benchmark",
        f"models=[{','.join(MODELS)}]",
        "datasets=[paired,unpaired]",
        f"+data_options.paired.input_dir={paired_root / 'testing' / 'INPUT_IMAGES'}",
        f"+data_options.paired.target_dir={paired_root / 'testing' / 'GT_IMAGES'}",
        "+data_options.paired.num_workers=0",
        f"+data_options.unpaired.test_root={unpaired}",
        "+data_options.unpaired.num_workers=0",
        "latency.repeats=2",
        "latency.size=64",
        f"hydra.run.dir={run_dir}",
    )
    return run_dir


def test_report_is_self_contained(benchmark_run):
    html = (benchmark_run / "report.html").read_text()
    assert "<script src" not in html and "<link" not in html
    assert "http://" not in html and "https://" not in html
    assert html.count("data:image/") >= 10


def test_report_renders_in_chromium(benchmark_run):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    matrix = read_json(benchmark_run / "matrix.json")
    with chromium() as driver:
        open_page(driver, benchmark_run / "report.html")
        sizes = image_sizes(driver)
        assert len(sizes) >= 10 and all(w > 0 and h > 0 for w, h in sizes), sizes
        tables = driver.find_elements(By.CSS_SELECTOR, "table.results")
        rows = [len(t.find_elements(By.CSS_SELECTOR, "tbody tr")) for t in tables]
        assert rows[:3] == [len(MODELS)] * 3  # matrix, then the two per-set tables
        first = tables[0]
        psnr = next(
            th for th in first.find_elements(By.CSS_SELECTOR, "thead th") if "paired · PSNR" in th.text
        )
        psnr.click()
        best = max(matrix["results"], key=lambda m: matrix["results"][m]["paired/psnr"])
        assert first.find_element(By.CSS_SELECTOR, "tbody tr th").text == best
        assert psnr.get_attribute("aria-sort") == "descending"
        bold = first.find_elements(By.CSS_SELECTOR, "tbody td.best")
        assert bold, "the best value of each column is marked"

        viewers = driver.find_elements(By.CSS_SELECTOR, ".viewer")
        assert len(viewers) == 2
        viewer = viewers[0]
        driver.execute_script("arguments[0].scrollIntoView()", viewer)
        picker = Select(viewer.find_element(By.CSS_SELECTOR, ".v-image"))
        assert len(picker.options) == 6  # six test images spread over the eight
        strip = viewer.find_elements(By.CSS_SELECTOR, ".v-strip figure")
        assert [f.text for f in strip] == ["input", *MODELS, "reference"]
        assert len(viewer.find_elements(By.CSS_SELECTOR, ".v-scores tbody tr")) == len(MODELS)

        Select(viewer.find_element(By.CSS_SELECTOR, ".v-right")).select_by_visible_text("reference")
        compare = viewer.find_element(By.CSS_SELECTOR, ".compare")
        before_clip = viewer.find_element(By.CSS_SELECTOR, ".v-before").value_of_css_property("clip-path")
        before = element_pixels(compare)
        slider = viewer.find_element(By.CSS_SELECTOR, ".v-slider")
        ActionChains(driver).click_and_hold(slider).move_by_offset(
            -slider.size["width"] // 3, 0
        ).release().perform()
        assert int(slider.get_attribute("value")) < 30
        assert (
            viewer.find_element(By.CSS_SELECTOR, ".v-before").value_of_css_property("clip-path")
            != before_clip
        )
        changed = (abs(element_pixels(compare) - before).sum(-1) > 30).mean()
        assert changed > 0.05, f"moving the slider changed only {changed:.1%} of the pixels"

        shown = viewer.find_element(By.CSS_SELECTOR, ".v-after").get_attribute("src")
        picker.select_by_index(3)
        assert viewer.find_element(By.CSS_SELECTOR, ".v-after").get_attribute("src") != shown
        full_page_screenshot(driver, benchmark_run / "report_screenshot.png")
    assert (benchmark_run / "report_screenshot.png").stat().st_size > 10_000
