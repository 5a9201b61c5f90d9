"""The official released weights that `exposure-lab import` knows: model, file name and sha256 of each.

A file given for one of these models under a released file name must hash to that release (or to one of the
releases sharing the name), else it is refused unless the user passes `verify=false`; any other file imports
with its hash printed. Hashes as published alongside ../shared/weights (README.md and SHA256SUMS).
"""

from dataclasses import dataclass
from pathlib import Path

from exposure_lab.errors import ExposureLabError


@dataclass(frozen=True)
class Release:
    """One released checkpoint: the model it imports into, its file name, its sha256 and where it is
    published (repository, path)."""

    model: str
    file: str
    sha256: str
    source: str


def _fecnet(variant: str, sha256: str) -> tuple[Release, ...]:
    source = f"KevinJ-Huang/FECNet, FastFourier{variant}/pretrain/0_bestavg.pth"
    return (
        Release("fecnet", f"FastFourier{variant}_0_bestavg.pth", sha256, source),
        Release("fecnet", "0_bestavg.pth", sha256, source),
    )


def _uec(name: str, sha256: str) -> tuple[Release, ...]:
    source = f"BeyondHeaven/uec_code, checkpoints/{name}/latest_net_G.pth"
    return (
        Release("uec", f"{name}_latest_net_G.pth", sha256, source),
        Release("uec", "latest_net_G.pth", sha256, source),
    )


RELEASES: tuple[Release, ...] = (
    Release(
        "zero_dce",
        "Epoch99.pth",
        "a4395acb874f320375d9704997cef874eaaaaa26a1777ceb29a92b70f74c3612",
        "Li-Chongyi/Zero-DCE, Zero-DCE_code/snapshots/Epoch99.pth",
    ),
    Release(
        "zero_dce_pp",
        "Epoch99.pth",
        "ca8855b90df9a80fa4195a831f33d3476b1964f787eb70602797c773067f3b84",
        "Li-Chongyi/Zero-DCE_extension, Zero-DCE++/snapshots_Zero_DCE++/Epoch99.pth",
    ),
    Release(
        "sgz",
        "Epoch99.pth",
        "54d87f6f3a2b5ee495abec7e714afcdf60eaa8d15370dd500792cd4f45f442f1",
        "ShenZheng2000/Semantic-Guided-Low-Light-Image-Enhancement, weight/Epoch99.pth",
    ),
    Release(
        "p_ieanet",
        "wavelet_epoch_2_val_loss0.03022034629540784.pth",
        "6f1cf2a5ca446235120252c51faf1463b55514acf8822b96d6275d885ba02700",
        "woshidandan/Pixel-level-No-reference-Image-Exposure-Assessment, P-IEANet/",
    ),
    *_fecnet("FiveK", "4292d269acd6df89f659f106133852ff915f40783a94623fbee82c55a4a47150"),
    *_fecnet("LOL", "3beed0ca4b6d883934bce04815762f8b059d4cdea10ff6d75a284224b26d753a"),
    *_fecnet("MSEC", "ad0937a51c3d292b1e661d4a0712ca347b23d78bf0db59798006d6ae92c6dae0"),
    *_fecnet("SICE", "7f43c5d3c33b12616bbf69eaa0ecae3ae1d84c0b731f71037d863551f77518d9"),
    Release(
        "mslt",
        "mslt+.pth",
        "319cfff20b4a06c9ac6a9acbf1cb0e7f04f5de256f9f5e8cb227f31f0ab569b6",
        "Zhou-Yijie/MSLTNet, pretrained_model/mslt+.pth",
    ),
    *(
        Release("sci", f"{name}.pt", sha256, f"vis-opt-group/SCI, weights/{name}.pt")
        for name, sha256 in (
            ("easy", "b17326a26a93bf187ecbab217f9d3c57467a8b56020d4d9ff600ba257bbffb36"),
            ("medium", "4ff1e7e66e8f18114f790e5085ca4c936f0858e329e7ad1cb65b8aa09a9c6916"),
            ("difficult", "657fa1f280cae1035df0d5cbe628e91f2d0f28660df608a3fa3f7e9a71da5a13"),
        )
    ),
    *_uec("exposure-errors", "579d1e853cfe15147d6f8dd1f6da2546b066b1de07d5734149bdc1d710346895"),
    *_uec("radiometry", "a887372ad9584b370e57543f530dbcabe2ad20eaf0c5084862d80ac5a3e24c6b"),
)


def verify_release(model: str, path: Path, sha256: str) -> Release | None:
    """The known release that `path` (hashing to `sha256`) is for `model`; None when its file name is not
    one a release of `model` uses. One-line error when the name is a release's but the hash is not."""
    claimed = [r for r in RELEASES if r.model == model and r.file == path.name]
    match = next((r for r in claimed if r.sha256 == sha256), None)
    if claimed and match is None:
        expected = " or ".join(r.sha256 for r in claimed)
        raise ExposureLabError(
            f"{path}: sha256 {sha256} is not that of the official {model} release {path.name} ({expected}, "
            f"from {claimed[0].source}); the file is damaged or not the release: download it again, or "
            "pass verify=false to import it anyway"
        )
    return match
