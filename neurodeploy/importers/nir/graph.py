"""Step 2 of the NIR import: normalise the graph and find its structure.

Nested ``NIRGraph`` subgraphs are flattened (their Input/Output nodes become pass-throughs, removed with
Identity nodes); ``nir.read`` returns nodes in alphabetical order, so the structure comes from the edges
only: the one Input, the neuron nodes in breadth-first order from it (populations), and the connections
(a weight node between two neuron nodes, or a direct edge: one-to-one).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ...errors import NetworkError
from .nodes import NEURON_TYPES, WEIGHT_TYPES, ntype, shape_size, weight
from .read import to_py

REJECT = {
    "Conv1d": "convolution: the chip has no weight sharing and no spatial layout; unroll the convolution into a dense "
              "(Linear) layer before export",
    "Conv2d": "convolution: the chip has no weight sharing and no spatial layout; unroll the convolution into a dense "
              "(Linear) layer before export",
    "SumPool2d": "pooling: the chip has no pooling stage; replace it by a Linear layer of ones, or remove it",
    "AvgPool2d": "pooling: the chip has no pooling stage; replace it by a Linear layer, or remove it",
    "Flatten": "Flatten: the chip takes flat vectors of neurons and channels, not tensors; flatten the input "
               "outside the network and remove the node",
    "Scale": "Scale: a per-channel gain between layers has no circuit; fold it into the adjacent weight matrix",
    "Threshold": "Threshold: spiking is part of the DPI neuron; export the layer as LIF or CubaLIF instead",
}

#: one connection: (source node or the Input, target neuron node, W [n_out x n_in] or None = identity, weight node)
Conn = tuple[str, str, "np.ndarray | None", "str | None"]


@dataclass
class Graph:
    nodes: dict[str, dict]
    preds: dict[str, list[str]]
    succs: dict[str, list[str]]
    inp: str                    # the Input node
    n_inputs: int
    order: list[str]            # neuron nodes, one population each, in this order
    conns: list[Conn]
    delays: dict = None         # (a, b) edge → delay per channel (file units) of the Delay nodes removed from it


def _edges(graph: dict, where: str) -> list[tuple[str, str]]:
    raw = graph.get("edges", [])
    out = []
    try:
        for e in (raw.tolist() if isinstance(raw, np.ndarray) else raw):
            a, b = e
            out.append((str(to_py(a)), str(to_py(b))))
    except (TypeError, ValueError):
        raise NetworkError(f"{where}: edges are not a list of (source, target) pairs") from None
    return out


def _flatten(graph: dict, prefix: str, src: str) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    nodes_in = graph.get("nodes")
    if not isinstance(nodes_in, dict):
        raise NetworkError(f"{src}: graph {prefix.rstrip('.') or '(top level)'} has no nodes")
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str]] = []
    subs: dict[str, tuple[list[str], list[str]]] = {}
    for name, node in nodes_in.items():
        if not isinstance(node, dict):
            raise NetworkError(f"{src}: node {prefix + name!r} is not a NIR node")
        full = prefix + name
        if ntype(node) == "NIRGraph":
            sn, se = _flatten(node, full + ".", src)
            nodes.update(sn)
            edges.extend(se)
            ins = [full + "." + k for k, v in node["nodes"].items() if ntype(v) == "Input"]
            outs = [full + "." + k for k, v in node["nodes"].items() if ntype(v) == "Output"]
            subs[full] = (ins, outs)
        else:
            nodes[full] = node
    for a, b in _edges(graph, src):
        fa, fb = prefix + a, prefix + b
        srcs = subs[fa][1] if fa in subs else [fa]
        dsts = subs[fb][0] if fb in subs else [fb]
        for x in srcs:
            for y in dsts:
                for end in (x, y):
                    if end not in nodes:
                        raise NetworkError(f"{src}: edge ({a!r}, {b!r}) refers to node {end!r}, which is not in the graph")
                edges.append((x, y))
    return nodes, edges


def normalise(tree: dict, src: str) -> tuple[dict[str, dict], list[tuple[str, str]], dict]:
    """Flatten subgraphs and remove pass-through nodes → (nodes by full name, edges, delays). A ``Delay`` node is a
    pass-through that leaves its per-channel ``delay`` (file units) on the edge that replaces it (summed along a
    chain of them): ``delays[(a, b)]``."""
    if ntype(tree) not in ("NIRGraph", ""):
        tree = {"type": "NIRGraph", "nodes": {"node": tree}, "edges": []}
    nodes, edges = _flatten(tree, "", src)
    edges = list(dict.fromkeys(edges))
    delays: dict[tuple[str, str], np.ndarray] = {}
    # pass-through nodes: Input with incoming edges / Output with outgoing edges (subgraph borders), Identity
    while True:
        has_in = {b for _, b in edges}
        has_out = {a for a, _ in edges}
        through = [n for n, v in nodes.items()
                   if (ntype(v) == "Input" and n in has_in) or (ntype(v) == "Output" and n in has_out)
                   or ntype(v) in ("Identity", "Delay")]
        if not through:
            break
        p = through[0]
        pre = [a for a, b in edges if b == p]
        post = [b for a, b in edges if a == p]
        own = _delay_of(nodes[p], p, src) if ntype(nodes[p]) == "Delay" else None
        for a in pre:
            for b in post:
                parts = [d for d in (delays.pop((a, p), None), own, delays.pop((p, b), None)) if d is not None]
                if parts:
                    delays[(a, b)] = _sum_delays(parts, p, src)
        edges = [e for e in edges if p not in e] + [(a, b) for a in pre for b in post]
        edges = list(dict.fromkeys(edges))
        del nodes[p]
    return nodes, edges, delays


def _delay_of(node: dict, name: str, src: str) -> np.ndarray:
    """A Delay node's ``delay`` as a flat float array (file units), finite and ≥ 0."""
    d = np.asarray(node.get("delay", np.nan), dtype=np.float64).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)) or np.any(d < 0):
        raise NetworkError(f"{src}: node {name!r} (Delay): delay must be finite and >= 0 per channel")
    return d


def _sum_delays(parts: list, name: str, src: str) -> np.ndarray:
    n = max(p.size for p in parts)
    if any(p.size not in (1, n) for p in parts):
        raise NetworkError(f"{src}: node {name!r} (Delay): delays of sizes {[p.size for p in parts]} in a row; "
                        f"a chain of Delay nodes must keep one size")
    return sum(np.broadcast_to(p, (n,)) for p in parts)


def _check_types(nodes: dict[str, dict], src: str) -> None:
    """Every node the chip cannot run, in one error."""
    problems = []
    for n in sorted(nodes):
        t = ntype(nodes[n])
        if t in REJECT:
            problems.append(f"{src}: node {n!r}: {REJECT[t]}")
        elif t not in NEURON_TYPES + WEIGHT_TYPES + ("Input", "Output"):
            problems.append(f"{src}: node {n!r}: NIR node type {t or '(none)'!r} is not supported (supported: Input, "
                            f"Output, Affine, Linear, LIF, CubaLIF, LI, CubaLI, IF, I, Delay)")
    if problems:
        raise NetworkError(problems[0], lines=problems)


def _the_input(nodes, preds, succs, src: str) -> str:
    """The one Input node (dropping the Inputs nir's type inference adds in front of root layers)."""
    inputs = sorted(n for n in nodes if ntype(nodes[n]) == "Input" and not preds[n])
    # nir's type inference prepends an Input "input_<node>" to every root node that is not an Input (e.g. a
    # layer driven only by recurrence or DC): not a real input, drop it
    inferred = [n for n in inputs if len(inputs) > 1 and len(succs[n]) == 1 and n == f"input_{succs[n][0]}"
                and ntype(nodes[succs[n][0]]) in NEURON_TYPES]
    for n in inferred:
        preds[succs[n][0]].remove(n)
        del nodes[n], preds[n], succs[n]
    inputs = [n for n in inputs if n not in inferred]
    if len(inputs) != 1:
        raise NetworkError(f"{src}: expected exactly one Input node, found {len(inputs)}" +
                        (f" ({', '.join(inputs)})" if inputs else "") + "; the chip takes one list of input channels")
    return inputs[0]


def _layer_order(nodes, succs, inp: str) -> tuple[list[str], list[str]]:
    """Neuron nodes breadth-first from the input, then those not reachable from it → (order, unreachable)."""
    order: list[str] = []
    seen = {inp}
    queue = deque([inp])
    while queue:
        cur = queue.popleft()
        for nxt in sorted(succs[cur]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
                if ntype(nodes[nxt]) in NEURON_TYPES:
                    order.append(nxt)
    unreachable = sorted(n for n in nodes if n not in seen and ntype(nodes[n]) in NEURON_TYPES)
    return order + unreachable, unreachable


def _weight_conns(n: str, nodes, preds, succs, src: str) -> list[Conn]:
    t = ntype(nodes[n])
    ps = preds[n]
    if len(ps) != 1:
        raise NetworkError(f"{src}: node {n!r} ({t}) has {len(ps)} inputs ({', '.join(sorted(ps)) or 'none'}); "
                        f"a weight node must take exactly one layer or the Input")
    p = ps[0]
    if ntype(nodes[p]) in WEIGHT_TYPES:
        raise NetworkError(f"{src}: node {n!r} ({t}) follows weight node {p!r} directly; two weight layers in a "
                        f"row have no neurons between them — multiply them into one matrix")
    out = []
    for s in sorted(succs[n]):
        ts = ntype(nodes[s])
        if ts == "Output":
            raise NetworkError(f"{src}: node {n!r} ({t}) feeds the Output {s!r} directly; the chip reads out "
                            f"spikes of neurons — end the graph with a neuron layer (LIF, CubaLIF, LI)")
        if ts in WEIGHT_TYPES:
            raise NetworkError(f"{src}: node {s!r} ({ts}) follows weight node {n!r} directly; two weight layers "
                            f"in a row have no neurons between them — multiply them into one matrix")
        out.append((p, s, weight(nodes[n], n, src), n))
    return out


def _connections(nodes, preds, succs, src: str) -> list[Conn]:
    conns: list[Conn] = []
    for n in sorted(nodes):
        t = ntype(nodes[n])
        if t in WEIGHT_TYPES:
            conns += _weight_conns(n, nodes, preds, succs, src)
        elif t in NEURON_TYPES or t == "Input":
            for s in sorted(succs[n]):
                if ntype(nodes[s]) in NEURON_TYPES:
                    conns.append((n, s, None, None))  # direct edge: one-to-one connection of weight 1
                # Input → Output (nir adds an Output to an unused Input): nothing for the chip to do; ignored
    return conns


def structure(nodes: dict[str, dict], edges: list[tuple[str, str]], src: str,
              population_rank: list | None, note_unreachable: bool, assumptions: list[str], delays=None) -> Graph:
    """The graph's structure from normalised nodes and edges. ``population_rank`` (names, from a neurodeploy
    export) reorders the layers; ``note_unreachable`` records layers not reachable from the Input."""
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succs[a].append(b)
        preds[b].append(a)
    _check_types(nodes, src)
    inp = _the_input(nodes, preds, succs, src)
    n_inputs = shape_size(nodes[inp], inp, src)
    order, unreachable = _layer_order(nodes, succs, inp)
    if unreachable and note_unreachable:
        assumptions.append(f"neuron layers not reachable from the input kept (driven only by each other or "
                           f"their DC input): {', '.join(unreachable)}")
    if population_rank is not None:
        rank = {name: i for i, name in enumerate(population_rank)}
        order.sort(key=lambda n: rank.get(n, len(rank)))
    conns = _connections(nodes, preds, succs, src)
    if not order:
        raise NetworkError(f"{src}: no neuron layer (LIF, CubaLIF, LI, CubaLI) in the graph")
    return Graph(nodes=nodes, preds=preds, succs=succs, inp=inp, n_inputs=n_inputs, order=order, conns=conns,
                 delays=dict(delays or {}))
