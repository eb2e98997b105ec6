"""Step 3b of the NIR import: each neuron node → a population (time constants, weight gain, DC drive).

In NIR's continuous-time semantics (see the package doc) a spike through weight W raises v by
``r·w_in·W·dt/tau_mem``; the layer's *gain* turns W into the spec's unitless weight, that rise as a fraction
of reset-to-threshold: ``gain = r·w_in·dt/tau_mem/(v_threshold − v_reset)``. A constant drive
``f = (v_leak − v_reset + r·w_in·b)/(v_threshold − v_reset)`` becomes the DC input whose DPI steady state is the
same fraction of threshold (:func:`neurodeploy.sim.physics.dc_current`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import SpecError
from ...sim.physics import dc_current
from .._common import scalar_or_list
from .graph import Graph
from .nodes import ntype, param, population_name, squeeze
from .read import meta_json
from .settings import Settings


@dataclass
class LIFParams:
    """One layer's parameters, per neuron, in seconds (time constants) and the file's units (the rest)."""

    tau_mem: np.ndarray
    tau_syn: np.ndarray | None
    r: np.ndarray
    w_in: np.ndarray
    v_leak: np.ndarray
    v_th: np.ndarray
    v_reset: np.ndarray


@dataclass
class Layers:
    pops: list[dict]                # population dicts, in order
    pop_of: dict[str, str]          # node → population name
    gain: dict[str, np.ndarray]     # node → per-neuron factor from W to the spec's weight


def _lif_params(n: str, node: dict, size: int, s: Settings, notes: set[str]) -> LIFParams:
    src, t = s.src, ntype(node)

    def p(key, default=None):
        a = param(node, key, n, src, default)
        return None if a is None else np.broadcast_to(a, (size,)).astype(np.float64)

    tau_m, tau_s = (p("tau"), None) if t in ("LIF", "LI") else (p("tau_mem"), p("tau_syn"))
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
        notes.add(f"{t} (non-spiking) layers become spiking DPI neurons; their weights are normalised "
                  f"with threshold 1 — read them out as spike rates")
    tau_ms = s.tau_seconds(tau_m)
    tau_ss = s.tau_seconds(tau_s) if tau_s is not None else None
    for arr, what in ((tau_ms, "tau_mem"), (tau_ss, "tau_syn")):
        if arr is not None and (np.any(arr <= 0) or not np.all(np.isfinite(arr))):
            raise SpecError(f"{src}: node {n!r} ({t}): {what} must be positive, got {float(np.min(arr))}")
    return LIFParams(tau_ms, tau_ss, r, w_in, v_leak, v_th, v_reset)


def _apply_convention(n: str, t: str, tau_m_file: np.ndarray, lp: LIFParams, s: Settings, notes: set[str]) -> None:
    """Framework conventions that change r or w_in (see the package doc's table)."""
    if s.convention == "norse" and t in ("CubaLIF", "CubaLI"):
        lp.w_in = lp.w_in * lp.tau_syn / s.dt
        notes.add("norse CubaLIF: the synaptic current jumps by W per spike (w_in taken as tau_syn/dt)")
    if s.convention == "snntorch" and t in ("LIF", "CubaLIF") \
            and np.any(np.abs(tau_m_file / lp.r - s.export_dt) > 0.02 * s.export_dt):
        notes.add(f"node {n}: r != tau/{s.export_dt} — not what snnTorch writes; check the convention")


def _bias(g: Graph, n: str, size: int, src: str) -> np.ndarray:
    """The sum of the Affine biases feeding node ``n`` (per neuron)."""
    node_bias = np.zeros(size)
    for _, s, _, wn in g.conns:
        if s == n and wn is not None and ntype(g.nodes[wn]) == "Affine" and "bias" in g.nodes[wn]:
            b = squeeze(g.nodes[wn]["bias"])
            if b.ndim > 1 or (b.ndim == 1 and b.shape[0] != size):
                raise SpecError(f"{src}: node {wn!r} (Affine): bias has shape {np.shape(g.nodes[wn]['bias'])}, "
                                f"expected [{size}]")
            if not np.all(np.isfinite(b)):
                raise SpecError(f"{src}: node {wn!r} (Affine): bias holds non-finite values")
            node_bias = node_bias + b
    return node_bias


def _dc_input(n: str, t: str, drive: np.ndarray, node_bias: np.ndarray, lp: LIFParams, size: int, s: Settings,
              profile, notes: set[str]) -> Any:
    """The population's Idc for a constant drive ``drive`` (fraction of threshold); None when there is none."""
    if np.any(drive < -1e-12):
        j = int(np.flatnonzero(drive < -1e-12)[0])
        culprit = "a negative Affine bias" if np.any(node_bias < 0) else "v_leak below v_reset"
        raise SpecError(f"{s.src}: node {n!r} ({t}): neuron {j} has {culprit} (a constant drive of "
                        f"{drive[j]:.3g} x threshold below reset); the chip's DC input (Idc) can only excite — "
                        f"remove the bias or retrain without it")
    if not np.any(drive > 0):
        return None
    defaults = profile.default_currents()
    i_tau = np.array([profile.tau_to_current(float(x), "C_mem") for x in lp.tau_mem])
    ispk = np.broadcast_to(np.asarray(s.overrides.get("Ispkthr", defaults["Ispkthr"]), dtype=np.float64), (size,))
    igain = np.broadcast_to(np.asarray(s.overrides.get("Igain_mem", defaults["Igain_mem"]), dtype=np.float64), (size,))
    idc = np.where(drive > 0, dc_current(drive, ispk, i_tau, igain), profile.analog.I_0)
    notes.add(f"node {n}: constant drive (v_leak above reset and/or Affine bias) up to "
              f"{float(np.max(drive)):.3g} x threshold -> Idc = f*Ispkthr*Itau_mem/Igain_mem"
              + (" (I_0 where f = 0)" if np.any(drive == 0) else ""))
    return scalar_or_list(idc)


def _convert(g: Graph, n: str, size: int, pop: dict, s: Settings, profile, notes: set[str]) -> np.ndarray:
    """Fill ``pop`` from LIF-type node ``n``; returns the layer's weight gain."""
    node, t = g.nodes[n], ntype(g.nodes[n])
    lp = _lif_params(n, node, size, s, notes)
    tau_m_file = np.broadcast_to(param(node, "tau" if t in ("LIF", "LI") else "tau_mem", n, s.src), (size,))
    _apply_convention(n, t, tau_m_file, lp, s, notes)
    span = lp.v_th - lp.v_reset
    if np.any(span <= 0):
        j = int(np.flatnonzero(span <= 0)[0])
        raise SpecError(f"{s.src}: node {n!r} ({t}): neuron {j} has v_threshold {lp.v_th[j]} <= v_reset {lp.v_reset[j]}")
    gain = np.ones(size) if s.raw_weights else lp.r * lp.w_in * s.dt / lp.tau_mem / span
    if np.any(lp.v_reset != 0) or np.any(lp.v_leak != lp.v_reset):
        notes.add(f"node {n}: v_reset = {scalar_or_list(lp.v_reset)}, v_leak = {scalar_or_list(lp.v_leak)}; "
                  f"the DPI rests and resets at zero current: levels measured from v_reset")
    node_bias = _bias(g, n, size, s.src)
    drive = (lp.v_leak - lp.v_reset + lp.r * lp.w_in * node_bias) / span
    idc = _dc_input(n, t, drive, node_bias, lp, size, s, profile, notes)
    pop["tau_mem"] = scalar_or_list(lp.tau_mem)
    if lp.tau_syn is not None:
        pop["tau_ampa"] = scalar_or_list(lp.tau_syn)
        pop["tau_gaba"] = scalar_or_list(lp.tau_syn)
    if idc is not None:
        pop["Idc"] = idc
    if t in ("LIF", "LI") and "tau_syn" not in s.overrides:
        notes.add(f"{t} layers have no synaptic filter: their synapses keep the profile's default time constants")
    return gain


def convert_layers(g: Graph, sizes: dict[str, int], s: Settings, profile, notes: set[str]) -> Layers:
    """A population per neuron node (a neurodeploy export's populations restored from its metadata)."""
    taken: set[str] = set()
    out = Layers(pops=[], pop_of={}, gain={})
    for n in g.order:
        size = sizes[n]
        nd = meta_json(g.nodes[n]) if s.neurodeploy else None
        pname = nd["name"] if nd and isinstance(nd.get("name"), str) and nd["name"] not in taken \
            else population_name(n, taken)
        taken.add(pname)
        out.pop_of[n] = pname
        pop: dict[str, Any] = {"name": pname, "size": size}
        if nd is not None:
            pop.update({k: v for k, v in nd.items() if k not in ("name", "size")})
            out.gain[n] = np.ones(size)
        else:
            out.gain[n] = _convert(g, n, size, pop, s, profile, notes)
        out.pops.append(pop)
    return out
