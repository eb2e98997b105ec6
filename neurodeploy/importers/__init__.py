"""Importers: network files of every format → :class:`neurodeploy.spec.NetworkSpec`, and the dispatch between them.

:func:`load_network` picks the importer by file suffix:

* ``.json`` — a NetworkSpec (:func:`neurodeploy.spec.load_json_spec`);
* ``.npz`` / ``.npy`` — :func:`load_npz`: Rockpool-style ``w_in`` / ``w_rec`` weights;
* ``.nir`` — :func:`load_nir`: NIR graphs from snnTorch, Norse, Sinabs, SpikingJelly, Rockpool, nir itself,
  or ``neurodeploy export`` (the export, :func:`neurodeploy.importers.nir.export.export_nir`, lives beside it).

Every import records what it assumed in the spec's ``metadata["import"]``. The importers depend on
:mod:`neurodeploy.spec`, never the other way round.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..spec import NetworkSpec, load_json_spec
from .nir import CONVENTIONS, load_nir
from .npz import load_npz

__all__ = ["load_network", "load_npz", "load_nir", "CONVENTIONS", "SUFFIXES"]

SUFFIXES = (".json", ".npz", ".npy", ".nir")


def load_network(path: str | Path, profile=None, **options) -> NetworkSpec:
    """Load a network from ``.json`` (NetworkSpec), ``.npz``/``.npy`` (Rockpool-style w_in/w_rec) or ``.nir``.

    ``options`` go to the importer (see :func:`load_npz`, :func:`load_nir`); a ``.json`` spec takes none.
    """
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".json":
        if options:
            raise SpecError(f"{path}: options {sorted(options)} only apply to .npz/.nir imports")
        return load_json_spec(path, profile=profile)
    if suffix in (".npz", ".npy"):
        return load_npz(path, profile=profile, **options)
    if suffix == ".nir":
        return load_nir(path, profile=profile, **options)
    raise SpecError(f"{path}: unknown network file type {suffix!r} (expected .json, .npz, .npy or .nir)")
