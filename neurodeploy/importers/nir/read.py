"""Step 1 of the NIR import: read a ``.nir`` file (or an in-memory ``nir.NIRGraph``) into a tree of dicts.

``nir.read`` (with its type check) first; if the type check fails (batch or time dimensions in the Input
shape, scalar parameters, files of older nir versions), ``nir.read(type_check=False)``; if nir cannot read
the file at all, the HDF5 layout is read directly with h5py. Which one worked is recorded.

:func:`check_tree` then checks the tree's types before anything interprets it — node names are text, every
node's ``type`` is text, the numeric fields (weights, biases, time constants, shapes, delays, the graph's
``dt``) are numbers — so a damaged or hand-edited file gets one line naming the file and the HDF5 path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import NetworkError

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
        key = to_py(key)           # a name that is not valid UTF-8 comes as bytes
        if isinstance(item, h5py.Group):
            out[key] = _raw_tree(item)
        else:
            out[key] = to_py(item[()])
    return out


#: Node fields that hold numbers (per neuron, per synapse or per channel), wherever they occur.
NUMERIC_FIELDS = ("weight", "bias", "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in",
                  "shape", "delay")


def _what(v) -> str:
    """A value's kind, for a message: ``text 'abc'``, ``a bool array of shape [2]``, ``dict``."""
    if isinstance(v, (str, bytes)):
        return f"text {to_py(v)[:40]!r}"
    if isinstance(v, np.ndarray):
        kind = {"b": "bool", "S": "text", "U": "text", "O": "object", "c": "complex", "V": "raw"}.get(v.dtype.kind,
                                                                                                       str(v.dtype))
        return f"a {kind} array of shape {list(v.shape)}"
    return type(v).__name__


def _numbers(v) -> bool:
    """Whether ``v`` is a number or an array of integers/floats (bool, text, complex and objects are not)."""
    if isinstance(v, bool) or isinstance(v, np.bool_):
        return False
    if isinstance(v, (int, float, np.integer, np.floating)):
        return True
    if isinstance(v, (list, tuple)):
        v = np.asarray(v, dtype=object)
    if not isinstance(v, np.ndarray):
        return False
    if v.dtype.kind in "iuf":
        return True
    return v.dtype.kind == "O" and all(_numbers(x) for x in v.reshape(-1).tolist())


def check_tree(tree, src: str, path: str = "node") -> None:
    """Refuse a tree whose types cannot be a NIR graph: one :class:`NetworkError` naming ``src`` and the HDF5 path."""
    if not isinstance(tree, dict):
        raise NetworkError(f"{src}: {path}: expected a NIR graph (a group of nodes), got {_what(tree)}")
    _check_node(tree, src, path)
    md = tree.get("metadata")
    if isinstance(md, dict) and md.get("dt") is not None and not (_numbers(md["dt"]) and np.size(md["dt"]) == 1):
        raise NetworkError(f"{src}: {path}/metadata/dt: the time step must be one number (s), got {_what(md['dt'])}")
    nodes = tree.get("nodes")
    if not isinstance(nodes, dict):
        return                                   # a single node, or no nodes: the graph step says what is missing
    for name, node in nodes.items():
        if not isinstance(name, str):
            raise NetworkError(f"{src}: {path}/nodes: node name {name!r} is not text; the file is damaged")
        if not isinstance(node, dict):
            continue                             # the graph step names a node that is not a group
        t = _type_text(node)
        if isinstance(t, str) and t == "NIRGraph":
            check_tree(node, src, f"{path}/nodes/{name}")
        else:
            _check_node(node, src, f"{path}/nodes/{name}")


def _type_text(node: dict):
    t = node.get("type", "")
    return to_py(t) if not isinstance(t, str) else t


def _check_node(node: dict, src: str, path: str) -> None:
    t = _type_text(node)
    if not isinstance(t, str):
        raise NetworkError(f"{src}: {path}/type: a node's type must be text naming a NIR node type (e.g. 'LIF', "
                        f"'Affine'), got {_what(t)}; the file is damaged or was not written by nir")
    for key in NUMERIC_FIELDS:
        v = node.get(key)
        if v is not None and not _numbers(v):
            raise NetworkError(f"{src}: {path}/{key}: {t or 'node'} {key} must be numbers (integers or floats), got "
                            f"{_what(v)}")
    for key in ("input_type", "output_type"):
        v = node.get(key)
        if isinstance(v, dict):
            for k, a in v.items():
                if a is not None and not _numbers(a):
                    raise NetworkError(f"{src}: {path}/{key}/{k}: a shape must be numbers, got {_what(a)}")


def _check_declared_sizes(f, path: Path) -> None:
    """Refuse arrays larger than any Dynap-SE2 board could use, from their declared shapes (no data read)."""
    import h5py

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and item.size > MAX_ARRAY_ELEMENTS:
            raise NetworkError(f"{path}: {name}: declares {item.size:,} elements {list(item.shape)}, more than a Dynap-SE2 "
                            f"board can hold ({MAX_ARRAY_ELEMENTS:,}: 4,096 neurons x 4,096 sources); nothing was read")

    f.visititems(visit)


def read_file(path: Path) -> tuple[dict, str]:
    """Read a .nir file → (tree, how it was read)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise NetworkError(f"{path}: not a NIR file (no 'node' group; top level has: {', '.join(f.keys()) or 'nothing'})")
            version = to_py(f["version"][()]) if "version" in f else "unknown"
            _check_declared_sizes(f, path)
    except NetworkError:
        raise
    except Exception as e:
        raise NetworkError(f"{path}: cannot read as HDF5/NIR ({type(e).__name__}: {one_line(e)})") from None
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
        raise NetworkError(f"{path}: cannot read the NIR graph ({type(e).__name__}: {one_line(e)})") from None
    return tree, f"raw HDF5 (nir.read failed: {errors[-1]}) (file written by nir {version})"
