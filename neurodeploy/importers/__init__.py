"""Importers: network files of every format → :class:`neurodeploy.network.Network`, and the dispatch between them.

:func:`load_network` picks the importer by file suffix:

* ``.json`` — a Network (:func:`neurodeploy.network.load_network_json`);
* ``.npz`` / ``.npy`` — :func:`load_npz`: Rockpool-style ``w_in`` / ``w_rec`` weights;
* ``.nir`` — :func:`load_nir`: NIR graphs from snnTorch, Norse, Sinabs, SpikingJelly, Rockpool, nir itself,
  or ``neurodeploy export`` (the export, :func:`neurodeploy.importers.nir.export.export_nir`, lives beside it).

Every import records what it assumed in the network's ``metadata["import"]``. The importers depend on
:mod:`neurodeploy.network`, never the other way round.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import NetworkError
from ..network import Network, load_network_json
from .nir import CONVENTIONS, load_nir
from .npz import load_npz

__all__ = ["load_network", "load_npz", "load_nir", "CONVENTIONS", "SUFFIXES"]

SUFFIXES = (".json", ".npz", ".npy", ".nir")


def load_network(path: str | Path, profile=None, **options) -> Network:
    """Load a network from ``.json`` (Network), ``.npz``/``.npy`` (Rockpool-style w_in/w_rec) or ``.nir``.

    ``options`` go to the importer (see :func:`load_npz`, :func:`load_nir`); a ``.json`` network takes none.
    """
    path = Path(path)
    if not path.exists():
        raise NetworkError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".json":
        if options:
            raise NetworkError(f"{path}: options {sorted(options)} only apply to .npz/.nir imports")
        return load_network_json(path, profile=profile)
    if suffix in (".npz", ".npy"):
        return load_npz(path, profile=profile, **options)
    if suffix == ".nir":
        return load_nir(path, profile=profile, **options)
    raise NetworkError(f"{path}: unknown network file type {suffix!r} (expected .json, .npz, .npy or .nir)")
