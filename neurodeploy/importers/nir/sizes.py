"""Step 3a of the NIR import: the number of neurons of every layer, from its parameters and weights (checked)."""

from __future__ import annotations

import numpy as np

from ...errors import NetworkError
from .graph import Graph
from .nodes import ntype, param
from .read import meta_json

_SIZED = ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in")


def _candidates(g: Graph, n: str, src: str) -> dict[str, int]:
    cand = {}
    for key in _SIZED:
        a = param(g.nodes[n], key, n, src)
        if a is not None and a.ndim == 1:
            cand[key] = a.shape[0]
    for p, s, w, wn in g.conns:
        if s == n and w is not None:
            cand[f"{wn}.weight"] = w.shape[0]
        if p == n and w is not None:
            cand[f"{wn}.weight (columns)"] = w.shape[1]
    return cand


def _fallback_size(g: Graph, n: str, sizes: dict[str, int], from_neurodeploy: bool) -> set[int]:
    """A layer's size when no vector parameter or weight says it: a one-to-one source, the export's metadata,
    or a single neuron written with 1-element arrays."""
    for p, s, w, wn in g.conns:
        if s == n and w is None and p in sizes:
            return {sizes[p]}
    nd = meta_json(g.nodes[n]) if from_neurodeploy else None
    raw_params = [np.asarray(g.nodes[n][k]) for k in ("tau", "tau_mem", "r", "v_threshold") if k in g.nodes[n]]
    if nd and isinstance(nd.get("size"), int):
        return {nd["size"]}
    if raw_params and all(a.size == 1 for a in raw_params) and any(a.ndim >= 1 for a in raw_params):
        return {1}
    return set()


def _check_connection_shapes(g: Graph, sizes: dict[str, int], src: str) -> None:
    for p, s, w, wn in g.conns:
        n_src, n_tgt = sizes.get(p), sizes[s]
        if n_src is None:
            continue
        if w is None:
            if n_src != n_tgt:
                raise NetworkError(f"{src}: edge {p!r} -> {s!r} connects {n_src} to {n_tgt} neurons without a weight node")
        elif w.shape != (n_tgt, n_src):
            raise NetworkError(f"{src}: node {wn!r} ({ntype(g.nodes[wn])}): weight has shape {list(w.shape)}, expected "
                            f"[{n_tgt}, {n_src}] ([n_out x n_in]: {s!r} has {n_tgt} neurons, {p!r} gives {n_src})")


def layer_sizes(g: Graph, src: str, from_neurodeploy: bool, assumptions: list[str]) -> dict[str, int]:
    """Neurons per layer (and the Input's channels), every parameter and weight checked against them."""
    sizes: dict[str, int] = {g.inp: g.n_inputs}
    for n in g.order:
        cand = _candidates(g, n, src)
        vals = set(cand.values())
        if len(vals) > 1:
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(cand.items()))
            raise NetworkError(f"{src}: node {n!r} ({ntype(g.nodes[n])}): inconsistent layer sizes ({detail})")
        if not vals:
            vals = _fallback_size(g, n, sizes, from_neurodeploy)
        if not vals:
            raise NetworkError(f"{src}: node {n!r} ({ntype(g.nodes[n])}): cannot tell the number of neurons (all "
                            f"parameters are scalars and no weight matrix feeds it)")
        sizes[n] = vals.pop()
    scalar_nodes = [n for n in g.order
                    if all((param(g.nodes[n], k, n, src) is None or param(g.nodes[n], k, n, src).ndim == 0)
                           for k in ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold"))]
    if scalar_nodes:
        assumptions.append(f"scalar parameters broadcast to every neuron of {', '.join(scalar_nodes)}")
    _check_connection_shapes(g, sizes, src)
    return sizes
