"""Step 4 of the NIR import: connections → projections (weights normalised per target layer), and the outputs."""

from __future__ import annotations

import numpy as np

from ...errors import SpecError
from .graph import Graph
from .layers import Layers
from .nodes import ntype
from .read import meta_json
from .settings import Settings


def _order_key(g: Graph, s: Settings):
    pos = {n: i for i, n in enumerate(g.order)}
    pos[g.inp] = -1

    def key(c):
        if s.neurodeploy and c[3] is not None:
            k = (meta_json(g.nodes[c[3]]) or {}).get("index")
            if isinstance(k, int):
                return (k, 0, 0, "")
        return (1 << 30, pos.get(c[0], 1 << 30), pos[c[1]], c[3] or "")

    return pos, key


def projections(g: Graph, sizes: dict[str, int], layers: Layers, s: Settings, assumptions: list[str]) -> list[dict]:
    """One projection per connection: spec weight = (W · gain of the target layer)ᵀ, [n_source x n_target]."""
    pos, key = _order_key(g, s)
    out: list[dict] = []
    for p, t, w, wn in sorted((c for c in g.conns if c[0] in pos and c[1] in pos), key=key):
        mat = np.eye(sizes[t]) if w is None else w
        spec_w = (mat * layers.gain[t][:, None]).T  # [n_source x n_target]
        nd = meta_json(g.nodes[wn]) if (wn is not None and s.neurodeploy) else None
        proj = {"source": "input" if p == g.inp else layers.pop_of[p], "target": layers.pop_of[t],
                "synapse": (nd or {}).get("synapse", s.synapse),
                "weight_scale": s.weight_scale if s.weight_scale is not None else (nd or {}).get("weight_scale", s.ws_default),
                "weight": spec_w.tolist()}
        if proj["synapse"] != "auto" and np.any(spec_w < 0):
            raise SpecError(f"{s.src}: node {wn or p!r}: negative weights onto a '{proj['synapse']}' synapse; "
                            f"use synapse 'auto' (sign picks AMPA or GABA)")
        if w is None:
            assumptions.append(f"edge {p} -> {t} without a weight node: one-to-one connection of weight 1")
        if (nd or {}).get("form") == "sparse":
            pre, post = np.nonzero(spec_w)
            del proj["weight"]
            proj.update(pre=pre.tolist(), post=post.tolist(), w=spec_w[pre, post].tolist())
        out.append(proj)
    return out


def outputs(g: Graph, layers: Layers, assumptions: list[str]) -> list[dict]:
    """The populations feeding Output nodes (in the Output nodes' name order), else the layers feeding nothing."""
    out: list[dict] = []
    out_nodes = sorted(n for n in g.nodes if ntype(g.nodes[n]) == "Output" and not g.succs[n])
    for o in out_nodes:
        for pp in sorted(g.preds[o]):
            if pp in layers.pop_of and {"population": layers.pop_of[pp]} not in out:
                out.append({"population": layers.pop_of[pp]})
    if not out:
        sinks = [n for n in g.order if not any(c[0] == n for c in g.conns)]
        out = [{"population": layers.pop_of[n]} for n in sinks]
        assumptions.append(f"no Output node after a neuron layer: reading out "
                           f"{', '.join(layers.pop_of[n] for n in sinks) or 'nothing'}")
    elif len(out_nodes) > 1:
        assumptions.append(f"outputs in the order of the Output nodes' names: {', '.join(out_nodes)}")
    return out
