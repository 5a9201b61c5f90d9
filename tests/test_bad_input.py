"""Bad-input corpus: every kind of bad input, through the real CLI in this process with the shipped default
number of data-loader workers, ends with exit status 2 and exactly one `error:` line naming the file (or the
option) and the problem, without a traceback, and leaves every pre-existing file it could touch
byte-identical.

A failing case names its verdict first (`traceback`, `hydra multi-line`, `exit 0 on a real problem`,
`data loss`, ...), so a run of this module counts the kinds of failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tests.helpers import run_cli, smooth_image
from tests.test_assessment import tiny_assessor_checkpoint

from exposure_lab import cli
from exposure_lab.data.io import write_image

TRACEBACK = "Traceback (most recent call last)"
FAST_TRAIN = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=1",
    "+trainer.limit_val_batches=1",
    "logger=csv",
    "callbacks=none",
]


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.startswith("error:")]


@dataclass
class Case:
    """One bad input: the command line, what its error line must name (each entry: alternatives joined by
    `|`, case-insensitive), the folders whose pre-existing files must stay byte-identical, and for the kinds
    that must succeed (`succeeds=True`) a check of what was written."""

    argv: list[str]
    needles: list[str] = field(default_factory=list)
    watched: list[Path] = field(default_factory=list)
    succeeds: bool = False
    check: Callable[[], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def run(capfd: pytest.CaptureFixture[str], argv: list[str]) -> Outcome:
    """`exposure-lab <argv>` in this process; exit status and everything written to fds 1 and 2."""
    capfd.readouterr()
    saved_argv = sys.argv[:]
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except Exception:  # what a user would see: the interpreter prints the traceback, exit status 1
        traceback.print_exc()
        status = 1
    finally:
        sys.argv = saved_argv
    captured = capfd.readouterr()
    return Outcome(int(status or 0), captured.out, captured.err)


def snapshot(folders: list[Path]) -> dict[Path, bytes | str]:
    """Every file under `folders` (links as their target text, not followed) → its bytes."""
    files: dict[Path, bytes | str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_symlink():
                files[path] = f"-> {os.readlink(path)}"
            elif path.is_file():
                files[path] = path.read_bytes()
    return files


def data_loss(before: dict[Path, bytes | str], after: dict[Path, bytes | str]) -> str:
    changed = [p.name for p in before if p in after and after[p] != before[p]]
    removed = [p.name for p in before if p not in after]
    added = [p.name for p in after if p not in before]
    parts = [f"{label} {names}" for label, names in (("changed", changed), ("removed", removed)) if names]
    parts += [f"wrote into a watched folder {added}"] if added else []
    return "; ".join(parts)


def verdict(case: Case, outcome: Outcome) -> str:
    """'ok' or what went wrong, most telling first."""
    if TRACEBACK in outcome.text:
        return "traceback"
    if case.succeeds:
        return "ok" if outcome.status == 0 else f"exit {outcome.status} where the input is fine"
    if outcome.status == 0:
        return "exit 0 on a real problem"
    if "HYDRA_FULL_ERROR" in outcome.text:
        return f"hydra multi-line (exit {outcome.status})"
    if outcome.status != 2 or len(outcome.error_lines) != 1:
        return f"exit {outcome.status} with {len(outcome.error_lines)} error lines"
    line = outcome.error_lines[0].lower()
    missing = [n for n in case.needles if not any(alt.lower() in line for alt in n.split("|"))]
    return f"error line lacks {missing}" if missing else "ok"


# ---------------------------------------------------------------------------------------------- inputs


def write_pairs(root: Path, scenes: int = 4, size: tuple[int, int] = (40, 48)) -> tuple[Path, Path]:
    """`root/{low,gt}`: `scenes` targets and their EV −1 / +1 inputs, paired by stem."""
    generator = torch.Generator().manual_seed(0)
    low, gt = root / "low", root / "gt"
    for scene in range(scenes):
        target = smooth_image(generator, *size)
        write_image(gt / f"s{scene}.png", target)
        write_image(low / f"s{scene}_N1.png", target * 0.45)
        write_image(low / f"s{scene}_P1.png", (target * 1.6).clamp(0, 1))
    return low, gt


def noise_png(path: Path, height: int, width: int, seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def corrupt(path: Path) -> None:
    """Keep the PNG signature and header, scramble the rest."""
    data = path.read_bytes()
    path.write_bytes(data[:33] + bytes(np.random.default_rng(1).integers(0, 256, len(data) - 33, np.uint8)))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def official_zero_dce(path: Path, plus: bool) -> Path:
    """A state dict in the official Zero-DCE (`plus=False`) or Zero-DCE++ key layout, random values."""
    generator = torch.Generator().manual_seed(0)
    ins, outs = [3, 32, 32, 32, 64, 64, 64], [32, 32, 32, 32, 32, 32, 3 if plus else 24]
    tensors = {}
    for k, (cin, cout) in enumerate(zip(ins, outs, strict=True), start=1):
        if plus:
            tensors[f"e_conv{k}.depth_conv.weight"] = torch.randn(cin, 1, 3, 3, generator=generator) * 0.02
            tensors[f"e_conv{k}.depth_conv.bias"] = torch.zeros(cin)
            tensors[f"e_conv{k}.point_conv.weight"] = torch.randn(cout, cin, 1, 1, generator=generator) * 0.02
            tensors[f"e_conv{k}.point_conv.bias"] = torch.zeros(cout)
        else:
            tensors[f"e_conv{k}.weight"] = torch.randn(cout, cin, 3, 3, generator=generator) * 0.02
            tensors[f"e_conv{k}.bias"] = torch.zeros(cout)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tensors, path)
    return path


class Payload:
    """Unpickling this creates `marker`: stands for a crafted checkpoint that runs code when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` read-only for this process: by mode for a normal user, by a read-only bind mount for root
    (whom modes do not stop)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"root cannot bind-mount here: {bind.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


@contextlib.contextmanager
def full_disk(folder: Path, size: str = "8k") -> Iterator[None]:
    """`folder` on a file system of `size` bytes (a tmpfs; needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full file system is simulated with a small tmpfs, which needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    write_pairs(root / "pairs")
    return root


@pytest.fixture(scope="module")
def unet_ckpt(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the default U-Net trained one step by `exposure-lab train` (no workers: set-up)."""
    run_dir = tmp_path_factory.mktemp("unet_run")
    low, gt = template / "pairs" / "low", template / "pairs" / "gt"
    run_cli(
        "train",
        "data=paired",
        f"data.input_dir={low}",
        f"data.target_dir={gt}",
        "data.patch_size=32",
        "data.num_workers=0",
        *FAST_TRAIN,
        "callbacks=default",
        f"hydra.run.dir={run_dir}",
    )
    (checkpoint,) = (run_dir / "checkpoints").glob("epoch_*.ckpt")
    return checkpoint


@pytest.fixture(scope="module")
def assessor_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_assessor_checkpoint(tmp_path_factory.mktemp("assessor") / "assessor.ckpt")


@dataclass
class Workspace:
    root: Path
    low: Path
    gt: Path
    ckpt: Path
    assessor: Path
    stack: contextlib.ExitStack

    def paired(self, low: Path | None = None, gt: Path | None = None) -> list[str]:
        return ["data=paired", f"data.input_dir={low or self.low}", f"data.target_dir={gt or self.gt}"]

    def train(self, *extra: str) -> list[str]:
        return ["train", *self.paired(), "data.patch_size=32", *FAST_TRAIN, *extra]


@pytest.fixture
def ws(
    template: Path, unet_ckpt: Path, assessor_ckpt: Path, tmp_path: Path, monkeypatch
) -> Iterator[Workspace]:
    shutil.copytree(template / "pairs", tmp_path / "pairs")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("EXPOSURE_LAB_OUTPUTS", raising=False)
    monkeypatch.setenv("EXPOSURE_LAB_DATA", str(tmp_path / "data"))
    (tmp_path / "ckpts").mkdir()
    ckpt = tmp_path / "ckpts" / "model.ckpt"
    shutil.copy(unet_ckpt, ckpt)
    assessor = tmp_path / "ckpts" / "assessor.ckpt"
    shutil.copy(assessor_ckpt, assessor)
    with contextlib.ExitStack() as stack:  # read-only and full folders made by a case are undone after it
        yield Workspace(
            tmp_path, tmp_path / "pairs" / "low", tmp_path / "pairs" / "gt", ckpt, assessor, stack
        )


# ---------------------------------------------------------------------------------------------- cases
# 1. bad images read by data-loader workers (default num_workers)


def eval_corrupt_image(ws: Workspace) -> Case:
    corrupt(ws.low / "s1_N1.png")
    return Case(["eval", f"ckpt_path={ws.ckpt}", *ws.paired()], ["s1_N1.png", "corrupt"], [ws.root / "pairs"])


def eval_truncated_image(ws: Workspace) -> Case:
    truncate(ws.gt / "s2.png")
    return Case(["eval", f"ckpt_path={ws.ckpt}", *ws.paired()], ["s2.png", "truncated"], [ws.root / "pairs"])


def benchmark_zero_byte_image(ws: Workspace) -> Case:
    (ws.gt / "s0.png").write_bytes(b"")
    argv = ["benchmark", "models=[identity]", *ws.paired()]
    return Case(argv, ["s0.png", "empty"], [ws.root / "pairs"])


def benchmark_size_mismatch(ws: Workspace) -> Case:
    noise_png(ws.gt / "s3.png", 30, 48)
    argv = ["benchmark", "models=[identity]", *ws.paired()]
    return Case(argv, ["s3.png", "size"], [ws.root / "pairs"])


def train_image_smaller_than_patch(ws: Workspace) -> Case:
    noise_png(ws.low / "s0_N1.png", 20, 20)
    noise_png(ws.low / "s0_P1.png", 20, 20)
    noise_png(ws.gt / "s0.png", 20, 20)
    return Case(ws.train("data.batch_size=8"), ["s0", "smaller than patch_size 32"], [ws.root / "pairs"])


def train_corrupt_image(ws: Workspace) -> Case:
    for name in ("s0_N1.png", "s0_P1.png", "s1_N1.png", "s1_P1.png", "s2_N1.png", "s3_P1.png"):
        corrupt(ws.low / name)
    return Case(ws.train("data.batch_size=8"), ["_N1.png|_P1.png", "corrupt"], [ws.root / "pairs"])


# 2. OS errors on the output side


def predict_read_only_output(ws: Workspace) -> Case:
    out = ws.root / "ro_out"
    ws.stack.enter_context(read_only(out))
    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={out}"]
    return Case(argv, ["ro_out", "read-only|permission"], [ws.low])


def predict_output_is_a_file(ws: Workspace) -> Case:
    out = ws.root / "taken.png"
    out.write_bytes(b"mine")
    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={out}"]
    return Case(argv, ["taken.png", "file"], [ws.low, ws.root / "taken.png"])


def predict_output_under_a_file(ws: Workspace) -> Case:
    (ws.root / "plain").write_bytes(b"mine")
    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={ws.root / 'plain' / 'out'}"]
    return Case(argv, ["plain", "not a directory|not a folder|is a file"], [ws.low])


def benchmark_read_only_working_folder(ws: Workspace) -> Case:
    ws.stack.enter_context(read_only(Path.cwd()))
    argv = ["benchmark", "models=[identity]", *ws.paired()]
    return Case(argv, ["outputs", "read-only|permission"], [ws.root / "pairs"])


def eval_run_dir_is_a_file(ws: Workspace) -> Case:
    taken = ws.root / "taken_run"
    taken.write_text("mine")
    argv = ["eval", f"ckpt_path={ws.ckpt}", *ws.paired(), f"hydra.run.dir={taken}"]
    return Case(argv, ["taken_run", "exists|file"], [ws.root / "pairs"])


def predict_full_disk(ws: Workspace) -> Case:
    out = ws.root / "full"
    big = ws.root / "big"
    noise_png(big / "noise.png", 96, 96)
    ws.stack.enter_context(full_disk(out))
    argv = ["predict", "model=gamma", f"input={big}", f"output={out}"]
    return Case(argv, ["noise.png", "no space"], [big])


# 3. option values


def predict_tile_size_not_a_number(ws: Workspace) -> Case:
    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={ws.root / 'o'}", "tile_size=abc"]
    return Case(argv, ["tile_size", "abc"], [ws.low])


def predict_tile_overlap_not_below_tile_size(ws: Workspace) -> Case:
    argv = ["predict", f"ckpt_path={ws.ckpt}", f"input={ws.low}", f"output={ws.root / 'o'}"]
    return Case([*argv, "tile_size=16", "tile_overlap=16"], ["tile_overlap", "tile_size"], [ws.low])


def train_lr_not_a_number(ws: Workspace) -> Case:
    return Case(ws.train("model.optimizer.lr=fast"), ["model.optimizer.lr", "fast"], [ws.root / "pairs"])


def bench_size_zero(ws: Workspace) -> Case:
    return Case(["bench", "model=identity", "sizes=[0]"], ["sizes", "0"])


def import_scale_factor_not_a_number(ws: Workspace) -> Case:
    source = official_zero_dce(ws.root / "official" / "weights.pth", plus=True)
    argv = ["import", "zero_dce_pp", str(source), f"out={ws.root / 'pp.ckpt'}", "net.scale_factor=abc"]
    return Case(argv, ["scale_factor", "abc"], [ws.root / "official"])


def train_gpu_without_cuda(ws: Workspace) -> Case:
    return Case(ws.train("trainer=gpu"), ["cuda|gpu"], [ws.root / "pairs"])


def predict_cuda_without_cuda(ws: Workspace) -> Case:
    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={ws.root / 'o'}", "device=cuda"]
    return Case(argv, ["device", "cuda"], [ws.low])


# 4. Hydra's own errors, said in one line


def unknown_model(ws: Workspace) -> Case:
    argv = ["predict", "model=mirnett", f"input={ws.low}", f"output={ws.root / 'o'}"]
    return Case(argv, ["mirnett", "did you mean 'mirnet'", "clahe"], [ws.low])


def unknown_experiment(ws: Workspace) -> Case:
    return Case(["train", "experiment=nosuch"], ["experiment", "nosuch", "demo"])


def unknown_key(ws: Workspace) -> Case:
    argv = ["eval", f"ckpt_path={ws.ckpt}", *ws.paired(), "metrics.nosuch=1"]
    return Case(argv, ["metrics.nosuch"], [ws.root / "pairs"])


def malformed_override(ws: Workspace) -> Case:
    return Case(ws.train("model.optimizer.lr=[1e-3"), ["model.optimizer.lr=[1e-3"], [ws.root / "pairs"])


def unknown_benchmark_model(ws: Workspace) -> Case:
    argv = ["benchmark", "models=[clahee]", *ws.paired()]
    return Case(argv, ["clahee", "did you mean 'clahe'"], [ws.root / "pairs"])


def unknown_command(ws: Workspace) -> Case:
    return Case(["trian", "x=1"], ["trian", "did you mean 'train'"])


def non_ascii_paths_work_unquoted(ws: Workspace) -> Case:
    source = ws.root / "fotos_ñandú"
    shutil.copytree(ws.low, source)
    out = ws.root / "salida_日本"

    def check() -> None:
        assert out.is_dir() and sorted(p.name for p in out.iterdir()) == sorted(
            p.name for p in source.iterdir()
        ), "missing outputs"

    return Case(["predict", "model=gamma", f"input={source}", f"output={out}"], [], [source], True, check)


# 5. checkpoints given to train


def train_ckpt_missing(ws: Workspace) -> Case:
    return Case(
        ws.train(f"ckpt_path={ws.root / 'nope.ckpt'}"), ["nope.ckpt", "not found"], [ws.root / "pairs"]
    )


def train_ckpt_truncated(ws: Workspace) -> Case:
    truncate(ws.ckpt)
    argv = ws.train(f"ckpt_path={ws.ckpt}")
    return Case(argv, ["model.ckpt", "truncated|not a readable"], [ws.ckpt.parent])


def train_ckpt_foreign(ws: Workspace) -> Case:
    foreign = official_zero_dce(ws.root / "official" / "weights.pth", plus=False)
    return Case(ws.train(f"ckpt_path={foreign}"), ["weights.pth", "import"], [ws.root / "official"])


def train_ckpt_without_training_state(ws: Workspace) -> Case:
    source = official_zero_dce(ws.root / "official" / "weights.pth", plus=False)
    imported = ws.root / "imported" / "zero_dce.ckpt"
    assert run_cli("import", "zero_dce", str(source), f"out={imported}")
    return Case(ws.train(f"ckpt_path={imported}"), ["zero_dce.ckpt", "init_from"], [ws.root / "imported"])


def train_ckpt_runs_no_code(ws: Workspace) -> Case:
    marker = ws.root / "payload_ran"
    crafted = ws.root / "crafted" / "crafted.ckpt"
    crafted.parent.mkdir()
    torch.save({"state_dict": {}, "epoch": Payload(marker)}, crafted)

    def check_marker() -> None:
        assert not marker.exists(), "the crafted checkpoint's payload ran"

    case = Case(ws.train(f"ckpt_path={crafted}"), ["crafted.ckpt"], [ws.root / "crafted"])
    case.env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    case.check = check_marker
    return case


# 6. divergence


def train_diverges(ws: Workspace) -> Case:
    argv = ws.train("model.optimizer.lr=1e6", "trainer.max_epochs=3", "+trainer.limit_train_batches=2")
    argv.remove("+trainer.limit_train_batches=1")
    return Case(argv, ["epoch", "nan", "model.optimizer.lr"], [ws.root / "pairs"])


# 7. outputs that could lose data


def assess_output_is_input(ws: Workspace) -> Case:
    argv = ["assess", f"ckpt_path={ws.assessor}", f"input={ws.low}", f"output={ws.low}"]
    return Case(argv, ["output", "input"], [ws.low])


def predict_output_is_input(ws: Workspace) -> Case:
    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={ws.low}"]
    return Case(argv, ["output", "input"], [ws.low])


def predict_file_into_its_own_folder(ws: Workspace) -> Case:
    argv = ["predict", "model=gamma", f"input={ws.low / 's0_N1.png'}", f"output={ws.low}/."]
    return Case(argv, ["output", "input"], [ws.low])


def _planted_links(ws: Workspace, out: Path, names: list[str]) -> Path:
    victims = ws.root / "victims"
    out.mkdir(parents=True)
    victims.mkdir()
    for name in names:
        (victims / name).write_bytes(b"keep me " + name.encode())
        (out / name).symlink_to(victims / name)
    return victims


def predict_links_in_output_not_followed(ws: Workspace) -> Case:
    out = ws.root / "out"
    victims = _planted_links(ws, out, ["s0_N1.png", "s1_P1.png"])

    def check() -> None:
        assert not (out / "s0_N1.png").is_symlink(), "left the planted link in place"

    argv = ["predict", "model=gamma", f"input={ws.low}", f"output={out}"]
    return Case(argv, [], [victims, ws.low], True, check)


def assess_links_in_output_not_followed(ws: Workspace) -> Case:
    out = ws.root / "maps"
    names = ["s0_N1_heatmap.png", "s0_N1_residual.png", "scores.csv", "colour_bar.png"]
    victims = _planted_links(ws, out, names)

    def check() -> None:
        kept = [name for name in names if (out / name).is_symlink()]
        assert not kept, f"left links {kept} in place"

    argv = ["assess", f"ckpt_path={ws.assessor}", f"input={ws.low}", f"output={out}"]
    return Case(argv, [], [victims, ws.low], True, check)


def assess_same_stem_inputs(ws: Workspace) -> Case:
    source = ws.root / "same_stem"
    noise_png(source / "a.png", 24, 24)
    Image.open(source / "a.png").save(source / "a.jpg", quality=90)
    argv = ["assess", f"ckpt_path={ws.assessor}", f"input={source}", f"output={ws.root / 'maps'}"]
    return Case(argv, ["a.jpg", "a.png"], [source])


def benchmark_save_images_same_stem(ws: Workspace) -> Case:
    Image.open(ws.low / "s0_N1.png").save(ws.low / "s0_N1.jpg", quality=95)
    argv = ["benchmark", "models=[identity]", *ws.paired(), "save_images=true"]
    return Case(argv, ["s0_N1.jpg", "s0_N1.png"], [ws.root / "pairs"])


def import_twice_to_one_out(ws: Workspace) -> Case:
    source = official_zero_dce(ws.root / "official" / "weights.pth", plus=False)
    out = ws.root / "ckpts" / "zero_dce.ckpt"
    assert run_cli("import", "zero_dce", str(source), f"out={out}")
    return Case(["import", "zero_dce", str(source), f"out={out}"], ["zero_dce.ckpt", "exists"], [out.parent])


# 8. folder runs keep the good work


def predict_folder_with_a_corrupt_file(ws: Workspace) -> Case:
    source = ws.root / "mixed"
    for name in ("a_good.png", "b_bad.png", "c_good.png"):
        noise_png(source / name, 24, 32)
    corrupt(source / "b_bad.png")
    out = ws.root / "enhanced"

    def check() -> None:
        written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        assert written == ["a_good.png", "c_good.png"], f"lost good work: wrote only {written}"

    argv = ["predict", "model=gamma", f"input={source}", f"output={out}"]
    return Case(argv, ["b_bad.png", "corrupt"], [source], check=check)


# 9. weights that claim to be an official release


def import_tampered_release(ws: Workspace) -> Case:
    source = official_zero_dce(ws.root / "official" / "Epoch99.pth", plus=False)
    argv = ["import", "zero_dce", str(source), f"out={ws.root / 'z.ckpt'}"]
    return Case(argv, ["Epoch99.pth", "sha256", "verify=false"], [ws.root / "official"])


# 10. smaller items


def predict_clahe_on_a_single_pixel(ws: Workspace) -> Case:
    source = ws.root / "tiny"
    noise_png(source / "dot.png", 1, 1)
    out = ws.root / "tiny_out"

    def check() -> None:
        assert (out / "dot.png").is_file(), "missing output"

    return Case(["predict", "model=clahe", f"input={source}", f"output={out}"], [], [source], True, check)


def benchmark_images_smaller_than_ssim_window(ws: Workspace) -> Case:
    low, gt = write_pairs(ws.root / "tiny_pairs", scenes=1, size=(3, 5))
    argv = ["benchmark", "models=[identity]", *ws.paired(low, gt)]
    return Case(argv, ["s0", "3×5|5×3|3x5|5x3"], [ws.root / "tiny_pairs"])


def predict_writes_only_its_output(ws: Workspace) -> Case:
    out = ws.root / "only_here"

    def check() -> None:
        stray = [p.name for p in Path.cwd().iterdir()]
        assert not stray, f"wrote {stray} into the working folder"

    return Case(["predict", "model=gamma", f"input={ws.low}", f"output={out}"], [], [ws.low], True, check)


def eval_unmatched_names(ws: Workspace) -> Case:
    (ws.gt / "s3.png").unlink()
    argv = ["eval", f"ckpt_path={ws.ckpt}", *ws.paired()]
    return Case(argv, ["s3_N1.png|s3_P1.png"], [ws.root / "pairs"])


def eval_missing_folder(ws: Workspace) -> Case:
    argv = ["eval", f"ckpt_path={ws.ckpt}", *ws.paired(low=ws.root / "nowhere")]
    return Case(argv, ["nowhere"], [ws.root / "pairs"])


CASES: dict[str, Callable[[Workspace], Case]] = {
    f.__name__: f
    for f in (
        eval_corrupt_image,
        eval_truncated_image,
        benchmark_zero_byte_image,
        benchmark_size_mismatch,
        train_image_smaller_than_patch,
        train_corrupt_image,
        predict_read_only_output,
        predict_output_is_a_file,
        predict_output_under_a_file,
        benchmark_read_only_working_folder,
        eval_run_dir_is_a_file,
        predict_full_disk,
        predict_tile_size_not_a_number,
        predict_tile_overlap_not_below_tile_size,
        train_lr_not_a_number,
        bench_size_zero,
        import_scale_factor_not_a_number,
        train_gpu_without_cuda,
        predict_cuda_without_cuda,
        unknown_model,
        unknown_experiment,
        unknown_key,
        malformed_override,
        unknown_benchmark_model,
        unknown_command,
        non_ascii_paths_work_unquoted,
        train_ckpt_missing,
        train_ckpt_truncated,
        train_ckpt_foreign,
        train_ckpt_without_training_state,
        train_ckpt_runs_no_code,
        train_diverges,
        assess_output_is_input,
        predict_output_is_input,
        predict_file_into_its_own_folder,
        predict_links_in_output_not_followed,
        assess_links_in_output_not_followed,
        assess_same_stem_inputs,
        benchmark_save_images_same_stem,
        import_twice_to_one_out,
        predict_folder_with_a_corrupt_file,
        import_tampered_release,
        predict_clahe_on_a_single_pixel,
        benchmark_images_smaller_than_ssim_window,
        predict_writes_only_its_output,
        eval_unmatched_names,
        eval_missing_folder,
    )
}
NEEDS_NO_CUDA = {"train_gpu_without_cuda", "predict_cuda_without_cuda"}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, ws: Workspace, capfd: pytest.CaptureFixture[str], monkeypatch) -> None:
    if name in NEEDS_NO_CUDA and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    case = CASES[name](ws)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(case.watched)
    outcome = run(capfd, case.argv)
    loss = data_loss(before, snapshot(case.watched))
    problems = [] if (found := verdict(case, outcome)) == "ok" else [found]
    problems += [f"data loss: {loss}"] if loss else []
    try:
        if case.check is not None:
            case.check()
    except AssertionError as exc:
        problems.append(str(exc).splitlines()[0])
    report = "; ".join(problems) or "ok"
    assert report == "ok", f"{report} | exit {outcome.status}\n{outcome.text[-3000:]}"
