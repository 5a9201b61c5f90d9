"""`exposure-lab <command> [hydra overrides]`: dispatch to the Hydra entry point of each command, and say
Hydra's own errors (an unknown option or key, an override it cannot parse) in one `error:` line."""

import contextlib
import difflib
import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterator

from hydra.errors import (
    ConfigCompositionException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from exposure_lab.commands import exit_with
from exposure_lab.errors import CommandFailed, user_message

COMMAND_PACKAGE = "exposure_lab.commands"
# command → (its module in `COMMAND_PACKAGE`, one help line)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "train",
        "train a model: exposure-lab train experiment=<name> [overrides]",
    ),
    "eval": (
        "eval",
        "score a checkpoint: exposure-lab eval ckpt_path=<ckpt> [data=<name>]",
    ),
    "benchmark": (
        "benchmark",
        "compare checkpoints and baselines: exposure-lab benchmark models=[a.ckpt,gamma] data=<name>",
    ),
    "reproduce": (
        "reproduce",
        "paper vs ours: exposure-lab reproduce <experiment>|list [seeds=[0,1,2]] [ckpt_path=<ckpt>]",
    ),
    "predict": (
        "predict",
        "enhance images: exposure-lab predict ckpt_path=<ckpt>|model=<name> input=<file|dir> output=<dir>",
    ),
    "assess": (
        "assess",
        "exposure maps: exposure-lab assess ckpt_path=<assessor ckpt> input=<file|dir> output=<dir>",
    ),
    "export": (
        "export",
        "ONNX with a parity check: exposure-lab export ckpt_path=<ckpt>|model=<name> [out=<file.onnx>]",
    ),
    "app": (
        "app",
        "a local web page to try models on an image: exposure-lab app 'models=[a.ckpt,clahe]' [port=7860]",
    ),
    "import": (
        "import_weights",
        "convert official weights: exposure-lab import <model> <official .pth> [out=<ckpt>]",
    ),
    "bench": (
        "bench",
        "speed of nets on this machine as JSON: exposure-lab bench [model=<name>]",
    ),
    "data patches": (
        "data_patches",
        "cut training patches offline: exposure-lab data patches data=<name> sizes=[128,256,512]",
    ),
    "data synth": (
        "data_synth",
        "render the synthetic exposure set: exposure-lab data synth out=<dir>",
    ),
}

OWN_ARGUMENTS = ("import", "bench")  # commands that parse their own arguments (not Hydra overrides)
USAGE = "usage: exposure-lab <command> [hydra overrides]   (each command also takes --help, --cfg job, -m)"


def command_module(name: str) -> str:
    """The module that implements command `name`, e.g. `data synth` → `exposure_lab.commands.data_synth`."""
    return f"{COMMAND_PACKAGE}.{COMMANDS[name][0]}"


def help_text() -> str:
    """The command list printed by `exposure-lab --help`."""
    width = max(len(name) for name in COMMANDS)
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def resolve_command(args: list[str]) -> tuple[str, list[str]] | None:
    """Split argv into (command name, remaining overrides); None when no command matches."""
    for length in (2, 1):
        name = " ".join(args[:length])
        if len(args) >= length and name in COMMANDS:
            return name, args[length:]
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `exposure-lab` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(help_text())
        return 0
    resolved = resolve_command(args)
    if resolved is None:
        asked = " ".join(args[:2]) if args[0] == "data" else args[0]
        hint = closest(asked, list(COMMANDS))
        print(f"error: unknown command {asked!r}{hint} commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    name, overrides = resolved
    # Lightning's DDP launcher re-runs `python -m <__main__.__spec__.name> <argv[1:]>` for the other ranks.
    sys.modules["__main__"].__spec__ = importlib.util.find_spec(command_module(name))
    run_command(name, overrides)
    return 0


def run_command(name: str, overrides: list[str]) -> None:
    """Run one command's entry point with `overrides` as its command line; a user error (Hydra's own included)
    ends it with `error:` lines and exit status 2 (SystemExit)."""
    # Raised inside Lightning about torch's own API; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=Warning)
    module = importlib.import_module(command_module(name))
    if name not in OWN_ARGUMENTS:
        overrides = [quoted_non_ascii(override) for override in overrides]
    sys.argv = [sys.argv[0], *overrides]
    with hydra_raises():
        try:
            module.main()
        except CommandFailed as exc:
            exit_with(str(exc))
        except Exception as exc:
            message = hydra_message(exc) or user_message(exc)
            if message is None:
                raise
            exit_with(message)


@contextlib.contextmanager
def hydra_raises() -> Iterator[None]:
    """Make Hydra raise its errors instead of printing them over several lines and exiting with status 1."""
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


def quoted_non_ascii(override: str) -> str:
    """`key=value` with a non-ASCII value (a path such as `fotos_ñandú`) quoted, as Hydra's override grammar
    needs; lists, sweeps and quoted values are left as they are."""
    key, sep, value = override.partition("=")
    if not sep or value.isascii() or value[:1] in "'\"[{(" or "," in value:
        return override
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"{key}='{escaped}'"


def closest(name: str, choices: list[str], prefix: str = "") -> str:
    """`; did you mean '<prefix>x'?` for the choice x most like `name`, else `;`."""
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {prefix + match[0]!r}?" if match else ";"


def hydra_message(exc: BaseException) -> str | None:
    """One line for Hydra's own errors (an unknown config option or key, an override it cannot parse, an
    option Lightning or OmegaConf refuses), with the choices; None for other exceptions."""
    cause = exc.__cause__
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file and exc.options is not None:
        group, _, name = exc.missing_cfg_file.rpartition("/")
        options = sorted(exc.options)
        return f"unknown {group or 'config'} {name!r}{closest(name, options)} choices: {', '.join(options)}"
    if isinstance(exc, OverrideParseException):
        reason = exc.message.splitlines()[0]
        return f"cannot read the override {exc.override!r}: {reason} (quote values with brackets or spaces)"
    if isinstance(exc, ConfigCompositionException) and isinstance(
        cause, ConfigKeyError | ConfigAttributeError
    ):
        parent, _, key = (cause.full_key or "").rpartition(".")
        keys = sorted(str(k) for k in (cause.parent_node or {}) if not str(k).startswith("_"))
        where, prefix = (f" of {parent!r}", f"{parent}.") if parent else ("", "")
        return (
            f"unknown option {cause.full_key!r}{closest(key, keys, prefix)} "
            f"options{where}: {', '.join(keys)} "
            f"(a new key needs a leading +: +{cause.full_key}=...)"
        )
    if user_message(exc) is not None:
        return None
    if isinstance(exc, InstantiationException | ConfigCompositionException) and isinstance(
        cause, MisconfigurationException | OmegaConfBaseException
    ):
        return f"{str(exc).splitlines()[0]} {str(cause).splitlines()[0]}"
    if isinstance(exc, ConfigCompositionException | OmegaConfBaseException):
        return str(exc).splitlines()[0]
    return None


if __name__ == "__main__":
    sys.exit(main())
