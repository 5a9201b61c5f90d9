"""`exposure-lab <command> [hydra overrides]`: dispatch to the Hydra entry point of each command."""

import importlib
import importlib.util
import sys
import warnings

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
    "predict": (
        "predict",
        "enhance images: exposure-lab predict ckpt_path=<ckpt>|model=<name> input=<file|dir> output=<dir>",
    ),
    "assess": (
        "assess",
        "exposure maps: exposure-lab assess ckpt_path=<assessor ckpt> input=<file|dir> output=<dir>",
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
        print(f"error: unknown command {' '.join(args[:2])!r}\n\n{help_text()}", file=sys.stderr)
        return 2
    name, overrides = resolved
    # Lightning's DDP launcher re-runs `python -m <__main__.__spec__.name> <argv[1:]>` for the other ranks.
    sys.modules["__main__"].__spec__ = importlib.util.find_spec(command_module(name))
    run_command(name, overrides)
    return 0


def run_command(name: str, overrides: list[str]) -> None:
    """Run one command's Hydra entry point with `overrides` as its command line."""
    # Raised inside Lightning about torch's own API; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=Warning)
    module = importlib.import_module(command_module(name))
    sys.argv = [sys.argv[0], *overrides]
    module.main()


if __name__ == "__main__":
    sys.exit(main())
