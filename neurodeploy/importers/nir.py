"""NIR graphs (``.nir``, HDF5) → NetworkSpec.

Supported graphs: ``Input → Affine/Linear → LIF / CubaLIF / LI`` layers, any number of them, recurrent
connections included (a weight node from a layer back to itself or to an earlier layer), nested
``NIRGraph`` subgraphs flattened (their Input/Output nodes become pass-throughs). ``nir.read`` returns
nodes in alphabetical order, so the structure comes from the edges only: each neuron node becomes a
population (in breadth-first order from the Input), each weight node a projection.

Reading: ``nir.read`` (with its type check); if the type check fails (batch or time dimensions in the Input
shape, scalar parameters, files of older nir versions), ``nir.read(type_check=False)``; if nir cannot read
the file at all, the HDF5 layout is read directly with h5py. Which one worked is recorded.

Units. NIR has no dt and no units, and the frameworks that write it disagree. The import works in
NIR's own continuous-time semantics,

    LIF:      tau_mem dv/dt = (v_leak - v) + r I,                      spike when v > v_threshold
    CubaLIF:  tau_syn dI/dt = -I + w_in S,   tau_mem dv/dt = (v_leak - v) + r I

with an input spike a pulse of height 1 lasting one step dt. A spike through weight W then raises v by
``r * w_in * W * dt / tau_mem`` in total (ignoring the leak during the rise), and the spec's unitless weight
is that rise as a fraction of the distance from reset to threshold::

    w = W * r * w_in * dt / tau_mem / (v_threshold - v_reset)          (per target neuron)

(so a weight of 1 takes a neuron from reset to threshold); the weight current is |w| * weight_scale. The
conventions (``convention=...``) say how each framework's numbers map onto that:

============ ================================================ ===================================================
convention   tau in the file                                   r, w_in, reset
============ ================================================ ===================================================
nir          seconds (``tau_unit`` = s, ms, us or steps)       as NIR defines them; reset to v_reset
snntorch     s, computed with a fixed export dt of 1e-4 s:     r = tau_mem/1e-4 and w_in = tau_syn/1e-4 encode
             tau = 1e-4/(1-beta); real tau = tau * dt/1e-4     the per-step update (v += W x); snnTorch's default
                                                               reset subtracts the threshold
norse        dt_export * tau (Norse <= 1.1 writes              r = 1; LIFCell's current jumps by W per spike, i.e.
             ``dt / tau_inv``): real tau = tau / dt_export     w_in = tau_syn / dt in NIR terms; reset to v_reset
             (export_dt, default 1e-3)
sinabs       time steps: real tau = tau * dt                   r = 1 (norm_input=True: v += (1-alpha) W x);
                                                               sinabs's default reset subtracts the threshold
spikingjelly s, computed with export dt 1e-4 (tau_steps*1e-4)  r = 1 (decay_input) or tau_steps; v_leak = v_reset
rockpool     seconds                                           r = tau*exp(-dt/tau)/dt (v += alpha W x per step);
                                                               Rockpool's LIF subtracts the threshold
neurodeploy  files written by ``neurodeploy export``: weights are the spec's unitless weights, exactly;
             the currents are restored from the node metadata
============ ================================================ ===================================================

Neuron currents: tau_mem → Itau_mem, tau_syn → Itau_ampa and Itau_gaba (the two dendrites of synapse
"auto"), each through the device profile, τ = U_T·C/(κ·I). LIF/LI have no synaptic filter: their
synapses keep the profile's default time constants unless ``tau_syn`` is given. The DPI neuron resets to
rest, whatever v_reset and reset mechanism the framework had: the difference is recorded. A constant
drive — v_leak above v_reset, or an Affine bias b (v settles at v_leak + r·w_in·b) — becomes the DC input
``Idc = f · Ispkthr · Itau_mem / Igain_mem``, f = (v_leak − v_reset + r·w_in·b)/(v_threshold − v_reset), the
DPI's steady state reaching the same fraction of threshold. A drive below reset (f < 0) cannot be made
with Idc (it only excites) and is rejected, as are the node types the chip cannot run.

Options: ``dt`` (s; required unless the graph's metadata has ``dt``), ``convention`` (above; default "nir",
or "neurodeploy" for files that say they come from neurodeploy), ``tau_unit``, ``export_dt``, ``weight_scale``
(A per unit weight, default 1e-8), ``synapse`` ("auto"), ``raw_weights`` (True: keep W as written, no
normalisation), ``name``, and neuron parameters overriding what the file gives, for every population
(``Ispkthr``, ``tau_syn``, ``Itau_mem``, ...).
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ._common import (NEURON_OPTIONS, SYNAPSES, apply_overrides, check_options, file_sha256, finish, neuron_overrides,
                      positive_float, scalar_or_list)

CONVENTIONS = ("nir", "snntorch", "norse", "sinabs", "spikingjelly", "rockpool", "neurodeploy")
TAU_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
OPTIONS = ("dt", "convention", "tau_unit", "export_dt", "weight_scale", "synapse", "raw_weights", "name") + NEURON_OPTIONS
DEFAULT_EXPORT_DT = {"snntorch": 1e-4, "spikingjelly": 1e-4, "norse": 1e-3}
DEFAULT_TAU_UNIT = {"nir": "s", "snntorch": "s", "norse": "s", "sinabs": "steps", "spikingjelly": "s", "rockpool": "s",
                    "neurodeploy": "s"}
RESET_NOTE = {
    "snntorch": "snnTorch's default reset subtracts the threshold",
    "sinabs": "sinabs's default reset (MembraneSubtract) subtracts the threshold",
    "rockpool": "Rockpool's LIF subtracts the threshold",
}

NEURON_TYPES = ("LIF", "CubaLIF", "LI", "CubaLI")
WEIGHT_TYPES = ("Affine", "Linear")
REJECT = {
    "Conv1d": "convolution: the chip has no weight sharing and no spatial layout; unroll the convolution into a dense "
              "(Linear) layer before export",
    "Conv2d": "convolution: the chip has no weight sharing and no spatial layout; unroll the convolution into a dense "
              "(Linear) layer before export",
    "SumPool2d": "pooling: the chip has no pooling stage; replace it by a Linear layer of ones, or remove it",
    "AvgPool2d": "pooling: the chip has no pooling stage; replace it by a Linear layer, or remove it",
    "Delay": "delay: the chip has no programmable per-connection delays (only 2 fixed CAM delay flags); remove it",
    "Flatten": "Flatten: the chip takes flat vectors of neurons and channels, not tensors; flatten the input "
               "outside the network and remove the node",
    "Scale": "Scale: a per-channel gain between layers has no circuit; fold it into the adjacent weight matrix",
    "Threshold": "Threshold: spiking is part of the DPI neuron; export the layer as LIF or CubaLIF instead",
    "IF": "IF: a Dynap-SE2 neuron always leaks (Itau_mem > 0); use LIF with a long tau",
    "I": "I (pure integrator): a Dynap-SE2 neuron always leaks (Itau_mem > 0); use LI/LIF with a long tau",
}
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------
def _to_py(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS" and v.ndim == 0:
        return _to_py(v[()])
    return v


def _raw_tree(group) -> dict:
    """An HDF5 group as nested dicts (the layout nir.write produces), without nir's constructors."""
    import h5py

    out: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _raw_tree(item)
        else:
            out[key] = _to_py(item[()])
    return out


def _graph_to_tree(graph) -> dict:
    d = graph.to_dict()

    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        return x

    return clean(d)


#: Largest array a NIR file may declare (elements), checked from the HDF5 headers before anything is read:
#: a full board's weights, 4,096 neurons × 4,096 sources (the chip holds far fewer synapses: 64 per neuron).
MAX_ARRAY_ELEMENTS = 4096 * 4096


def _check_declared_sizes(f, path: Path) -> None:
    """Refuse arrays larger than any Dynap-SE2 board could use, from their declared shapes (no data read)."""
    import h5py

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and item.size > MAX_ARRAY_ELEMENTS:
            raise SpecError(f"{path}: {name}: declares {item.size:,} elements {list(item.shape)}, more than a Dynap-SE2 "
                            f"board can hold ({MAX_ARRAY_ELEMENTS:,}: 4,096 neurons x 4,096 sources); nothing was read")

    f.visititems(visit)


def _read(path: Path) -> tuple[dict, str]:
    """Read a .nir file → (tree, how it was read)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise SpecError(f"{path}: not a NIR file (no 'node' group; top level has: {', '.join(f.keys()) or 'nothing'})")
            version = _to_py(f["version"][()]) if "version" in f else "unknown"
            _check_declared_sizes(f, path)
    except SpecError:
        raise
    except Exception as e:
        raise SpecError(f"{path}: cannot read as HDF5/NIR ({type(e).__name__}: {_one_line(e)})") from None
    errors = []
    try:
        import nir

        for kwargs, label in (({}, "nir.read"), ({"type_check": False}, "nir.read(type_check=False)")):
            try:
                g = nir.read(path, **kwargs)
                how = label if not errors else f"{label}; nir's type check failed: {errors[0]}"
                return _graph_to_tree(g), f"{how} (file written by nir {version})"
            except Exception as e:  # nir raises many kinds (ValueError, KeyError, TypeError, AssertionError)
                errors.append(_one_line(e))
    except ImportError:
        errors.append("nir is not installed")
    try:
        with h5py.File(path, "r") as f:
            tree = _raw_tree(f["node"])
    except Exception as e:
        raise SpecError(f"{path}: cannot read the NIR graph ({type(e).__name__}: {_one_line(e)})") from None
    return tree, f"raw HDF5 (nir.read failed: {errors[-1]}) (file written by nir {version})"


def _one_line(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}" if not str(e) else str(e)
    return " ".join(s.split())[:300]


# ---------------------------------------------------------------------------------------------------------------
# graph normalisation: flatten subgraphs, remove pass-through nodes
# ---------------------------------------------------------------------------------------------------------------
def _ntype(node: dict) -> str:
    t = node.get("type", "")
    return _to_py(t) if not isinstance(t, str) else t


def _edges(graph: dict, where: str) -> list[tuple[str, str]]:
    raw = graph.get("edges", [])
    out = []
    try:
        for e in (raw.tolist() if isinstance(raw, np.ndarray) else raw):
            a, b = e
            out.append((str(_to_py(a)), str(_to_py(b))))
    except (TypeError, ValueError):
        raise SpecError(f"{where}: edges are not a list of (source, target) pairs") from None
    return out


def _flatten(graph: dict, prefix: str, src: str) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    nodes_in = graph.get("nodes")
    if not isinstance(nodes_in, dict):
        raise SpecError(f"{src}: graph {prefix.rstrip('.') or '(top level)'} has no nodes")
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str]] = []
    subs: dict[str, tuple[list[str], list[str]]] = {}
    for name, node in nodes_in.items():
        if not isinstance(node, dict):
            raise SpecError(f"{src}: node {prefix + name!r} is not a NIR node")
        full = prefix + name
        if _ntype(node) == "NIRGraph":
            sn, se = _flatten(node, full + ".", src)
            nodes.update(sn)
            edges.extend(se)
            ins = [full + "." + k for k, v in node["nodes"].items() if _ntype(v) == "Input"]
            outs = [full + "." + k for k, v in node["nodes"].items() if _ntype(v) == "Output"]
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
                        raise SpecError(f"{src}: edge ({a!r}, {b!r}) refers to node {end!r}, which is not in the graph")
                edges.append((x, y))
    return nodes, edges


def _normalise(tree: dict, src: str) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    if _ntype(tree) not in ("NIRGraph", ""):
        tree = {"type": "NIRGraph", "nodes": {"node": tree}, "edges": []}
    nodes, edges = _flatten(tree, "", src)
    edges = list(dict.fromkeys(edges))
    # pass-through nodes: Input with incoming edges / Output with outgoing edges (subgraph borders), Identity
    while True:
        has_in = {b for _, b in edges}
        has_out = {a for a, _ in edges}
        through = [n for n, v in nodes.items()
                   if (_ntype(v) == "Input" and n in has_in) or (_ntype(v) == "Output" and n in has_out) or _ntype(v) == "Identity"]
        if not through:
            break
        p = through[0]
        pre = [a for a, b in edges if b == p]
        post = [b for a, b in edges if a == p]
        edges = [e for e in edges if p not in e] + [(a, b) for a in pre for b in post]
        edges = list(dict.fromkeys(edges))
        del nodes[p]
    return nodes, edges


# ---------------------------------------------------------------------------------------------------------------
# shapes and parameters
# ---------------------------------------------------------------------------------------------------------------
def _squeeze(a: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64) if not isinstance(a, np.ndarray) or a.dtype.kind != "O" else np.asarray(a.tolist(), dtype=np.float64)
    return arr.reshape([d for d in arr.shape if d != 1]) if arr.size >= 1 else arr


def _param(node: dict, key: str, name: str, src: str, default: float | None = None) -> np.ndarray | None:
    if key not in node or node[key] is None:
        return None if default is None else np.asarray(default, dtype=np.float64)
    try:
        a = _squeeze(node[key])
    except (TypeError, ValueError):
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}): parameter {key} is not numeric") from None
    if a.ndim > 1:
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}): parameter {key} has shape {np.shape(node[key])}; "
                        f"the chip needs a flat layer of neurons (one value per neuron)")
    if not np.all(np.isfinite(a)):
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}): parameter {key} holds non-finite values")
    return a


def _shape_size(node: dict, name: str, src: str) -> int:
    shape = node.get("shape")
    if shape is None:
        it = node.get("input_type") or node.get("output_type")
        if isinstance(it, dict) and it:
            shape = next(iter(it.values()))
    if shape is None:
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}) has no shape")
    dims = [int(d) for d in np.asarray(shape).reshape(-1)]
    big = [d for d in dims if d != 1]
    if len(big) > 1:
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}) has shape {dims}; the chip takes a flat list of "
                        f"channels — flatten the input before the network")
    return big[0] if big else 1


def _weight(node: dict, name: str, src: str) -> np.ndarray:
    if "weight" not in node:
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}) has no weight")
    w = np.asarray(node["weight"], dtype=np.float64)
    while w.ndim > 2 and w.shape[0] == 1:  # batch dimension of 1
        w = w[0]
    if w.ndim != 2:
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}): weight has shape {np.shape(node['weight'])}; "
                        f"expected a 2-D matrix [n_out x n_in]")
    if not np.all(np.isfinite(w)):
        raise SpecError(f"{src}: node {name!r} ({_ntype(node)}): weight holds non-finite values")
    return w


def _population_name(node_name: str, taken: set[str]) -> str:
    base = node_name if _NAME_OK.match(node_name) else "p_" + re.sub(r"[^A-Za-z0-9_.\-]", "_", node_name)
    if base in ("input",):
        base = "p_" + base
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _meta_json(node: dict) -> dict | None:
    md = node.get("metadata")
    if isinstance(md, dict) and "neurodeploy" in md:
        try:
            return json.loads(_to_py(md["neurodeploy"]))
        except (TypeError, ValueError):
            return None
    return None


# ---------------------------------------------------------------------------------------------------------------
# the import
# ---------------------------------------------------------------------------------------------------------------
def load_nir(path, profile=None, **options) -> "NetworkSpec":  # noqa: F821
    """Import a NIR graph (``.nir`` file, or a ``nir.NIRGraph`` object) as a NetworkSpec; see the module doc."""
    if profile is None:
        from ..profile import load_profile

        profile = load_profile("dynapse2")
    if isinstance(path, (str, Path)):
        path = Path(path)
        src = str(path)
        check_options(src, options, OPTIONS)
        tree, reader = _read(path)
        source_info = {"source": path.name, "sha256": file_sha256(path)}
        default_name = path.stem
    else:  # an in-memory nir graph
        src = "<nir graph>"
        check_options(src, options, OPTIONS)
        tree, reader = _graph_to_tree(path), "in-memory nir graph"
        source_info = {"source": src}
        default_name = "network"
    return _import_tree(tree, src, profile, options, reader, source_info, default_name)


def _import_tree(tree: dict, src: str, profile, options: dict, reader: str, source_info: dict, default_name: str):
    assumptions: list[str] = []
    graph_meta = tree.get("metadata") if isinstance(tree.get("metadata"), dict) else {}
    nd_graph = _meta_json(tree)
    nodes, edges = _normalise(tree, src)

    # ---- settings ------------------------------------------------------------------------------------------
    convention = options.get("convention") or ("neurodeploy" if nd_graph else "nir")
    if convention not in CONVENTIONS:
        raise SpecError(f"{src}: option convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if "dt" in options and options["dt"] is not None:
        dt = positive_float(src, "dt", options["dt"])
        if "dt" in graph_meta:
            assumptions.append(f"dt = {dt} s from the option (the graph's metadata says {float(np.asarray(graph_meta['dt']))})")
        else:
            assumptions.append(f"dt = {dt} s (option)")
    elif "dt" in graph_meta:
        dt = positive_float(src, "metadata dt", graph_meta["dt"])
        assumptions.append(f"dt = {dt} s (from the graph's metadata)")
    else:
        raise SpecError(f"{src}: NIR carries no time step: give the import option dt in seconds (-O dt=0.001; for "
                        f"commands without -O convert first: neurodeploy export FILE.nir -O dt=0.001 -o model.json)")
    tau_unit = options.get("tau_unit") or DEFAULT_TAU_UNIT[convention]
    if tau_unit not in (*TAU_UNITS, "steps"):
        raise SpecError(f"{src}: option tau_unit: expected s, ms, us or steps, got {tau_unit!r}")
    export_dt = positive_float(src, "export_dt", options["export_dt"]) if options.get("export_dt") is not None \
        else DEFAULT_EXPORT_DT.get(convention)
    ws_default = 1e-8
    weight_scale = positive_float(src, "weight_scale", options["weight_scale"]) if options.get("weight_scale") is not None else None
    synapse = options.get("synapse", "auto")
    if synapse not in SYNAPSES:
        raise SpecError(f"{src}: option synapse: expected one of {', '.join(SYNAPSES)}, got {synapse!r}")
    raw_weights = bool(options.get("raw_weights", False)) or convention == "neurodeploy"

    def tau_seconds(tau: np.ndarray) -> np.ndarray:
        if convention in ("snntorch", "spikingjelly") and not options.get("tau_unit"):
            return tau * (dt / export_dt)
        if convention == "norse" and not options.get("tau_unit"):
            return tau / export_dt
        return tau * dt if tau_unit == "steps" else tau * TAU_UNITS[tau_unit]

    # ---- classify nodes --------------------------------------------------------------------------------------
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succs[a].append(b)
        preds[b].append(a)
    for n in sorted(nodes):
        t = _ntype(nodes[n])
        if t in REJECT:
            raise SpecError(f"{src}: node {n!r}: {REJECT[t]}")
        if t not in NEURON_TYPES + WEIGHT_TYPES + ("Input", "Output"):
            raise SpecError(f"{src}: node {n!r}: NIR node type {t or '(none)'!r} is not supported (supported: Input, "
                            f"Output, Affine, Linear, LIF, CubaLIF, LI, CubaLI)")
    inputs = sorted(n for n in nodes if _ntype(nodes[n]) == "Input" and not preds[n])
    # nir's type inference prepends an Input "input_<node>" to every root node that is not an Input (e.g. a
    # layer driven only by recurrence or DC): not a real input, drop it
    inferred = [n for n in inputs if len(inputs) > 1 and len(succs[n]) == 1 and n == f"input_{succs[n][0]}"
                and _ntype(nodes[succs[n][0]]) in NEURON_TYPES]
    for n in inferred:
        edges = [e for e in edges if e[0] != n]
        preds[succs[n][0]].remove(n)
        del nodes[n], preds[n], succs[n]
    inputs = [n for n in inputs if n not in inferred]
    if len(inputs) != 1:
        raise SpecError(f"{src}: expected exactly one Input node, found {len(inputs)}" +
                        (f" ({', '.join(inputs)})" if inputs else "") + "; the chip takes one list of input channels")
    inp = inputs[0]
    n_inputs = _shape_size(nodes[inp], inp, src)

    # ---- neuron nodes in breadth-first order from the input -------------------------------------------------
    order: list[str] = []
    seen = {inp}
    queue = deque([inp])
    while queue:
        cur = queue.popleft()
        for nxt in sorted(succs[cur]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
                if _ntype(nodes[nxt]) in NEURON_TYPES:
                    order.append(nxt)
    unreachable = sorted(n for n in nodes if n not in seen and _ntype(nodes[n]) in NEURON_TYPES)
    if unreachable:
        order += unreachable
        if convention != "neurodeploy":
            assumptions.append(f"neuron layers not reachable from the input kept (driven only by each other or "
                               f"their DC input): {', '.join(unreachable)}")
    if convention == "neurodeploy" and isinstance((nd_graph or {}).get("populations"), list):
        rank = {name: i for i, name in enumerate(nd_graph["populations"])}
        order.sort(key=lambda n: rank.get(n, len(rank)))

    # ---- projections ----------------------------------------------------------------------------------------
    # each connection: (source node or input, target neuron node, W [n_out x n_in] or None = identity, weight node)
    conns: list[tuple[str, str, np.ndarray | None, str | None]] = []
    for n in sorted(nodes):
        t = _ntype(nodes[n])
        if t in WEIGHT_TYPES:
            ps = preds[n]
            if len(ps) != 1:
                raise SpecError(f"{src}: node {n!r} ({t}) has {len(ps)} inputs ({', '.join(sorted(ps)) or 'none'}); "
                                f"a weight node must take exactly one layer or the Input")
            p = ps[0]
            if _ntype(nodes[p]) in WEIGHT_TYPES:
                raise SpecError(f"{src}: node {n!r} ({t}) follows weight node {p!r} directly; two weight layers in a "
                                f"row have no neurons between them — multiply them into one matrix")
            for s in sorted(succs[n]):
                ts = _ntype(nodes[s])
                if ts == "Output":
                    raise SpecError(f"{src}: node {n!r} ({t}) feeds the Output {s!r} directly; the chip reads out "
                                    f"spikes of neurons — end the graph with a neuron layer (LIF, CubaLIF, LI)")
                if ts in WEIGHT_TYPES:
                    raise SpecError(f"{src}: node {s!r} ({ts}) follows weight node {n!r} directly; two weight layers "
                                    f"in a row have no neurons between them — multiply them into one matrix")
                conns.append((p, s, _weight(nodes[n], n, src), n))
        elif t in NEURON_TYPES or t == "Input":
            for s in sorted(succs[n]):
                if _ntype(nodes[s]) in NEURON_TYPES:
                    conns.append((n, s, None, None))  # direct edge: one-to-one connection of weight 1
                # Input → Output (nir adds an Output to an unused Input): nothing for the chip to do; ignored

    if not order:
        raise SpecError(f"{src}: no neuron layer (LIF, CubaLIF, LI, CubaLI) in the graph")

    # ---- sizes ----------------------------------------------------------------------------------------------
    sizes: dict[str, int] = {inp: n_inputs}
    for n in order:
        cand = {}
        for key in ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in"):
            a = _param(nodes[n], key, n, src)
            if a is not None and a.ndim == 1:
                cand[key] = a.shape[0]
        for p, s, w, wn in conns:
            if s == n and w is not None:
                cand[f"{wn}.weight"] = w.shape[0]
            if p == n and w is not None:
                cand[f"{wn}.weight (columns)"] = w.shape[1]
        vals = set(cand.values())
        if len(vals) > 1:
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(cand.items()))
            raise SpecError(f"{src}: node {n!r} ({_ntype(nodes[n])}): inconsistent layer sizes ({detail})")
        if not vals:
            for p, s, w, wn in conns:
                if s == n and w is None and p in sizes:
                    vals = {sizes[p]}
        if not vals:
            nd = _meta_json(nodes[n]) if convention == "neurodeploy" else None
            raw_params = [np.asarray(nodes[n][k]) for k in ("tau", "tau_mem", "r", "v_threshold") if k in nodes[n]]
            if nd and isinstance(nd.get("size"), int):
                vals = {nd["size"]}
            elif raw_params and all(a.size == 1 for a in raw_params) and any(a.ndim >= 1 for a in raw_params):
                vals = {1}
        if not vals:
            raise SpecError(f"{src}: node {n!r} ({_ntype(nodes[n])}): cannot tell the number of neurons (all "
                            f"parameters are scalars and no weight matrix feeds it)")
        sizes[n] = vals.pop()
    scalar_nodes = [n for n in order if all((_param(nodes[n], k, n, src) is None or _param(nodes[n], k, n, src).ndim == 0)
                                            for k in ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold"))]
    if scalar_nodes:
        assumptions.append(f"scalar parameters broadcast to every neuron of {', '.join(scalar_nodes)}")
    for p, s, w, wn in conns:
        n_src, n_tgt = sizes.get(p), sizes[s]
        if n_src is None:
            continue
        if w is None:
            if n_src != n_tgt:
                raise SpecError(f"{src}: edge {p!r} -> {s!r} connects {n_src} to {n_tgt} neurons without a weight node")
        elif w.shape != (n_tgt, n_src):
            raise SpecError(f"{src}: node {wn!r} ({_ntype(nodes[wn])}): weight has shape {list(w.shape)}, expected "
                            f"[{n_tgt}, {n_src}] ([n_out x n_in]: {s!r} has {n_tgt} neurons, {p!r} gives {n_src})")

    # ---- per-layer conversion -------------------------------------------------------------------------------
    defaults = profile.default_currents()
    overrides_all = {k: options[k] for k in NEURON_OPTIONS if options.get(k) is not None}
    taken: set[str] = set()
    pop_of: dict[str, str] = {}
    pops: list[dict] = []
    gain: dict[str, np.ndarray] = {}
    conv_notes: set[str] = set()
    for n in order:
        node, t, size = nodes[n], _ntype(nodes[n]), sizes[n]
        nd = _meta_json(node) if convention == "neurodeploy" else None
        pname = nd["name"] if nd and isinstance(nd.get("name"), str) and nd["name"] not in taken else _population_name(n, taken)
        taken.add(pname)
        pop_of[n] = pname
        pop: dict[str, Any] = {"name": pname, "size": size}
        if nd is not None:
            pop.update({k: v for k, v in nd.items() if k not in ("name", "size")})
            gain[n] = np.ones(size)
            pops.append(pop)
            continue

        def p(key, default=None):
            a = _param(node, key, n, src, default)
            return None if a is None else np.broadcast_to(a, (size,)).astype(np.float64)

        if t in ("LIF", "LI"):
            tau_m, tau_s = p("tau"), None
        else:
            tau_m, tau_s = p("tau_mem"), p("tau_syn")
        if tau_m is None:
            raise SpecError(f"{src}: node {n!r} ({t}) has no membrane time constant")
        r = p("r", 1.0)
        w_in = p("w_in", 1.0) if t in ("CubaLIF", "CubaLI") else np.ones(size)
        v_leak = p("v_leak", 0.0)
        if t in ("LIF", "CubaLIF"):
            v_th = p("v_threshold")
            if v_th is None:
                raise SpecError(f"{src}: node {n!r} ({t}) has no v_threshold")
            v_reset = p("v_reset", 0.0)
        else:
            v_th, v_reset = np.ones(size), np.zeros(size)
            conv_notes.add(f"{t} (non-spiking) layers become spiking DPI neurons; their weights are normalised "
                           f"with threshold 1 — read them out as spike rates")
        tau_ms = tau_seconds(tau_m)
        tau_ss = tau_seconds(tau_s) if tau_s is not None else None
        for arr, what in ((tau_ms, "tau_mem"), (tau_ss, "tau_syn")):
            if arr is not None and (np.any(arr <= 0) or not np.all(np.isfinite(arr))):
                raise SpecError(f"{src}: node {n!r} ({t}): {what} must be positive, got {float(np.min(arr))}")
        if convention == "norse" and t in ("CubaLIF", "CubaLI"):
            w_in = w_in * tau_ss / dt
            conv_notes.add("norse CubaLIF: the synaptic current jumps by W per spike (w_in taken as tau_syn/dt)")
        if convention == "snntorch" and np.any(np.abs(tau_m / r - export_dt) > 0.02 * export_dt) and t in ("LIF", "CubaLIF"):
            conv_notes.add(f"node {n}: r != tau/{export_dt} — not what snnTorch writes; check the convention")
        span = v_th - v_reset
        if np.any(span <= 0):
            j = int(np.flatnonzero(span <= 0)[0])
            raise SpecError(f"{src}: node {n!r} ({t}): neuron {j} has v_threshold {v_th[j]} <= v_reset {v_reset[j]}")
        gain[n] = np.ones(size) if raw_weights else r * w_in * dt / tau_ms / span
        if np.any(v_reset != 0) or np.any(v_leak != v_reset):
            conv_notes.add(f"node {n}: v_reset = {scalar_or_list(v_reset)}, v_leak = {scalar_or_list(v_leak)}; "
                           f"the DPI rests and resets at zero current: levels measured from v_reset")
        node_bias = np.zeros(size)
        for pp, s, w, wn in conns:
            if s == n and wn is not None and _ntype(nodes[wn]) == "Affine" and "bias" in nodes[wn]:
                b = _squeeze(nodes[wn]["bias"])
                if b.ndim > 1 or (b.ndim == 1 and b.shape[0] != size):
                    raise SpecError(f"{src}: node {wn!r} (Affine): bias has shape {np.shape(nodes[wn]['bias'])}, "
                                    f"expected [{size}]")
                if not np.all(np.isfinite(b)):
                    raise SpecError(f"{src}: node {wn!r} (Affine): bias holds non-finite values")
                node_bias = node_bias + b
        drive = (v_leak - v_reset + r * w_in * node_bias) / span
        if np.any(drive < -1e-12):
            j = int(np.flatnonzero(drive < -1e-12)[0])
            culprit = "a negative Affine bias" if np.any(node_bias < 0) else "v_leak below v_reset"
            raise SpecError(f"{src}: node {n!r} ({t}): neuron {j} has {culprit} (a constant drive of "
                            f"{drive[j]:.3g} x threshold below reset); the chip's DC input (Idc) can only excite — "
                            f"remove the bias or retrain without it")
        pop["tau_mem"] = scalar_or_list(tau_ms)
        if tau_ss is not None:
            pop["tau_ampa"] = scalar_or_list(tau_ss)
            pop["tau_gaba"] = scalar_or_list(tau_ss)
        if np.any(drive > 0):
            i_tau = np.array([profile.tau_to_current(float(x), "C_mem") for x in tau_ms])
            ispk = np.broadcast_to(np.asarray(overrides_all.get("Ispkthr", defaults["Ispkthr"]), dtype=np.float64), (size,))
            igain = np.broadcast_to(np.asarray(overrides_all.get("Igain_mem", defaults["Igain_mem"]), dtype=np.float64), (size,))
            idc = np.where(drive > 0, drive * ispk * i_tau / igain, profile.analog.I_0)
            pop["Idc"] = scalar_or_list(idc)
            conv_notes.add(f"node {n}: constant drive (v_leak above reset and/or Affine bias) up to "
                           f"{float(np.max(drive)):.3g} x threshold -> Idc = f*Ispkthr*Itau_mem/Igain_mem"
                           + (" (I_0 where f = 0)" if np.any(drive == 0) else ""))
        if t in ("LIF", "LI") and "tau_syn" not in overrides_all:
            conv_notes.add(f"{t} layers have no synaptic filter: their synapses keep the profile's default time constants")
        pops.append(pop)

    replaced_any: set[str] = set()
    if overrides_all:
        for pop in pops:
            over = neuron_overrides(src, overrides_all, pop["size"])
            replaced_any.update(apply_overrides(pop, over))
        assumptions.append(f"options set {', '.join(sorted(overrides_all))} for every population"
                           + (f" (replacing {', '.join(sorted(replaced_any))} from the file)" if replaced_any else ""))

    # ---- projections ----------------------------------------------------------------------------------------
    projections: list[dict] = []
    pos = {n: i for i, n in enumerate(order)}
    pos[inp] = -1

    def conn_key(c):
        if convention == "neurodeploy" and c[3] is not None:
            k = (_meta_json(nodes[c[3]]) or {}).get("index")
            if isinstance(k, int):
                return (k, 0, 0, "")
        return (1 << 30, pos.get(c[0], 1 << 30), pos[c[1]], c[3] or "")

    for p, s, w, wn in sorted((c for c in conns if c[0] in pos and c[1] in pos), key=conn_key):
        mat = np.eye(sizes[s]) if w is None else w
        spec_w = (mat * gain[s][:, None]).T  # [n_source x n_target]
        nd = _meta_json(nodes[wn]) if (wn is not None and convention == "neurodeploy") else None
        proj = {"source": "input" if p == inp else pop_of[p], "target": pop_of[s],
                "synapse": (nd or {}).get("synapse", synapse),
                "weight_scale": weight_scale if weight_scale is not None else (nd or {}).get("weight_scale", ws_default),
                "weight": spec_w.tolist()}
        if proj["synapse"] != "auto" and np.any(spec_w < 0):
            raise SpecError(f"{src}: node {wn or p!r}: negative weights onto a '{proj['synapse']}' synapse; "
                            f"use synapse 'auto' (sign picks AMPA or GABA)")
        if w is None:
            assumptions.append(f"edge {p} -> {s} without a weight node: one-to-one connection of weight 1")
        if (nd or {}).get("form") == "sparse":
            pre, post = np.nonzero(spec_w)
            del proj["weight"]
            proj.update(pre=pre.tolist(), post=post.tolist(), w=spec_w[pre, post].tolist())
        projections.append(proj)

    # ---- outputs ----------------------------------------------------------------------------------------------
    outputs: list[dict] = []
    out_nodes = sorted(n for n in nodes if _ntype(nodes[n]) == "Output" and not succs[n])
    for o in out_nodes:
        for pp in sorted(preds[o]):
            if pp in pop_of and {"population": pop_of[pp]} not in outputs:
                outputs.append({"population": pop_of[pp]})
    if not outputs:
        sinks = [n for n in order if not any(c[0] == n for c in conns)]
        outputs = [{"population": pop_of[n]} for n in sinks]
        assumptions.append(f"no Output node after a neuron layer: reading out {', '.join(pop_of[n] for n in sinks) or 'nothing'}")
    elif len(out_nodes) > 1:
        assumptions.append(f"outputs in the order of the Output nodes' names: {', '.join(out_nodes)}")

    # ---- assemble ---------------------------------------------------------------------------------------------
    name = options.get("name") or (nd_graph or {}).get("name") or default_name
    spec_meta: dict[str, Any] = {}
    if nd_graph is not None and convention == "neurodeploy":
        spec_meta.update(nd_graph.get("metadata") or {})
        if isinstance(nd_graph.get("outputs"), list):
            outputs = nd_graph["outputs"]
    if convention == "neurodeploy":
        assumptions.append("file written by neurodeploy export: weights, synapse types, weight scales and neuron "
                           "currents restored exactly from its metadata")
    else:
        assumptions.append(f"convention {convention!r}: tau in {tau_unit}" +
                           (f" of an export dt of {export_dt} s" if convention in DEFAULT_EXPORT_DT and not options.get("tau_unit") else "") +
                           "; converted to seconds, then to currents through the device profile (tau = U_T*C/(kappa*I))")
        if raw_weights:
            assumptions.append("raw_weights: weights kept as written (transposed to [n_source x n_target]), not normalised")
        else:
            assumptions.append("weights normalised: w = W * r * w_in * dt / tau_mem / (v_threshold - v_reset), the "
                               "membrane rise per spike as a fraction of reset-to-threshold")
        assumptions.append(f"weight current = |w| * weight_scale, weight_scale = "
                           f"{weight_scale if weight_scale is not None else ws_default} A"
                           + (" (default)" if weight_scale is None else " (option)"))
        if synapse == "auto":
            assumptions.append("synapse 'auto': positive weights -> AMPA, negative -> GABA")
        assumptions.append("reset: the DPI resets to rest" + (f"; {RESET_NOTE[convention]}" if convention in RESET_NOTE else ""))
    assumptions.extend(sorted(conv_notes))
    assumptions.append("neuron parameters not derived from the file take the device profile's defaults")
    spec_meta["import"] = {"importer": "nir", **source_info, "reader": reader, "convention": convention,
                           "nodes": {n: pop_of[n] for n in order}, "assumptions": assumptions}
    raw = {"format": "neurodeploy.network/1", "name": str(name), "dt": dt, "n_inputs": n_inputs, "populations": pops,
           "projections": projections, "outputs": outputs, "metadata": spec_meta}
    return finish(raw, src, profile)
