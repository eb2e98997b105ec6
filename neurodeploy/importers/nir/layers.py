"""Step 3b of the NIR import: each neuron node → a population (time constants, weight gain, DC drive).

In NIR's continuous-time semantics (see the package doc) a spike through weight W raises v by
``r·w_in·W·dt/tau_mem``; the layer's *gain* turns W into the network's unitless weight, that rise as a fraction
of reset-to-threshold: ``gain = r·w_in·dt/tau_mem/(v_threshold − v_reset)``. A constant drive
``f = (v_leak − v_reset + r·w_in·b)/(v_threshold − v_reset)`` becomes the DC input whose DPI steady state is the
same fraction of the DPI's effective threshold (:func:`neurodeploy.device.physics.dc_current` of
``EFFECTIVE_THRESHOLD·f``, see :mod:`.calibrate`).

A drive below reset (f < 0, a negative bias or v_leak below v_reset) cannot be made with Idc (it only
excites). It is represented by an *always-on bias source* (:mod:`.bias_source`): one extra neuron that fires
every step, feeding each such neuron through an inhibitory (GABA) synapse of normalised weight f·dt/τ_mem —
an input spiking every step with the bias as its weight, so the mean drive is the LIF's. Error: the DPI's
input cannot go below zero in total, so while inhibition exceeds excitation the membrane rests at zero
instead of sinking towards f (transients after a pause in the input are shorter); a residual ripple of
one event per step through the synaptic filter.

IF and I nodes (no leak) become LIF/LI with the longest membrane time constant the chip allows (the smallest
Itau_mem its bias generator makes, ~0.25 s on the built-in profile), with a warning naming the node; their
input is taken per step (v += r·W per spike, as sinabs and snnTorch write IF).

All problems of the file's layers are reported together.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import NetworkError
from ...device.physics import dc_current, leak_factor, membrane_tau_current, membrane_time_constant
from .._common import scalar_or_list
from .calibrate import EFFECTIVE_THRESHOLD
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
    gain: dict[str, np.ndarray]     # node → per-neuron factor from W to the network's weight
    bias_w: dict[str, np.ndarray] = field(default_factory=dict)  # node → weights from the bias source, [n] ≤ 0
    #: node → the source's own timing per neuron: tau_mem, tau_syn (s, on the chip's time scale; tau_syn None
    #: without a synaptic filter) and drive (constant drive, fraction of reset-to-threshold), for :mod:`.time_scale`
    timing: dict[str, dict] = field(default_factory=dict)


def _lif_params(n: str, node: dict, size: int, s: Settings, notes: set[str]) -> LIFParams:
    src, t = s.src, ntype(node)

    def p(key, default=None):
        a = param(node, key, n, src, default)
        return None if a is None else np.broadcast_to(a, (size,)).astype(np.float64)

    if t in ("IF", "I"):
        return _integrator_params(n, t, p, size, s, notes)
    tau_m, tau_s = (p("tau"), None) if t in ("LIF", "LI") else (p("tau_mem"), p("tau_syn"))
    if tau_m is None:
        raise NetworkError(f"{src}: node {n!r} ({t}) has no membrane time constant")
    r = p("r", 1.0)
    w_in = p("w_in", 1.0) if t in ("CubaLIF", "CubaLI") else np.ones(size)
    v_leak = p("v_leak", 0.0)
    if t in ("LIF", "CubaLIF"):
        v_th = p("v_threshold")
        if v_th is None:
            raise NetworkError(f"{src}: node {n!r} ({t}) has no v_threshold")
        v_reset = p("v_reset", 0.0)
    else:
        v_th, v_reset = np.ones(size), np.zeros(size)
        notes.add(f"{t} (non-spiking) layers become spiking DPI neurons; their weights are normalised "
                  f"with threshold 1 — read them out as spike rates")
    tau_ms = s.tau_seconds(tau_m)
    tau_ss = s.tau_seconds(tau_s) if tau_s is not None else None
    for arr, what in ((tau_ms, "tau_mem"), (tau_ss, "tau_syn")):
        if arr is not None and (np.any(arr <= 0) or not np.all(np.isfinite(arr))):
            raise NetworkError(f"{src}: node {n!r} ({t}): {what} must be positive, got {float(np.min(arr))}")
    return LIFParams(tau_ms, tau_ss, r, w_in, v_leak, v_th, v_reset)


def longest_tau(profile) -> float:
    """The longest membrane time constant the chip makes (s): the smallest Itau_mem of its bias generator."""
    a = profile.analog
    return float(membrane_time_constant(a.C_mem, min_tau_current(profile), a.I_0, a.U_T, a.kappa))


def min_tau_current(profile) -> float:
    """The smallest Itau_mem the chip's bias generator makes (A)."""
    return profile.bias.range(profile.quantity_to_parameter["Itau_mem"])[0]


def membrane_current(tau: np.ndarray, profile, n: str, notes: set[str]) -> np.ndarray:
    """Itau_mem giving the membrane the effective time constant τ (s): the simulator's membrane leaks at
    L/τ_nominal, L = 1 + I_0/Itau_mem (SHUNT at its floor I_0), so Itau_mem = U_T·C/(κ·τ) − I_0; at least the
    smallest current the chip makes (τ then shorter than asked, noted)."""
    a = profile.analog
    i_tau = membrane_tau_current(tau, a.C_mem, a.I_0, a.U_T, a.kappa)
    lo = min_tau_current(profile)
    if np.any(i_tau < lo):
        notes.add(f"node {n}: tau_mem {float(np.max(tau)):.3g} s is longer than the chip's longest "
                  f"({longest_tau(profile):.3g} s); the longest used")
    return np.maximum(i_tau, lo)


def _integrator_params(n: str, t: str, p, size: int, s: Settings, notes: set[str]) -> LIFParams:
    """IF / I (no leak) as LIF / LI with the longest τ the chip allows; v += r·W per input spike kept."""
    tau = np.full(size, s.tau_max)
    r = p("r", 1.0) * tau / s.dt         # NIR gain r·dt/τ per spike → the per-step jump r
    spiking = t == "IF"
    v_th = p("v_threshold", 1.0) if spiking else np.ones(size)
    v_reset = p("v_reset", 0.0) if spiking else np.zeros(size)
    msg = (f"node {n} ({t}): an integrator without leak becomes a {'LIF' if spiking else 'LI'} with the longest "
           f"membrane time constant the chip allows ({s.tau_max:.3g} s); input per step (v += r*W per spike)")
    notes.add(msg)
    warnings.warn(f"{s.src}: {msg}", stacklevel=2)
    return LIFParams(tau, None, r, np.ones(size), np.zeros(size), v_th, v_reset)


def _apply_convention(n: str, t: str, tau_m_file: np.ndarray, lp: LIFParams, s: Settings, notes: set[str]) -> None:
    """Framework conventions that change r or w_in (see the package doc's table)."""
    if s.convention == "norse" and t in ("CubaLIF", "CubaLI"):
        lp.w_in = lp.w_in * lp.tau_syn / s.dt
        notes.add("norse CubaLIF: the synaptic current jumps by W per spike (w_in taken as tau_syn/dt)")
    if s.convention == "rockpool" and t in ("CubaLIF", "CubaLI"):
        beta = np.exp(-s.dt / lp.tau_syn)
        lp.w_in = beta / (1.0 - beta) * lp.tau_mem / (lp.r * s.dt)
        notes.add("rockpool LIFTorch: i += W per spike, i *= beta, v = alpha*v + i each step: a spike raises v by "
                  "W*beta/(1-beta) in total, beta = exp(-dt/tau_syn) (w_in taken so; the file's r and w_in = 1 "
                  "describe a jump of about W)")
    if s.convention == "rockpool" and t in ("LIF", "LI"):
        lp.r = lp.tau_mem / s.dt
        notes.add("rockpool LIFNeuronTorch: v = alpha*v + W*x, a jump of W per spike (r taken as tau/dt; the file's "
                  "r = tau*alpha/dt gives alpha*W)")
    if s.convention == "sinabs" and t == "LI":
        lp.r = 1.0 / -np.expm1(-s.dt / lp.tau_mem)
        notes.add("sinabs ExpLeak (LI, norm_input=False): v = alpha*v + W*x settles at W/(1-alpha); written with r = 1, "
                  "taken as r = 1/(1-exp(-dt/tau)) (about tau/dt)")
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
                raise NetworkError(f"{src}: node {wn!r} (Affine): bias has shape {np.shape(g.nodes[wn]['bias'])}, "
                                f"expected [{size}]")
            if not np.all(np.isfinite(b)):
                raise NetworkError(f"{src}: node {wn!r} (Affine): bias holds non-finite values")
            node_bias = node_bias + b
    return node_bias


def _dc_input(n: str, drive: np.ndarray, lp: LIFParams, size: int, s: Settings, profile, notes: set[str]) -> Any:
    """The population's Idc for a constant drive ``drive`` ≥ 0 (fraction of threshold); None when there is none."""
    if not np.any(drive > 0):
        return None
    defaults = profile.default_currents()
    i_tau = membrane_current(lp.tau_mem, profile, n, set())
    ispk = np.broadcast_to(np.asarray(s.overrides.get("Ispkthr", defaults["Ispkthr"]), dtype=np.float64), (size,))
    igain = np.broadcast_to(np.asarray(s.overrides.get("Igain_mem", defaults["Igain_mem"]), dtype=np.float64), (size,))
    L = leak_factor(i_tau, 0.0, profile.analog.I_0)        # the steady state is (I_gain/I_tau)·I_dc/L
    idc = np.where(drive > 0, L * dc_current(EFFECTIVE_THRESHOLD * drive, ispk, i_tau, igain), profile.analog.I_0)
    notes.add(f"node {n}: constant drive (v_leak above reset and/or Affine bias) up to "
              f"{float(np.max(drive)):.3g} x threshold -> Idc = L*{EFFECTIVE_THRESHOLD}*f*Ispkthr*Itau_mem/Igain_mem, L = 1 + I_0/Itau_mem"
              + (" (I_0 where f = 0)" if np.any(drive == 0) else ""))
    return scalar_or_list(idc)


def _below_reset(n: str, drive: np.ndarray, lp: LIFParams, s: Settings, node_bias: np.ndarray,
                 notes: set[str]) -> np.ndarray | None:
    """Weights from the always-on bias source for a drive below reset (f < 0): f·dt/τ_mem per neuron, the
    normalised weight of an input spiking every step with the bias as its weight; None when no f < 0."""
    low = drive < -1e-12
    if not np.any(low):
        return None
    culprit = "negative Affine bias" if np.any(node_bias < 0) else "v_leak below v_reset"
    notes.add(f"node {n}: {culprit} (a constant drive down to {float(np.min(drive)):.3g} x threshold below reset, "
              f"{int(low.sum())} neuron(s)): fed by the always-on bias source through inhibitory synapses")
    return np.where(low, drive, 0.0) * s.dt / lp.tau_mem


def _convert(g: Graph, n: str, size: int, pop: dict, s: Settings, profile, notes: set[str],
             bias_out: dict[str, np.ndarray], timing: dict[str, dict]) -> np.ndarray:
    """Fill ``pop`` from LIF-type node ``n``; returns the layer's weight gain."""
    node, t = g.nodes[n], ntype(g.nodes[n])
    lp = _lif_params(n, node, size, s, notes)
    if t not in ("IF", "I"):
        tau_m_file = np.broadcast_to(param(node, "tau" if t in ("LIF", "LI") else "tau_mem", n, s.src), (size,))
        _apply_convention(n, t, tau_m_file, lp, s, notes)
    span = lp.v_th - lp.v_reset
    if np.any(span <= 0):
        j = int(np.flatnonzero(span <= 0)[0])
        raise NetworkError(f"{s.src}: node {n!r} ({t}): neuron {j} has v_threshold {lp.v_th[j]} <= v_reset {lp.v_reset[j]}")
    gain = np.ones(size) if s.raw_weights else lp.r * lp.w_in * s.dt / lp.tau_mem / span
    if np.any(lp.v_reset != 0) or np.any(lp.v_leak != lp.v_reset):
        notes.add(f"node {n}: v_reset = {scalar_or_list(lp.v_reset)}, v_leak = {scalar_or_list(lp.v_leak)}; "
                  f"the DPI rests and resets at zero current: levels measured from v_reset")
    node_bias = _bias(g, n, size, s.src)
    drive = (lp.v_leak - lp.v_reset + lp.r * lp.w_in * node_bias) / span
    timing[n] = {"tau_mem": lp.tau_mem, "tau_syn": lp.tau_syn, "drive": drive}
    bias_w = _below_reset(n, drive, lp, s, node_bias, notes)
    if bias_w is not None:
        bias_out[n] = bias_w
    idc = _dc_input(n, np.maximum(drive, 0.0), lp, size, s, profile, notes)
    pop["Itau_mem"] = scalar_or_list(membrane_current(lp.tau_mem, profile, n, notes))
    if lp.tau_syn is not None:
        pop["tau_ampa"] = scalar_or_list(lp.tau_syn)
        pop["tau_gaba"] = scalar_or_list(lp.tau_syn)
    if idc is not None:
        pop["Idc"] = idc
    if t in ("LIF", "LI", "IF", "I") and "tau_syn" not in s.overrides:
        notes.add(f"{t} layers have no synaptic filter: their synapses keep the profile's default time constants")
    return gain


def convert_layers(g: Graph, sizes: dict[str, int], s: Settings, profile, notes: set[str]) -> Layers:
    """A population per neuron node (a neurodeploy export's populations restored from its metadata). Every
    layer is converted before any problem is raised, so that one error lists them all."""
    taken: set[str] = set()
    out = Layers(pops=[], pop_of={}, gain={})
    problems: list[str] = []
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
            try:
                out.gain[n] = _convert(g, n, size, pop, s, profile, notes, out.bias_w, out.timing)
            except NetworkError as e:
                problems.extend(e.lines)
        out.pops.append(pop)
    if problems:
        raise NetworkError(problems[0], lines=problems)
    return out
