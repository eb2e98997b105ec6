"""Importers: other network formats → :class:`neurodeploy.spec.NetworkSpec`.

``neurodeploy.spec.load_network`` dispatches here by file suffix:

* :func:`load_npz` — Rockpool-style ``w_in`` / ``w_rec`` weights (``.npz``, or two ``.npy`` files);
* :func:`load_nir` — NIR graphs (``.nir``) from snnTorch, Norse, Sinabs, SpikingJelly, Rockpool, nir itself,
  or ``neurodeploy export``.

Every import records what it assumed in the spec's ``metadata["import"]``.
"""

from .nir import CONVENTIONS, load_nir  # noqa: F401
from .npz import load_npz  # noqa: F401

__all__ = ["load_npz", "load_nir", "CONVENTIONS"]
