"""Step 5 of the NIR import: the assumptions made, in words, and the Network assembled and validated."""

from __future__ import annotations

from typing import Any

from .._common import apply_overrides, finish, neuron_overrides
from .calibrate import calibrate
from .layers import Layers
from .settings import DEFAULT_EXPORT_DT, Settings

RESET_NOTE = {
    "snntorch": "snnTorch's default reset subtracts the threshold",
    "sinabs": "sinabs's default reset (MembraneSubtract) subtracts the threshold",
    "rockpool": "Rockpool's LIF subtracts the threshold",
}


def calibrated(s: Settings) -> bool:
    """Whether the weight scales come from the DPI model (not from an option, raw weights or a neurodeploy file)."""
    return s.weight_scale is None and not s.raw_weights and not s.neurodeploy


def apply_option_overrides(layers: Layers, s: Settings, assumptions: list[str]) -> None:
    """Neuron parameters given as options replace what the file gave, in every population."""
    if not s.overrides:
        return
    replaced: set[str] = set()
    for pop in layers.pops:
        replaced.update(apply_overrides(pop, neuron_overrides(s.src, s.overrides, pop["size"])))
    assumptions.append(f"options set {', '.join(sorted(s.overrides))} for every population"
                       + (f" (replacing {', '.join(sorted(replaced))} from the file)" if replaced else ""))


def convention_assumptions(s: Settings) -> list[str]:
    """What the import assumed about the exporter: units, weight normalisation, weight current, synapses, reset."""
    if s.neurodeploy:
        return ["file written by neurodeploy export: weights, synapse types, weight scales and neuron "
                "currents restored exactly from its metadata"]
    out = [f"convention {s.convention!r}: tau in {s.tau_unit}" +
           (f" of an export dt of {s.export_dt} s" if s.convention in DEFAULT_EXPORT_DT and not s.tau_unit_given else "") +
           "; converted to seconds, then to currents through the device profile (tau = U_T*C/(kappa*I))"]
    if s.raw_weights:
        out.append("raw_weights: weights kept as written (transposed to [n_source x n_target]), not normalised")
    else:
        out.append("weights normalised: w = W * r * w_in * dt / tau_mem / (v_threshold - v_reset), the "
                   "membrane rise per spike as a fraction of reset-to-threshold")
    if calibrated(s):
        out.append("weight current = |w| * weight_scale, weight_scale calibrated on the DPI model per projection: "
                   "a unit weight moves the target membrane by one threshold per event (integrated response, "
                   "I_w = tau_mem*Ispkthr/((Igain_mem/Itau_mem)*q_syn*tau_syn), q_syn the synapse's charge per event)")
    else:
        out.append(f"weight current = |w| * weight_scale, weight_scale = "
                   f"{s.weight_scale if s.weight_scale is not None else s.ws_default} A"
                   + (" (default)" if s.weight_scale is None else " (option)"))
    if s.synapse == "auto":
        out.append("synapse 'auto': positive weights -> AMPA, negative -> GABA")
    out.append("reset: the DPI resets to rest" + (f"; {RESET_NOTE[s.convention]}" if s.convention in RESET_NOTE else ""))
    return out


def assemble(s: Settings, n_inputs: int, layers: Layers, projections: list[dict], outputs: list[dict],
             nd_graph: dict | None, default_name: str, info: dict, assumptions: list[str], notes: set[str], profile):
    """The network dict, with ``metadata.import`` (importer, source, reader, convention, node → population, assumptions),
    validated as a Network."""
    name = s.name or (nd_graph or {}).get("name") or default_name
    network_meta: dict[str, Any] = {}
    if nd_graph is not None and s.neurodeploy:
        network_meta.update(nd_graph.get("metadata") or {})
        if isinstance(nd_graph.get("outputs"), list):
            outputs = nd_graph["outputs"]
    assumptions = assumptions + convention_assumptions(s) + sorted(notes)
    assumptions.append("neuron parameters not derived from the file take the device profile's defaults")
    network_meta["import"] = {"importer": "nir", **info, "convention": s.convention,
                           "nodes": dict(layers.pop_of), "assumptions": assumptions}
    raw = {"format": "neurodeploy.network/1", "name": str(name), "dt": s.dt, "n_inputs": n_inputs, "populations": layers.pops,
           "projections": projections, "outputs": outputs, "metadata": network_meta}
    network = finish(raw, s.src, profile)
    if not calibrated(s) or not projections:
        return network
    assumptions.extend(calibrate(raw, network, profile))
    return finish(raw, s.src, profile)
