"""Step 1 of the NIR import: read a ``.nir`` file (or an in-memory ``nir.NIRGraph``) into a tree of dicts.

``nir.read`` (with its type check) first; if the type check fails (batch or time dimensions in the Input
shape, scalar parameters, files of older nir versions), ``nir.read(type_check=False)``; if nir cannot read
the file at all, the HDF5 layout is read directly with h5py. Which one worked is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import SpecError

#: Largest array a NIR file may declare (elements), checked from the HDF5 headers before anything is read:
#: a full board's weights, 4,096 neurons × 4,096 sources (the chip holds far fewer synapses: 64 per neuron).
MAX_ARRAY_ELEMENTS = 4096 * 4096


def to_py(v):
    """HDF5 scalars as Python values (bytes → str)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS" and v.ndim == 0:
        return to_py(v[()])
    return v


def one_line(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}" if not str(e) else str(e)
    return " ".join(s.split())[:300]


def meta_json(node: dict) -> dict | None:
    """The JSON that ``neurodeploy export`` stores under a node's ``metadata["neurodeploy"]`` (None if absent)."""
    md = node.get("metadata")
    if isinstance(md, dict) and "neurodeploy" in md:
        try:
            return json.loads(to_py(md["neurodeploy"]))
        except (TypeError, ValueError):
            return None
    return None


def graph_to_tree(graph) -> dict:
    """An in-memory ``nir.NIRGraph`` as the same nested dicts a file gives."""
    return graph.to_dict()


def _raw_tree(group) -> dict:
    """An HDF5 group as nested dicts (the layout nir.write produces), without nir's constructors."""
    import h5py

    out: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _raw_tree(item)
        else:
            out[key] = to_py(item[()])
    return out


def _check_declared_sizes(f, path: Path) -> None:
    """Refuse arrays larger than any Dynap-SE2 board could use, from their declared shapes (no data read)."""
    import h5py

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and item.size > MAX_ARRAY_ELEMENTS:
            raise SpecError(f"{path}: {name}: declares {item.size:,} elements {list(item.shape)}, more than a Dynap-SE2 "
                            f"board can hold ({MAX_ARRAY_ELEMENTS:,}: 4,096 neurons x 4,096 sources); nothing was read")

    f.visititems(visit)


def read_file(path: Path) -> tuple[dict, str]:
    """Read a .nir file → (tree, how it was read)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise SpecError(f"{path}: not a NIR file (no 'node' group; top level has: {', '.join(f.keys()) or 'nothing'})")
            version = to_py(f["version"][()]) if "version" in f else "unknown"
            _check_declared_sizes(f, path)
    except SpecError:
        raise
    except Exception as e:
        raise SpecError(f"{path}: cannot read as HDF5/NIR ({type(e).__name__}: {one_line(e)})") from None
    errors = []
    try:
        import nir

        for kwargs, label in (({}, "nir.read"), ({"type_check": False}, "nir.read(type_check=False)")):
            try:
                g = nir.read(path, **kwargs)
                how = label if not errors else f"{label}; nir's type check failed: {errors[0]}"
                return graph_to_tree(g), f"{how} (file written by nir {version})"
            except Exception as e:  # nir raises many kinds (ValueError, KeyError, TypeError, AssertionError)
                errors.append(one_line(e))
    except ImportError:
        errors.append("nir is not installed")
    try:
        with h5py.File(path, "r") as f:
            tree = _raw_tree(f["node"])
    except Exception as e:
        raise SpecError(f"{path}: cannot read the NIR graph ({type(e).__name__}: {one_line(e)})") from None
    return tree, f"raw HDF5 (nir.read failed: {errors[-1]}) (file written by nir {version})"
