"""The examples in the package's docstrings (known values: PSNR of a k/255 offset, padding, BT.601 luma ...)
run as tests; every module with an example is found by its text, so a new one needs no edit here."""

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "exposure_lab"
WITH_EXAMPLES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
    if ">>> " in path.read_text()
)


def test_the_known_value_examples_are_there():
    assert {"exposure_lab.metrics.pixelwise", "exposure_lab.inference", "exposure_lab.metrics.color"} <= set(
        WITH_EXAMPLES
    )


@pytest.mark.parametrize("module", WITH_EXAMPLES)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
