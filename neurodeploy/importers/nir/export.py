"""Network → NIR graph (``neurodeploy export model.json -o model.nir``).

The graph is ``Input → Affine → CubaLIF`` per projection (recurrent projections are Affine nodes from a
population back to itself), one ``CubaLIF`` per population, one ``Output`` per read-out population. It is an
APPROXIMATION of the DPI neuron, stated in the graph's metadata:

* ``tau_mem`` from ``Itau_mem`` and ``tau_syn`` from ``Itau_ampa`` through the device profile
  (τ = U_T·C/(κ·I)); GABA/NMDA/SHUNT time constants, the DPI gain currents, the refractory period, the pulse
  extenders, spike-frequency adaptation and the NMDA gate are not represented;
* ``v_threshold = 1``, ``v_reset = v_leak = 0``, ``w_in = 1``, ``r = tau_mem / dt``: with NIR's input spikes of
  one step, a spike through weight w raises v by w — the network's unitless weight is that rise as a fraction of
  the threshold (how neurodeploy's NIR import reads weights too);
* a DC input ``Idc`` becomes ``v_leak = Idc·Igain_mem/(Ispkthr·Itau_mem)`` (the DPI steady state as a fraction
  of threshold);
* the Affine weight is the network's weight matrix transposed ([n_target × n_source]), bias 0;
* synaptic delays (s) become a ``Delay`` node on the projection's path — before the Affine when they are one
  per source channel, after it when one per target neuron; per-synapse delays that are neither are refused
  (NIR's Delay delays whole channels).

For a lossless round trip, each node's metadata holds (as JSON under ``neurodeploy``) what NIR cannot say:
the population's currents, the projection's synapse type and weight scale, and the graph's name, outputs and
metadata. ``neurodeploy``'s own import restores them exactly; other readers see a plain CubaLIF network.
Files are written without HDF5 timestamps, so the same network gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import NetworkError
from ...fileio import atomic_write_bytes
from ...device.physics import dc_fraction

APPROXIMATION = (
    "CubaLIF approximation of the Dynap-SE2 DPI neuron: tau_mem from Itau_mem, tau_syn from Itau_ampa "
    "(tau = U_T*C/(kappa*I) with the profile's constants); v_threshold=1, v_reset=v_leak=0 (v_leak>0 encodes Idc), "
    "w_in=1, r=tau_mem/dt so a spike of weight w raises v by w thresholds; weights unitless, current = |w|*weight_scale; "
    "not represented: DPI gains, GABA/NMDA/SHUNT time constants, refractory period, pulse widths, adaptation, NMDA gate")


def _node_names(network) -> tuple[dict[str, str], list[str], str]:
    used = {"input"}
    pop_nodes = {}
    for p in network.populations:
        n = p.name if p.name not in used else f"pop_{p.name}"
        pop_nodes[p.name] = n
        used.add(n)
    proj_nodes = []
    for k, pr in enumerate(network.projections):
        n = f"w{k}_{pr.source}_to_{pr.target}".replace(".", "_")
        while n in used:
            n += "_"
        proj_nodes.append(n)
        used.add(n)
    out = "output"
    while out in used:
        out += "_"
    return pop_nodes, proj_nodes, out


def network_to_nir(network, profile=None):
    """Build the ``nir.NIRGraph`` for a Network (see the module doc for the approximation)."""
    import nir

    if profile is None:
        from ...device.profile import load_profile

        profile = load_profile("dynapse2")
    dt = float(network.dt)
    params = network.neuron_params(profile)
    offs = network.offsets()
    pop_nodes, proj_nodes, out_name = _node_names(network)
    nodes: dict = {"input": nir.Input(input_type=np.array([network.n_inputs]))}
    edges: list[tuple[str, str]] = []
    for p in network.populations:
        sl = slice(offs[p.name], offs[p.name] + p.size)
        i_tau = params["Itau_mem"][sl]
        tau_mem = np.array([profile.current_to_tau(float(i), "C_mem") for i in i_tau])
        tau_syn = np.array([profile.current_to_tau(float(i), "C_ampa") for i in params["Itau_ampa"][sl]])
        v_leak = np.zeros(p.size)
        if p.Idc is not None:
            v_leak = dc_fraction(params["Idc"][sl], params["Ispkthr"][sl], i_tau, params["Igain_mem"][sl])
        given = p.model_dump(mode="json", exclude_none=True)
        nodes[pop_nodes[p.name]] = nir.CubaLIF(
            tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=v_leak, v_threshold=np.ones(p.size),
            v_reset=np.zeros(p.size), w_in=np.ones(p.size),
            metadata={"neurodeploy": json.dumps(given, separators=(",", ":"))})
    for k, pr in enumerate(network.projections):
        w = network.dense_weight(k).T.copy()  # [n_target x n_source]
        info = {"source": pr.source, "target": pr.target, "synapse": pr.synapse, "weight_scale": pr.weight_scale,
                "form": "sparse" if pr.pre is not None else "dense", "index": k}
        nodes[proj_nodes[k]] = nir.Affine(weight=w, bias=np.zeros(w.shape[0]),
                                          metadata={"neurodeploy": json.dumps(info, separators=(",", ":"))})
        src = "input" if pr.source == "input" else pop_nodes[pr.source]
        edges += _delayed_edges(network, k, src, proj_nodes[k], pop_nodes[pr.target], nodes)
    out_pops = list(dict.fromkeys(o.population for o in network.outputs))
    for i, pname in enumerate(out_pops):
        name = out_name if len(out_pops) == 1 else f"{out_name}_{i}_{pop_nodes[pname]}".replace(".", "_")
        nodes[name] = nir.Output(output_type=np.array([network.population(pname).size]))
        edges.append((pop_nodes[pname], name))
    graph_info = {"format": network.format, "name": network.name, "n_inputs": network.n_inputs,
                  "populations": [pop_nodes[p.name] for p in network.populations],
                  "outputs": [o.model_dump(mode="json", exclude_none=True) for o in network.outputs],
                  "metadata": {k: v for k, v in network.metadata.items() if k != "import"},
                  "profile": {"name": profile.name, "sha256": profile.sha256}}
    meta = {"dt": dt, "source": "neurodeploy export", "approximation": APPROXIMATION,
            "neurodeploy": json.dumps(graph_info, separators=(",", ":"), sort_keys=False)}
    # type_check=False: nir's inference would add Input/Output nodes to layers without input or output
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _delayed_edges(network, k: int, src: str, affine: str, target: str, nodes: dict) -> list[tuple[str, str]]:
    """The edges source → Affine → target of projection k, with a ``Delay`` node (s) where it has delays: NIR's
    Delay delays channels, so the projection's delays must be one per source channel (a Delay before the Affine)
    or one per target neuron (after it); other per-synapse delays are refused, never dropped."""
    import nir

    d = network.projection_delay(k)
    if d is None or not np.any(d > 0):
        return [(src, affine), (affine, target)]
    pre, post, _ = network.projection_coo(k)
    pr = network.projections[k]
    for axis, idx, n in ((0, pre, network.source_size(pr.source)), (1, post, network.population(pr.target).size)):
        per = np.zeros(n)
        per[idx] = d
        if np.allclose(per[idx], d, rtol=0, atol=1e-12):
            name = f"{affine}_delay"
            while name in nodes:
                name += "_"
            nodes[name] = nir.Delay(delay=per)
            return [(src, name), (name, affine), (affine, target)] if axis == 0 else \
                   [(src, affine), (affine, name), (name, target)]
    raise NetworkError(f"projection {k} ({pr.source}→{pr.target}): its delays differ per synapse, but NIR's Delay node "
                    f"delays whole channels (one delay per source channel or per target neuron); export the model "
                    f"without delays or with delays shared per source or per target")


def _write_h5(f, graph) -> None:
    """nir.write's layout, without timestamps (deterministic bytes)."""
    import h5py

    def rec(group, d: dict):
        for k, v in d.items():
            if k == "metadata":
                if v:
                    rec(group.create_group(k), v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=h5py.string_dtype(), track_times=False)
            elif isinstance(v, dict):
                rec(group.create_group(str(k)), v)
            else:
                arr = np.asarray(v)
                if arr.dtype.kind == "U":
                    arr = arr.astype(object)
                    group.create_dataset(k, data=arr, dtype=h5py.string_dtype(), track_times=False)
                elif arr.ndim == 0:
                    group.create_dataset(k, data=arr, track_times=False)
                else:
                    group.create_dataset(k, data=arr, compression="gzip", track_times=False)

    import nir

    f.create_dataset("version", data=str(getattr(nir, "version", getattr(nir, "__version__", "1.0.8"))),
                     dtype=h5py.string_dtype(), track_times=False)
    rec(f.create_group("node"), graph.to_dict())


def export_nir(network, path: str | Path, profile=None) -> Path:
    """Write ``network`` as a NIR file (atomically); returns the path."""
    import io

    import h5py

    path = Path(path)
    if path.suffix.lower() != ".nir":
        raise NetworkError(f"{path}: the NIR export writes a .nir file")
    graph = network_to_nir(network, profile)
    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=False) as f:
        _write_h5(f, graph)
    return atomic_write_bytes(path, buf.getvalue())
