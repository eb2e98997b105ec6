"""Sidecar weights of a model.json projection (``"sidecar": {"path", "key", "sha256"}``): an ``.npz`` array
[n_source × n_target] in or below the model's folder, checked against its sha256, shape and values."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .errors import NetworkError


def load_sidecar(network, k: int, pr, source: str, base_dir: Path) -> np.ndarray:
    where = f"{source}: $.projections[{k}].sidecar"
    path = base_dir / pr.sidecar.path
    root = base_dir.resolve()
    if Path(pr.sidecar.path).is_absolute() or not path.resolve().is_relative_to(root):
        raise NetworkError(f"{where}.path: {pr.sidecar.path!r} points outside the model's folder {root}; sidecars must "
                        f"sit in or below the folder of the model file (give a relative path)")
    if not path.is_file():
        raise NetworkError(f"{where}.path: file {path} not found")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != pr.sidecar.sha256:
        raise NetworkError(f"{where}.sha256: {path} has sha256 {digest}, the network expects {pr.sidecar.sha256} (file changed?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if pr.sidecar.key not in z.files:
                raise NetworkError(f"{where}.key: {path} has no array {pr.sidecar.key!r} (has: {', '.join(z.files)})")
            arr = np.asarray(z[pr.sidecar.key])
            if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
                raise NetworkError(f"{where}.key: array {pr.sidecar.key!r} in {path} has dtype {arr.dtype}; weights must be numbers")
            mat = arr.astype(np.float64)
    except NetworkError:
        raise
    except Exception as e:
        raise NetworkError(f"{where}.path: cannot read {path} as .npz ({e})") from None
    shape = (network.source_size(pr.source), network.population(pr.target).size)
    if mat.shape != shape:
        raise NetworkError(f"{where}: array {pr.sidecar.key!r} has shape {mat.shape}, expected {shape} [n_source x n_target]")
    if not np.all(np.isfinite(mat)):
        raise NetworkError(f"{where}: array {pr.sidecar.key!r} holds non-finite weights")
    return mat
