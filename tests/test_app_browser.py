"""`exposure-lab app` in a real browser: Debian's headless Chromium, driven by Selenium via chromium-driver.

Skipped where Chromium is not installed (`make install-browser`), except in CI (CI=true), where it fails.
Saves a screenshot of the page as .cache/test-artifacts/app_browser.png.
"""

import io
import json
import os
import shutil
import threading
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image
from tests.helpers import REPO, smooth_image
from tests.test_app import TINY_ASSESSOR, save_checkpoint

from exposure_lab.data.io import IMAGE_EXTENSIONS, write_image
from exposure_lab.prediction.app import DemoModel, load_assessor
from exposure_lab.prediction.app_server import DemoApp, make_server

ARTIFACT = REPO / ".cache" / "test-artifacts" / "app_browser.png"
HEIGHT, WIDTH = 150, 200
WAIT_SECONDS = 120


def _require(found: str | None, what: str) -> str:
    if found:
        return found
    message = f"{what} not found; install Debian's chromium and chromium-driver (make install-browser)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("app_browser")
    models = [
        DemoModel(str(save_checkpoint(root / "lmspec_tiny.ckpt", "lmspec_tiny"))),
        DemoModel(str(save_checkpoint(root / "zero_dce_pp.ckpt", "zero_dce_pp"))),
    ]
    assessor = load_assessor(save_checkpoint(root / "assessor.ckpt", "p_ieanet", tuple(TINY_ASSESSOR)))
    server = make_server(DemoApp(models, [], root / "work", assessor=assessor), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def driver() -> Iterator["object"]:
    chromium = _require(shutil.which("chromium"), "chromium")
    chromedriver = _require(shutil.which("chromedriver"), "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1400,1500",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield browser
    browser.quit()


def fetch_png(address: str) -> np.ndarray:
    with urllib.request.urlopen(address) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def requested_urls(driver) -> set[str]:
    urls = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.add(message["params"]["url"])
    return urls


def test_upload_move_a_pyramid_slider_and_download_in_chromium(url, driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    image = write_image(
        tmp_path / "scene.png", smooth_image(torch.Generator().manual_seed(5), HEIGHT, WIDTH) * 0.5
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\n")
    wait = WebDriverWait(driver, WAIT_SECONDS)

    def element(id: str):
        return driver.find_element(By.ID, id)

    def finished(result: str | None = None) -> None:
        wait.until(lambda _: element("status").get_attribute("data-state") in ("done", "error"))
        if result is not None:
            wait.until(lambda _: element("output-img").get_attribute("data-result") not in (None, "", result))

    driver.get(url)
    wait.until(lambda _: len(element("model").find_elements(By.TAG_NAME, "option")) == 2)
    element("upload").send_keys(str(image))
    finished("")
    assert element("error").text == ""
    first_result = element("output-img").get_attribute("data-result")
    first = fetch_png(element("output-img").get_attribute("src"))
    assert first.shape == (HEIGHT, WIDTH, 3)
    assert [element(f"s{level}").get_attribute("value") for level in range(1, 5)] == ["1"] * 4
    assert [element(f"s{level}").get_attribute("max") for level in range(1, 5)] == ["4", "4", "4", "2.5"]

    element("s1").send_keys(Keys.END)  # S1 to the release's maximum, 4
    finished(first_result)
    assert element("s1").get_attribute("value") == "4"
    second = fetch_png(element("output-img").get_attribute("src"))
    assert second.shape == (HEIGHT, WIDTH, 3) and not np.array_equal(first, second)
    assert "'+model.pyramid_scales=[4,1,1,1]'" in element("command").text
    assert "latency" in element("status").text and " ms" in element("status").text
    assert "cpu, fp32, channels-last)" in element("status").text
    assert fetch_png(element("download").get_attribute("href")).shape == (HEIGHT, WIDTH, 3)
    assert element("heat-out").get_attribute("src") and "score" in element("scores").text
    element("compare-range").send_keys(Keys.HOME)  # the before/after split all the way to "after"
    assert element("compare-before").value_of_css_property("clip-path") == "inset(0px 100% 0px 0px)"
    element("compare-range").send_keys(Keys.END)
    assert element("compare-before").value_of_css_property("clip-path") == "inset(0px 0% 0px 0px)"
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACT))

    for button, scales in (
        ("scales-release", "'+model.pyramid_scales=[1.5,1.5,1.5,1.05]'"),
        ("scales-one", None),
    ):
        result_before = element("output-img").get_attribute("data-result")
        element(button).click()
        finished(result_before)
        command = element("command").text
        assert (scales in command) if scales else ("pyramid_scales" not in command), (button, command)

    result_before = element("output-img").get_attribute("data-result")
    Select(element("model")).select_by_index(1)  # the curve model: its scale_factor and curve map
    finished(result_before)
    assert element("curve-controls").is_displayed() and not element("lmspec-controls").is_displayed()
    assert fetch_png(element("curve-img").get_attribute("src")).shape == (HEIGHT, WIDTH, 3)
    result_before = element("output-img").get_attribute("data-result")
    Select(element("model")).select_by_index(0)
    finished(result_before)

    element("upload").send_keys(str(notes))
    wait.until(lambda _: element("status").get_attribute("data-state") == "error")
    message = element("error").text
    extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
    assert message.startswith("error: ") and message.endswith(
        f"notes.txt: not an image file name (expected one of {extensions})"
    )
    result_before = element("output-img").get_attribute("data-result")
    element("upload").send_keys(str(image))
    finished(result_before)
    assert element("error").text == "" and element("status").get_attribute("data-state") == "done"

    outside = sorted(u for u in requested_urls(driver) if not u.startswith((url, "data:", "blob:")))
    assert outside == []
