"""Headless Debian Chromium through Selenium and Debian's chromium-driver (no browser download), for the
report tests. Without them the tests skip, except under CI, where the browser is installed and they fail."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("EXPOSURE_LAB_ARTIFACTS", REPO / ".cache" / "test-artifacts"))


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package (make install)"
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return "Debian's chromium and chromium-driver (make install-browser)"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium WebDriver; skips (fails under CI) when the browser or Selenium is missing."""
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {missing} for the browser tests")
        pytest.skip(f"needs {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, path: Path) -> None:
    """Load a local HTML file and wait until every image has finished loading."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "Array.from(document.images).every(function(i){return i.complete;})"
        )
    )


def image_sizes(driver: Any) -> list[tuple[int, int]]:
    """(naturalWidth, naturalHeight) of every <img> on the page."""
    return [
        tuple(size)
        for size in driver.execute_script(
            "return Array.from(document.images).map(function(i){return [i.naturalWidth, i.naturalHeight];})"
        )
    ]


def element_pixels(element: Any) -> np.ndarray:
    """The element's rendered pixels, (H, W, 3) int16."""
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB"), dtype=np.int16)


def full_page_screenshot(driver: Any, path: Path) -> Path:
    """Resize the window to the page's height, scroll to the top and save a PNG screenshot to `path` (and a
    copy under the artifacts folder)."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(max(1200, width), min(height + 40, 12000))
    driver.execute_script("window.scrollTo(0, 0)")
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)
    return path
