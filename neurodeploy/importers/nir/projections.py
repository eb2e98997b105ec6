"""Step 4 of the NIR import: connections → projections (weights normalised per target layer), and the outputs."""

from __future__ import annotations

import numpy as np

from ...errors import NetworkError
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
    """One projection per connection: network weight = (W · gain of the target layer)ᵀ, [n_source x n_target]."""
    pos, key = _order_key(g, s)
    out: list[dict] = []
    for p, t, w, wn in sorted((c for c in g.conns if c[0] in pos and c[1] in pos), key=key):
        mat = np.eye(sizes[t]) if w is None else w
        network_w = (mat * layers.gain[t][:, None]).T  # [n_source x n_target]
        nd = meta_json(g.nodes[wn]) if (wn is not None and s.neurodeploy) else None
        proj = {"source": "input" if p == g.inp else layers.pop_of[p], "target": layers.pop_of[t],
                "synapse": (nd or {}).get("synapse", s.synapse),
                "weight_scale": s.weight_scale if s.weight_scale is not None else (nd or {}).get("weight_scale", s.ws_default),
                "weight": network_w.tolist()}
        if proj["synapse"] != "auto" and np.any(network_w < 0):
            raise NetworkError(f"{s.src}: node {wn or p!r}: negative weights onto a '{proj['synapse']}' synapse; "
                            f"use synapse 'auto' (sign picks AMPA or GABA)")
        if w is None:
            assumptions.append(f"edge {p} -> {t} without a weight node: one-to-one connection of weight 1")
        delay = _delay_matrix(g, p, t, wn, network_w.shape, s, assumptions)
        if delay is not None:
            proj["delay"] = delay.tolist()
        if (nd or {}).get("form") == "sparse":
            pre, post = np.nonzero(network_w)
            del proj["weight"]
            proj.update(pre=pre.tolist(), post=post.tolist(), w=network_w[pre, post].tolist())
            if delay is not None:
                proj["delay"] = delay[pre, post].tolist()
        out.append(proj)
    return out


def _delay_matrix(g: Graph, p: str, t: str, wn: str | None, shape: tuple, s: Settings, assumptions: list[str]):
    """The synaptic delays (s) [n_source x n_target] of connection p → (wn) → t from the Delay nodes on its edges:
    before the weight node one per source channel, after it (or on a direct edge) one per target neuron;
    d_ij = d_pre,i + d_post,j. None without Delay nodes."""
    edges = [((p, wn), 0), ((wn, t), 1)] if wn is not None else [((p, t), 1)]
    total = np.zeros(shape)
    found = False
    for e, axis in edges:
        d = g.delays.get(e)
        if d is None:
            continue
        n = shape[axis]
        if d.size not in (1, n):
            raise NetworkError(f"{s.src}: Delay between {e[0]!r} and {e[1]!r}: {d.size} delays for {n} channels")
        sec = s.delay_seconds(np.broadcast_to(d, (n,)))
        total += sec[:, None] if axis == 0 else sec[None, :]
        found = True
        assumptions.append(f"Delay on {e[0]} -> {e[1]}: {d.size} delay(s) in {s.tau_unit} (tau_unit) → synaptic "
                           f"delays of {p} -> {t}, one per {'source channel' if axis == 0 else 'target neuron'}")
    return total if found else None


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
