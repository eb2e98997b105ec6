"""The rates and the timing an imported network demands, against what the chip's neurons can follow.

A source network steps at ``dt``; a neuron of it fires at most once per step. Its **peak rate** ν (Hz) is an
upper bound, computed at import from the network itself: every input channel fires every step, and each neuron
integrates its excitatory drive per step,

    u_i = Σ_j max(w_ji, 0)·q_j + f_i·(1 − β_i),      β_i = exp(−dt/τ_mem,i)

(w the normalised weight, a spike's rise in thresholds; q_j the source's spikes per step, 1 for an input; f_i the
constant drive in thresholds). From reset, v_n = u·(1 − βⁿ)/(1 − β) reaches threshold after
n_i = ln(1 − (1 − β)/u)/ln β steps (n = 1/u without leak; never when u ≤ 1 − β), so

    q_i = min(1, 1/n_i),    ν_i = q_i/dt,

iterated to a fixed point through recurrent connections (from q = 1, so the bound holds). The chip's neuron
follows a neuron i when (the **time-scale** rule, per neuron):

    refractory period   ν_i·t_ref,i ≤ 1               t_ref = V_th·C_ref/I_ref: one spike per refractory period
    pulse width         ν_in,i·t_pulse,i ≤ 1          ν_in the fastest source feeding i: events closer than
                                                      t_pulse = V_th·C_pulse/I_pulse merge in the pulse extender
    synapse vs membrane τ_syn,chip,i ≤ τ_mem,i        a layer without a synaptic filter (LIF, IF) jumps per input
                                                      spike; the DPI synapse feeding it spreads each event over
                                                      its own τ (the profile's), which must not be the slower one
    shortest τ          τ ≥ τ_min = U_T·C/(κ·I_max)   every τ the source demands (membrane, synapse) is one the
                                                      bias generator's largest current makes

``-O time_scale=K`` (:mod:`.settings`) multiplies every time of the source by K, so each ratio above (chip time
over source time) falls by K: the smallest K that fits is the largest ratio, rounded up to two significant
digits. The demand is stored in the network's ``metadata["import"]["timing"]`` (on the chip's time scale) and
checked by the rule ``time-scale`` (:mod:`neurodeploy.rules.timing`) in ``neurodeploy validate``; the import
warns with the same lines (:class:`TimeScaleWarning`, one per layer).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ...device.physics import pulse_width, time_constant
from .._common import scalar_or_list


class TimeScaleWarning(UserWarning):
    """A layer of an imported network is faster than the chip's neurons can follow (rule ``time-scale``)."""


# ---- the demand, at import ------------------------------------------------------------------------------
def _spikes_per_step(u: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """q = min(1, 1/n), n = ln(1 − (1 − β)/u)/ln β the steps from reset to threshold under drive u per step."""
    q = np.zeros_like(u)
    leaky = beta < 1.0 - 1e-12
    fires = np.where(leaky, u > (1.0 - beta), u > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(leaky, np.log1p(-(1.0 - beta) / np.where(fires, u, 1.0)) / np.log(np.where(leaky, beta, 0.5)),
                     1.0 / np.where(fires, u, 1.0))
    q[fires] = np.minimum(1.0, 1.0 / np.maximum(n[fires], 1e-12))
    return q


def peak_spikes_per_step(projs: list[dict], timing: dict[str, dict], dt: float) -> dict[str, np.ndarray]:
    """Population → q (spikes per step, ≤ 1) at the peak of every source (see the module doc). ``timing`` maps
    population → {"tau_mem", "drive"} per neuron; projections from populations not in it are ignored."""
    beta = {p: np.exp(-dt / np.asarray(t["tau_mem"], dtype=np.float64)) for p, t in timing.items()}
    q = {p: np.ones_like(b) for p, b in beta.items()}
    feeds = [(pr["source"], pr["target"], np.maximum(np.asarray(pr["weight"], dtype=np.float64), 0.0))
             for pr in projs if pr["target"] in timing and (pr["source"] == "input" or pr["source"] in timing)
             and "weight" in pr]
    for _ in range(200):
        u = {p: np.asarray(t["drive"], dtype=np.float64) * (1.0 - beta[p]) for p, t in timing.items()}
        for src, tgt, w in feeds:
            u[tgt] = u[tgt] + (w.sum(axis=0) if src == "input" else q[src] @ w)
        new = {p: _spikes_per_step(np.maximum(u[p], 0.0), beta[p]) for p in timing}
        done = all(np.allclose(new[p], q[p], rtol=1e-9, atol=1e-12) for p in timing)
        q = new
        if done:
            break
    return q


def demand(projs: list[dict], timing: dict[str, dict], dt: float, source_dt: float, k: float) -> dict:
    """``metadata["import"]["timing"]``: per population the peak rate ν and the fastest source ν_in (Hz), the
    source's tau_mem and tau_syn (s, None without a synaptic filter), all on the chip's time scale."""
    q = peak_spikes_per_step(projs, timing, dt)
    fastest = {p: np.zeros(len(np.atleast_1d(t["tau_mem"]))) for p, t in timing.items()}
    for pr in projs:
        src, tgt = pr["source"], pr["target"]
        if tgt not in timing or "weight" not in pr or not (src == "input" or src in timing):
            continue
        w = np.asarray(pr["weight"], dtype=np.float64) != 0
        qs = np.ones(w.shape[0]) if src == "input" else q[src]
        fastest[tgt] = np.maximum(fastest[tgt], np.max(np.where(w, qs[:, None], 0.0), axis=0, initial=0.0))
    pops = {p: {"peak_rate": scalar_or_list(q[p] / dt), "input_rate": scalar_or_list(fastest[p] / dt),
                "tau_mem": scalar_or_list(t["tau_mem"]),
                "tau_syn": None if t.get("tau_syn") is None else scalar_or_list(t["tau_syn"])}
            for p, t in timing.items()}
    return {"time_scale": k, "source_dt": source_dt, "populations": pops}


# ---- the check, against the chip --------------------------------------------------------------------------
def nice_up(x: float) -> float:
    """x rounded up to two significant digits (9.97 → 10, 21.2 → 22, 1.06 → 1.1)."""
    if x <= 0 or not math.isfinite(x):
        return x
    m = 10.0 ** (math.floor(math.log10(x)) - 1)
    return round(math.ceil(x / m - 1e-9) * m, 12)


def _ranges(idx: np.ndarray) -> str:
    """[0, 1, 2, 5] → '0-2, 5' (at most 8 runs, then '…')."""
    runs, start = [], None
    for a, b in zip(idx, list(idx[1:]) + [None]):
        start = a if start is None else start
        if b is None or b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}-{a}")
            start = None
    return ", ".join(runs[:8]) + (", …" if len(runs) > 8 else "")


def _ms(t: float) -> str:
    return f"{t * 1e3:.3g} ms"


def _hz(r: float) -> str:
    return f"{r / 1e3:.3g} kHz" if r >= 1e3 else f"{r:.3g} Hz"


def _chip(network, profile) -> dict[str, np.ndarray]:
    """The chip's t_ref, t_pulse and synaptic τ (AMPA) of every neuron (s)."""
    a = profile.analog
    prm = network.neuron_params(profile)
    return {"t_ref": pulse_width(a.C_ref, prm["Iref"], a.V_th),
            "t_pulse": pulse_width(a.C_pulse, prm["Ipulse"], a.V_th),
            "tau_syn": time_constant(a.C_ampa, prm["Itau_ampa"], a.U_T, a.kappa)}


def _tau_min(profile, quantity: str, cap: str) -> float:
    """The shortest τ the bias generator makes for ``quantity`` (its largest current)."""
    a = profile.analog
    return float(time_constant(getattr(a, cap), profile.bias.range(profile.quantity_to_parameter[quantity])[1],
                               a.U_T, a.kappa))


def _ratios(d: dict, chip: dict, profile, n: int) -> dict[str, np.ndarray]:
    """Per neuron, each limit's ratio (chip time over source time; > 1: the chip cannot follow)."""
    arr = {k: np.broadcast_to(np.asarray(d[k], dtype=np.float64), (n,)) for k in ("peak_rate", "input_rate", "tau_mem")}
    tau_syn = None if d.get("tau_syn") is None else np.broadcast_to(np.asarray(d["tau_syn"], dtype=np.float64), (n,))
    out = {"refractory": arr["peak_rate"] * chip["t_ref"], "pulse": arr["input_rate"] * chip["t_pulse"],
           "synapse": np.zeros(n) if tau_syn is not None else chip["tau_syn"] / arr["tau_mem"],
           "tau": _tau_min(profile, "Itau_mem", "C_mem") / arr["tau_mem"]}
    if tau_syn is not None:
        out["tau"] = np.maximum(out["tau"], _tau_min(profile, "Itau_ampa", "C_ampa") / tau_syn)
    return out


def _why(kind: str, bad: np.ndarray, d: dict, chip: dict, r: np.ndarray, n: int) -> str:
    j = int(bad[np.argmax(r[bad])])
    at = {k: float(np.broadcast_to(np.asarray(d[k], dtype=np.float64), (n,))[j])
          for k in ("peak_rate", "input_rate", "tau_mem")}
    if kind == "refractory":
        return (f"fire up to {_hz(at['peak_rate'])}, the chip's neuron at most {_hz(1 / chip['t_ref'][j])} "
                f"(refractory period {_ms(chip['t_ref'][j])})")
    if kind == "pulse":
        return (f"get input events up to {_hz(at['input_rate'])}, closer than the synaptic pulse width "
                f"{chip['t_pulse'][j] * 1e6:.3g} us")
    if kind == "synapse":
        return (f"have membrane tau down to {_ms(at['tau_mem'])} without a synaptic filter, shorter than the "
                f"chip synapse's tau {_ms(chip['tau_syn'][j])} that feeds them")
    return f"need a time constant {r[j]:.3g}x shorter than the shortest the chip's DPI makes"


def findings(network, profile) -> list[tuple[str, str]]:
    """(population, message) for every imported layer with neurons the chip cannot follow (see the module doc);
    each message names the time_scale that fits the whole network."""
    imp = (getattr(network, "metadata", None) or {}).get("import") or {}
    timing = imp.get("timing") if isinstance(imp, dict) else None
    if not isinstance(timing, dict) or not isinstance(timing.get("populations"), dict):
        return []
    k_now = float(timing.get("time_scale") or 1.0)
    node_of = {p: n for n, p in (imp.get("nodes") or {}).items()}
    found, chip_all, offs = [], _chip(network, profile), network.offsets()
    for pop in network.populations:
        d = timing["populations"].get(pop.name)
        if not isinstance(d, dict):
            continue
        chip = {k: v[offs[pop.name]:offs[pop.name] + pop.size] for k, v in chip_all.items()}
        try:
            ratios = _ratios(d, chip, profile, pop.size)
        except (TypeError, ValueError, KeyError):      # a record edited by hand: nothing to check for this layer
            continue
        worst = np.max(np.stack(list(ratios.values())), axis=0)
        bad = np.flatnonzero(worst > 1.0 + 1e-9)
        if bad.size:
            why = "; ".join(_why(kind, bad[r[bad] > 1.0 + 1e-9], d, chip, r, pop.size)
                            for kind, r in ratios.items() if np.any(r[bad] > 1.0 + 1e-9))
            found.append((pop, bad, why, k_now * float(worst.max())))
    k_net = nice_up(max((f[3] for f in found), default=1.0))
    out = []
    for pop, bad, why, k in found:
        layer = f"layer {node_of[pop.name]} (population {pop.name})" if pop.name in node_of else f"population {pop.name}"
        alone = f"; this layer alone needs {nice_up(k):g}" if nice_up(k) < k_net else ""
        out.append((pop.name, f"{layer}: neurons {_ranges(bad)} ({bad.size} of {pop.size}) {why} — the chip cannot "
                              f"follow them at time scale {k_now:g}: import with -O time_scale={k_net:g} (every time "
                              f"constant and the input timing {k_net:g}x slower{alone})"))
    return out


def warn(network, profile, src: str) -> None:
    """The import's warning: one line per layer the chip cannot follow (rule ``time-scale``)."""
    for _, msg in findings(network, profile):
        warnings.warn(f"{src}: [time-scale] {msg}", TimeScaleWarning, stacklevel=3)
