"""`exposure-lab import <model> <official .pth> [out=<ckpt>] [overwrite=true] [verify=false] [net.<arg>=...]`.

Converts a released checkpoint of a supported method into an exposure_lab checkpoint that `eval`, `predict`
and `benchmark` accept as `ckpt_path=` (see `exposure_lab.checkpoints.official`).
"""

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from exposure_lab.checkpoints.official import import_official
from exposure_lab.commands import exit_on_user_error
from exposure_lab.errors import ExposureLabError

USAGE = (
    "usage: exposure-lab import <model> <official .pth> [out=<ckpt>] [overwrite=true] [verify=false] "
    "[net.<arg>=<value> ...]"
)


def parse_arguments(args: Sequence[str]) -> dict[str, Any]:
    """`<model> <source> [out=…] [overwrite=true] [verify=false] [overrides…]` → keyword arguments of
    `import_official`."""
    positional = [a for a in args if "=" not in a]
    if len(positional) != 2:
        raise ExposureLabError(f"import needs a model name and an official checkpoint file\n{USAGE}")
    own = ("out=", "overwrite=", "verify=")
    options = dict(a.split("=", 1) for a in args if a.startswith(own))
    flags = {
        name: options.get(name, default).lower()
        for name, default in (("overwrite", "false"), ("verify", "true"))
    }
    for name, value in flags.items():
        if value not in ("true", "false"):
            raise ExposureLabError(f"{name} must be true or false, got {value!r}")
    overrides = [a for a in args if "=" in a and not a.startswith(own)]
    model, source = positional
    return {
        "model": model,
        "source": Path(source),
        "out": options.get("out"),
        "overrides": overrides,
        "overwrite": flags["overwrite"] == "true",
        "verify": flags["verify"] == "true",
    }


@exit_on_user_error
def main() -> None:
    arguments = parse_arguments(sys.argv[1:])
    path = import_official(**arguments)
    stored = torch.load(path, map_location="cpu", weights_only=True)
    net_tensors = {k: v for k, v in stored["state_dict"].items() if k.startswith("net.")}
    print(
        f"imported {arguments['source']} as model {arguments['model']!r}: {len(net_tensors)} tensors, "
        f"{sum(v.numel() for v in net_tensors.values()):,} values"
    )
    imported = stored["exposure_lab"]["imported_from"]
    release = f" (the official release: {imported['release']})" if imported.get("release") else ""
    print(f"sha256 {imported['sha256']}{release}")
    print(path.resolve())


if __name__ == "__main__":
    main()
