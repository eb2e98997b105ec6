"""Reading one NIR node: its type, numeric parameters (per neuron), shape and weight matrix, checked."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...errors import NetworkError
from .read import to_py

NEURON_TYPES = ("LIF", "CubaLIF", "LI", "CubaLI", "IF", "I")
WEIGHT_TYPES = ("Affine", "Linear")
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def ntype(node: dict) -> str:
    """The node's NIR type name ("LIF", "Affine", ...; "" when it has none)."""
    t = node.get("type", "")
    return to_py(t) if not isinstance(t, str) else t


def squeeze(a: Any) -> np.ndarray:
    """A parameter as float64 with its dimensions of length 1 removed."""
    arr = np.asarray(a, dtype=np.float64) if not isinstance(a, np.ndarray) or a.dtype.kind != "O" \
        else np.asarray(a.tolist(), dtype=np.float64)
    return arr.reshape([d for d in arr.shape if d != 1]) if arr.size >= 1 else arr


def param(node: dict, key: str, name: str, src: str, default: float | None = None) -> np.ndarray | None:
    """Parameter ``key`` of node ``name`` as a 0-d or 1-d float array (``default`` or None when absent)."""
    if key not in node or node[key] is None:
        return None if default is None else np.asarray(default, dtype=np.float64)
    try:
        a = squeeze(node[key])
    except (TypeError, ValueError):
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}): parameter {key} is not numeric") from None
    if a.ndim > 1:
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}): parameter {key} has shape {np.shape(node[key])}; "
                        f"the chip needs a flat layer of neurons (one value per neuron)")
    if not np.all(np.isfinite(a)):
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}): parameter {key} holds non-finite values")
    return a


def shape_size(node: dict, name: str, src: str) -> int:
    """The number of channels of an Input/Output node (a flat shape; dimensions of 1 ignored)."""
    shape = node.get("shape")
    if shape is None:
        it = node.get("input_type") or node.get("output_type")
        if isinstance(it, dict) and it:
            shape = next(iter(it.values()))
    if shape is None:
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}) has no shape")
    raw = np.asarray(shape, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(raw)) or np.any(raw < 0) or np.any(raw != np.round(raw)):
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}): shape {raw.tolist()} must hold whole numbers >= 0 "
                        f"(channels per dimension)")
    dims = [int(d) for d in raw]
    big = [d for d in dims if d != 1]
    if len(big) > 1:
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}) has shape {dims}; the chip takes a flat list of "
                        f"channels — flatten the input before the network")
    return big[0] if big else 1


def weight(node: dict, name: str, src: str) -> np.ndarray:
    """A weight node's matrix [n_out x n_in] (a leading batch dimension of 1 dropped)."""
    if "weight" not in node:
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}) has no weight")
    w = np.asarray(node["weight"], dtype=np.float64)
    while w.ndim > 2 and w.shape[0] == 1:  # batch dimension of 1
        w = w[0]
    if w.ndim != 2:
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}): weight has shape {np.shape(node['weight'])}; "
                        f"expected a 2-D matrix [n_out x n_in]")
    if not np.all(np.isfinite(w)):
        raise NetworkError(f"{src}: node {name!r} ({ntype(node)}): weight holds non-finite values")
    return w


def population_name(node_name: str, taken: set[str]) -> str:
    """A population name for a node: the node's name when it is a valid one and free, else a sanitised variant."""
    base = node_name if _NAME_OK.match(node_name) else "p_" + re.sub(r"[^A-Za-z0-9_.\-]", "_", node_name)
    if base in ("input",):
        base = "p_" + base
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name
