import pytest

from exposure_lab import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("train", "eval", "benchmark", "predict", "data synth"):
        assert f"  {name} " in out


def test_unknown_command_is_one_clear_error(capsys):
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "x=1"], ("train", ["x=1"])),
        (["data", "synth", "out=d"], ("data synth", ["out=d"])),
        (["data"], None),
    ],
)
def test_resolve_command(argv, expected):
    assert cli.resolve_command(argv) == expected
