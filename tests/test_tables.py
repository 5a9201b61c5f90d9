"""Results tables: arrows and bold best by each metric's direction, n/a for missing values, the four files."""

import csv
import json
import math

from exposure_lab.evaluation.tables import markdown_table, write_results

PROTOCOL = "PSNR on RGB of uint8-rounded images; SSIM MATLAB rgb2gray; LPIPS alex v0.1"
RESULTS = {
    "unet": {"psnr": 24.5678, "ssim": 0.81234, "lpips": 0.21, "params": 188323, "latency_ms_per_mp": 412.34},
    "gamma": {"psnr": 18.2, "ssim": 0.7, "lpips": 0.15, "params": 0, "latency_ms_per_mp": 3.21},
    "clahe": {"psnr": None, "ssim": math.nan, "lpips": 0.35, "params": 0, "latency_ms_per_mp": 9.0},
}
COLUMNS = ["psnr", "ssim", "lpips", "params", "latency_ms_per_mp"]


def parse(markdown: str) -> tuple[list[str], dict[str, list[str]]]:
    """Header cells and model → row cells of the Markdown table."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines()[2:]]
    return rows[0][1:], {row[0]: row[1:] for row in rows[2:]}


def test_protocol_line_then_blank_line_then_table():
    lines = markdown_table(RESULTS, PROTOCOL, COLUMNS).splitlines()
    assert lines[0] == PROTOCOL
    assert lines[1] == ""
    assert lines[2].startswith("| model |")
    assert len(lines) == 3 + 1 + len(RESULTS)


def test_headers_carry_direction_arrows():
    header, _ = parse(markdown_table(RESULTS, PROTOCOL, COLUMNS))
    assert header == ["PSNR ↑", "SSIM ↑", "LPIPS ↓", "params ↓", "latency (ms/MP) ↓"]


def test_best_value_is_bold_by_metric_direction_and_missing_is_na():
    _, rows = parse(markdown_table(RESULTS, PROTOCOL, COLUMNS))
    assert rows["unet"] == ["**24.57**", "**0.8123**", "0.2100", "188,323", "412.3"]
    assert rows["gamma"] == ["18.20", "0.7000", "**0.1500**", "**0**", "**3.2**"]
    assert rows["clahe"] == ["n/a", "n/a", "0.3500", "**0**", "9.0"]


def test_ties_at_display_precision_are_all_bold():
    results = {"a": {"psnr": 30.001}, "b": {"psnr": 29.999}, "c": {"psnr": 29.5}}
    _, rows = parse(markdown_table(results, PROTOCOL))
    assert rows == {"a": ["**30.00**"], "b": ["**30.00**"], "c": ["29.50"]}


def test_a_single_model_table_has_no_bold():
    _, rows = parse(markdown_table({"unet": RESULTS["unet"]}, PROTOCOL, COLUMNS))
    assert rows == {"unet": ["24.57", "0.8123", "0.2100", "188,323", "412.3"]}


def test_all_missing_column_has_no_bold_and_unknown_column_no_arrow():
    results = {"a": {"lpips": None, "runs": 3}, "b": {"lpips": math.nan, "runs": 5}}
    header, rows = parse(markdown_table(results, PROTOCOL))
    assert header == ["LPIPS ↓", "runs"]
    assert rows == {"a": ["n/a", "3.0000"], "b": ["n/a", "5.0000"]}


def test_columns_default_to_every_metric_in_order_of_appearance():
    header, rows = parse(markdown_table({"a": {"psnr": 20.0}, "b": {"lpips": 0.1, "psnr": 21.0}}, PROTOCOL))
    assert header == ["PSNR ↑", "LPIPS ↓"]
    assert rows == {"a": ["20.00", "n/a"], "b": ["**21.00**", "**0.1000**"]}


def test_write_results_writes_markdown_json_csv_and_per_image(tmp_path):
    per_image = [
        {"model": "unet", "name": "a.png", "ev": -1.5, "subset": "under", "psnr": 25.0, "lpips": None},
        {"model": "gamma", "name": "a.png", "ev": None, "subset": "", "psnr": 18.0, "lpips": 0.2},
    ]
    markdown = write_results(tmp_path / "out", RESULTS, per_image, PROTOCOL, COLUMNS)
    out = tmp_path / "out"
    assert (out / "results.md").read_text(encoding="utf-8") == markdown
    assert markdown == markdown_table(RESULTS, PROTOCOL, COLUMNS)

    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["protocol"] == PROTOCOL
    assert saved["results"]["unet"]["params"] == 188323
    assert saved["results"]["clahe"]["psnr"] is None
    assert saved["results"]["clahe"]["ssim"] is None
    assert list(saved["results"]) == ["unet", "gamma", "clahe"]

    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["model", *COLUMNS]
    assert float(rows[0]["psnr"]) == 24.5678
    assert rows[2]["psnr"] == "" and rows[2]["ssim"] == ""

    with (out / "per_image.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))
    assert list(records[0]) == ["model", "name", "ev", "subset", "psnr", "lpips"]
    assert records[0]["lpips"] == "" and records[1]["lpips"] == "0.2"
    assert [r["model"] for r in records] == ["unet", "gamma"]
