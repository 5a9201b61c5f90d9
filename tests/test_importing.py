"""The official-weights importer's common part: unwrapping, key/shape checks, arguments, refusals."""

from pathlib import Path

import pytest
import torch
from tests.helpers import SHARED

from exposure_lab.checkpoints.official import (
    check_state_dict,
    import_official,
    read_official_state_dict,
    sha256_of,
)
from exposure_lab.checkpoints.releases import RELEASES, verify_release
from exposure_lab.commands.import_weights import parse_arguments
from exposure_lab.errors import ExposureLabError


def save(path: Path, value: object) -> Path:
    torch.save(value, path)
    return path


def test_wrappers_and_data_parallel_prefix_are_removed(tmp_path):
    weights = {"module.conv.weight": torch.ones(2, 3), "module.conv.bias": torch.zeros(2)}
    wrapped = {"epoch": 99, "state_dict": {"params": weights}}
    assert set(read_official_state_dict(save(tmp_path / "w.pth", wrapped))) == {"conv.weight", "conv.bias"}


def test_unreadable_and_tensorless_files_are_named(tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(ExposureLabError, match=r"broken\.pth: not a readable PyTorch file"):
        read_official_state_dict(broken)
    with pytest.raises(ExposureLabError, match=r"empty\.pth: no tensors and no state_dict entry"):
        read_official_state_dict(save(tmp_path / "empty.pth", {"epoch": 3}))
    with pytest.raises(ExposureLabError, match=r"absent\.pth: official checkpoint not found"):
        read_official_state_dict(tmp_path / "absent.pth")


def test_mismatches_are_reported_by_name():
    expected = {"a.weight": torch.zeros(4, 3), "b.weight": torch.zeros(2), "c.bias": torch.zeros(1)}
    converted = {
        "a.weight": torch.zeros(3, 4),
        "b.weight": torch.zeros(2),
        "extra.running_mean": torch.zeros(1),
    }
    with pytest.raises(ExposureLabError) as error:
        check_state_dict(converted, expected, Path("x.pth"))
    message = str(error.value)
    assert "missing (1): c.bias" in message
    assert "unexpected (1): extra.running_mean" in message
    assert "wrong shape (1): a.weight (3, 4) vs (4, 3)" in message
    check_state_dict(expected, expected, Path("x.pth"))


def test_arguments_split_into_options_and_model_overrides():
    arguments = parse_arguments(
        ["zero_dce_pp", "w.pth", "out=a.ckpt", "net.scale_factor=12", "overwrite=true", "verify=false"]
    )
    assert arguments == {
        "model": "zero_dce_pp",
        "source": Path("w.pth"),
        "out": "a.ckpt",
        "overrides": ["net.scale_factor=12"],
        "overwrite": True,
        "verify": False,
    }
    with pytest.raises(ExposureLabError, match="needs a model name and an official checkpoint file"):
        parse_arguments(["w.pth"])


def test_models_without_a_converter_and_existing_outputs_are_refused(tmp_path):
    source = save(tmp_path / "w.pth", {"conv.weight": torch.ones(1)})
    with pytest.raises(ExposureLabError, match=r"'unet' \(UNet\) has no converter"):
        import_official("unet", source, tmp_path / "unet.ckpt")
    with pytest.raises(ExposureLabError, match="unknown model 'nonet'"):
        import_official("nonet", source, tmp_path / "x.ckpt")
    (tmp_path / "kept.ckpt").write_bytes(b"earlier result")
    with pytest.raises(ExposureLabError, match=r"kept\.ckpt: already exists"):
        import_official("unet", source, tmp_path / "kept.ckpt")
    assert (tmp_path / "kept.ckpt").read_bytes() == b"earlier result"


def test_import_command_prints_a_one_line_error(cli, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_status:
        cli("import", "unet", str(tmp_path / "missing.pth"), f"out={tmp_path / 'x.ckpt'}")
    assert exit_status.value.code == 2
    assert "missing.pth: official checkpoint not found" in capsys.readouterr().err


def test_a_file_named_as_a_release_must_hash_to_it(tmp_path):
    claimed = tmp_path / "Epoch99.pth"
    claimed.write_bytes(b"not the release")
    with pytest.raises(ExposureLabError, match="verify=false"):
        verify_release("zero_dce", claimed, sha256_of(claimed))
    official = next(r for r in RELEASES if r.model == "zero_dce")
    assert verify_release("zero_dce", claimed, official.sha256) == official
    other = tmp_path / "my_weights.pth"
    other.write_bytes(b"anything")
    assert verify_release("zero_dce", other, sha256_of(other)) is None


@pytest.mark.realdata
def test_every_shared_release_file_hashes_to_its_table_row():
    files = [p for p in (SHARED / "weights").rglob("*") if p.suffix in (".pth", ".pt")]
    if not files:
        pytest.skip(f"no released weights under {SHARED / 'weights'}")
    for path in files:
        digest = sha256_of(path)
        assert any(r.file == path.name and r.sha256 == digest for r in RELEASES), path
