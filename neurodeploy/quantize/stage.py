"""The quantize stage: NetworkSpec → QuantizedNetwork (core assignment, bias codes, weights).

1. Synapses: every projection's non-zero weights, with target weight current
   t = |w|·weight_scale (A) and dendrite (``auto``: w > 0 → AMPA, w < 0 → GABA).
2. Fan-in: a neuron has 64 CAM entries. More incoming synapses is an error (rule ``fan-in``)
   naming the neuron, its fan-in and the projections, unless ``prune``: keep the 64 largest
   |t| and report what was dropped.
3. Core assignment (:mod:`.grouping`): neurons sharing a core share every bias.
4. Bias codes per core: each parameter's current → nearest (coarse, fine) code; unused
   parameters keep the profile default. On a core where no neuron uses NMDA (no NMDA synapse,
   no NMDA gate), NMDA becomes a second excitatory weight scale: I_tau_nmda is set to the AMPA
   time constant (I_tau_nmda = I_tau_ampa·C_nmda/C_ampa) and I_gain_nmda to give the scale g.
5. Weights per core (:mod:`.weights`): base weights on the DAC grid, 4-bit masks, spare entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..log import progress

from .. import __version__
from ..config.model import Code, ProfileRef, mask_to_str
from ..errors import MappingError
from ..profile import NEURON_QUANTITIES
from . import grouping
from .model import LogicalCoreRecord, PopulationRef, QuantizedNetwork, SynapseTable
from .weights import Alphabet, CoreProblem, quantize_core, rel_rms

DENDRITE_INDEX = {"ampa": 0, "nmda": 1, "gaba": 2, "shunt": 3}
DENDRITE_NAME = ("ampa", "nmda", "gaba", "shunt")


@dataclass
class Synapses:
    """All synapses of a network as parallel arrays."""

    src: np.ndarray      # global source: 0..n_in−1 inputs, n_in + j neuron j
    dst: np.ndarray      # global neuron index
    target: np.ndarray   # weight current |w|·weight_scale (A)
    dend: np.ndarray     # 0 ampa, 1 nmda, 2 gaba, 3 shunt
    proj: np.ndarray     # projection index

    def take(self, sel) -> "Synapses":
        return Synapses(self.src[sel], self.dst[sel], self.target[sel], self.dend[sel], self.proj[sel])


def synapses_of(spec) -> Synapses:
    off = spec.offsets()
    parts = []
    for k, pr in enumerate(spec.projections):
        pre, post, w = spec.projection_coo(k)
        src = pre if pr.source == "input" else pre + spec.n_inputs + off[pr.source]
        dst = post + off[pr.target]
        if pr.synapse == "auto":
            dend = np.where(w > 0, 0, 2)
        else:
            dend = np.full(w.shape, DENDRITE_INDEX[pr.synapse])
        parts.append((src, dst, np.abs(w) * pr.weight_scale, dend, np.full(w.shape, k)))
    if not parts:
        z = np.zeros(0, np.int64)
        return Synapses(z, z, np.zeros(0), z, z)
    return Synapses(*(np.concatenate([p[i] for p in parts]).astype(t)
                      for i, t in enumerate((np.int64, np.int64, np.float64, np.int64, np.int64))))


def _fan_in(spec, syn: Synapses, cam: int, prune: bool, report: dict) -> Synapses:
    fan = np.bincount(syn.dst, minlength=spec.n_neurons)
    over = np.flatnonzero(fan > cam)
    if over.size == 0:
        return syn
    if not prune:
        n = int(over[0])
        per_proj = np.bincount(syn.proj[syn.dst == n], minlength=len(spec.projections))
        parts = ", ".join(f"projection {k} ({spec.projections[k].source}→{spec.projections[k].target}): {c}"
                          for k, c in enumerate(per_proj) if c)
        more = f" ({over.size - 1} more neurons also exceed it)" if over.size > 1 else ""
        raise MappingError(
            f"[fan-in] neuron {spec.neuron_name(n)} has {fan[n]} incoming synapses ({parts}) but a neuron has {cam} CAM entries"
            f"{more}; reduce its fan-in or pass --prune to keep the {cam} largest |w|", rule="fan-in")
    order = np.lexsort((-syn.target, syn.dst))
    d = syn.dst[order]
    rank = np.arange(d.size) - np.searchsorted(d, d, side="left")
    keep = np.zeros(d.size, bool)
    keep[order] = rank < cam
    dropped = syn.take(~keep)
    report["pruned"] = {
        "synapses": int(dropped.target.size),
        "neurons": [spec.neuron_name(int(n)) for n in over[:20]] + (["..."] if over.size > 20 else []),
        "weight_mass_dropped": float(dropped.target.sum() / max(syn.target.sum(), 1e-300)),
    }
    return syn.take(keep)


def _check_weight_range(spec, syn: Synapses, w_max: float, spares: bool) -> None:
    """Rule ``weight-range``: a synapse's current |w|·weight_scale must be reachable by one CAM entry (the
    sum of the core's four base weights at their largest DAC current) — or two with a spare entry."""
    reach = w_max * (8.0 if spares else 4.0)
    bad = np.flatnonzero(~np.isfinite(syn.target) | (syn.target > reach))
    if bad.size == 0:
        return
    i = int(bad[np.argmax(np.where(np.isfinite(syn.target[bad]), syn.target[bad], np.inf))])
    pr = spec.projections[int(syn.proj[i])]
    src = (f"input {int(syn.src[i])}" if syn.src[i] < spec.n_inputs
           else spec.neuron_name(int(syn.src[i]) - spec.n_inputs))
    raise MappingError(
        f"[weight-range] projection {int(syn.proj[i])} ({pr.source}→{pr.target}), synapse {src} → "
        f"{spec.neuron_name(int(syn.dst[i]))}: weight current {syn.target[i]:.3g} A exceeds the {reach:.3g} A one "
        f"{'pair of CAM entries' if spares else 'CAM entry'} can carry (4 base weights of at most {w_max:.3g} A); "
        f"{bad.size} synapse(s) affected — lower |w| or weight_scale", rule="weight-range")


def _code_of(profile, pname: str, current: float) -> tuple[int, int]:
    c = profile.bias.to_code(pname, current, clip=True)
    return int(c.coarse), int(c.fine)


def quantize_network(spec, profile, *, max_chips: int | None = None, prune: bool = False, strict: bool = False,
                     seed: int = 0, use_spares: bool = True, use_nmda: bool = True, source_sha256: str | None = None
                     ) -> QuantizedNetwork:
    """Core assignment, bias codes and weight quantization of a NetworkSpec (see module doc)."""
    geo = profile.geometry
    n_chips = max_chips or geo.max_chips
    if n_chips > geo.max_chips:
        raise MappingError(f"[chips] --chips {n_chips} exceeds the board's {geo.max_chips} chips (profile {profile.name}); "
                           f"use at most {geo.max_chips} or a profile with a larger max_chips", rule="chips")
    report: dict = {}
    N = spec.n_neurons
    syn = _fan_in(spec, synapses_of(spec), geo.cam_entries_per_neuron, prune, report)
    wparams = [profile.quantity_to_parameter[f"Iw_{b}"] for b in range(4)]
    grid = np.unique(profile.bias.all_codes(wparams[0]))
    _check_weight_range(spec, syn, float(grid.max()), use_spares)
    dend_in = np.zeros((N, 4), bool)
    dend_in[syn.dst, syn.dend] = True
    params = spec.neuron_params(profile)
    rel = grouping.relevance(spec, dend_in)
    wscale = np.zeros(N)
    np.add.at(wscale, syn.dst, syn.target ** 2)
    cnt = np.bincount(syn.dst, minlength=N)
    wscale = np.sqrt(wscale / np.maximum(cnt, 1))
    cores = grouping.assign_cores(spec, profile, params, rel, wscale, n_chips * geo.cores_per_chip,
                                  strict=strict, seed=seed)

    off = spec.offsets()
    flags = {"latch_so_dc": [], "latch_so_adaptation": [], "latch_denm_nmda": []}
    for p in spec.populations:
        idx = list(range(off[p.name], off[p.name] + p.size))
        if p.dc_enabled:
            flags["latch_so_dc"] += idx
        if p.adaptation:
            flags["latch_so_adaptation"] += idx
        if p.nmda_gate:
            flags["latch_denm_nmda"] += idx
    gate = np.zeros(N, bool)
    gate[flags["latch_denm_nmda"]] = True

    core_of = np.full(N, -1, np.int64)
    local = np.zeros(N, np.int64)
    for ci, c in enumerate(cores):
        core_of[c.neurons] = ci
        local[c.neurons] = np.arange(c.neurons.size)
    syn_core = core_of[syn.dst]
    fan = np.bincount(syn.dst, minlength=N)
    budget = np.maximum(geo.cam_entries_per_neuron - fan, 0) if use_spares else np.zeros(N, np.int64)

    entries = np.empty(syn.target.size, dtype=object)
    value = np.zeros(syn.target.size)
    records = []
    core_reports = []
    nmda_p = (profile.quantity_to_parameter["Itau_nmda"], profile.quantity_to_parameter["Igain_nmda"])
    for ci, c in progress(enumerate(cores), total=len(cores), desc="quantizing cores"):
        codes: dict[str, tuple[int, int]] = {}
        for q in NEURON_QUANTITIES:
            pname = profile.quantity_to_parameter[q]
            codes[pname] = _code_of(profile, pname, c.currents[q]) if q in c.currents else tuple(profile.parameters[pname].default)
        sel = np.flatnonzero(syn_core == ci)
        members_nmda = bool(np.any(dend_in[c.neurons, 1]) or np.any(gate[c.neurons]))
        scalable_here = use_nmda and not members_nmda and bool(np.any(syn.dend[sel] == 0))
        g_cands: list[float] = []
        g_codes: dict[float, tuple[tuple[int, int], tuple[int, int]]] = {}
        if scalable_here:
            cur = lambda pn: float(profile.bias.to_current(pn, *codes[pn]))  # noqa: E731
            tau_a, gain_a = profile.quantity_to_parameter["Itau_ampa"], profile.quantity_to_parameter["Igain_ampa"]
            r_ampa = cur(gain_a) / cur(tau_a)
            tau_code = _code_of(profile, nmda_p[0], cur(tau_a) * profile.analog.C_nmda / profile.analog.C_ampa)
            itau_n = float(profile.bias.to_current(nmda_p[0], *tau_code))
            for g in (1 / 16, 1 / 8, 1 / 4, 1 / 2):
                gain_code = _code_of(profile, nmda_p[1], g * r_ampa * itau_n)
                g_real = float(profile.bias.to_current(nmda_p[1], *gain_code)) / itau_n / r_ampa
                g_cands.append(g_real)
                g_codes[g_real] = (tau_code, gain_code)
        prob = CoreProblem(syn.target[sel], (syn.dend[sel] == 0) & scalable_here, local[syn.dst[sel]],
                           budget[c.neurons])
        res = quantize_core(prob, grid, g_candidates=tuple(g_cands), seed=seed + ci, use_nmda=scalable_here)
        for b, pname in enumerate(wparams):
            codes[pname] = _code_of(profile, pname, float(res.W[b]))
        if res.g is not None:
            codes[nmda_p[0]], codes[nmda_p[1]] = g_codes[res.g]
        a = res.assignment
        ent, n_spare, n_zero, n_nmda = _entry_strings(a, syn.dend[sel], prob.scalable, res.g)
        entries[sel] = ent
        value[sel] = a.value
        records.append(LogicalCoreRecord(
            id=ci, neurons=[int(x) for x in c.neurons],
            parameters={k: Code(coarse=v[0], fine=v[1]) for k, v in sorted(codes.items(), key=lambda kv: list(profile.parameters).index(kv[0]))},
            nmda_scale=res.g, clustered=c.clustered, weight_error=res.error, uniform_grid_error=res.uniform_error))
        core_reports.append({"core": ci, "neurons": int(c.neurons.size), "synapses": int(sel.size),
                             "weight_error": round(res.error, 6), "uniform_grid_error": round(res.uniform_error, 6),
                             "spare_entries_used": n_spare, "nmda_scale_entries": n_nmda, "quantized_to_zero": n_zero,
                             "nmda_scale": res.g})

    report["weights"] = {
        "relative_rms_error": round(rel_rms(value, syn.target), 6),
        "uniform_grid_error": round(_overall_uniform(core_reports, syn, syn_core), 6),
        "synapses": int(syn.target.size),
        "spare_entries_used": sum(r["spare_entries_used"] for r in core_reports),
        "nmda_scale_entries": sum(r["nmda_scale_entries"] for r in core_reports),
        "quantized_to_zero": sum(r["quantized_to_zero"] for r in core_reports),
        "per_core": core_reports,
    }
    report["biases"] = _bias_report(spec, profile, params, rel, cores, records)
    report["clustered_cores"] = [r.id for r in records if r.clustered]
    qn = QuantizedNetwork(
        name=spec.name, source_model_sha256=source_sha256 or spec.sha256(),
        profile=ProfileRef(name=profile.name, sha256=profile.sha256), seed=seed, n_inputs=spec.n_inputs,
        populations=[PopulationRef(name=p.name, size=p.size) for p in spec.populations],
        outputs=[int(i) for i in spec.output_indices()],
        cores=records,
        synapses=SynapseTable(src=syn.src.tolist(), dst=syn.dst.tolist(), entries=entries.tolist(),
                              target=syn.target.tolist(), value=value.tolist()),
        metadata={**spec.metadata, "dt": spec.dt, "neurodeploy_version": __version__},
        report=report, **flags)
    return qn


def _option_strings(own: str, g: float | None) -> np.ndarray:
    """Entry string ("dendrite:mask", "" for mask 0000) of every option of an alphabet."""
    alpha = Alphabet.make(g)
    return np.array(["" if m == 0 else f"{'nmda' if k == 1 else own}:{mask_to_str(int(m))}"
                     for k, m in zip(alpha.kinds, alpha.masks)], dtype=object)


def _entry_strings(a, dend: np.ndarray, scalable: np.ndarray, g: float | None):
    """Vectorised entry strings of a core's synapses; returns (strings, #spares, #zero, #NMDA-scale entries)."""
    out = np.empty(dend.size, dtype=object)
    n_nmda = 0
    for d in range(4):
        for sc in (False, True):
            sel = (dend == d) & (scalable == sc)
            if not np.any(sel):
                continue
            table = _option_strings(DENDRITE_NAME[d], g if sc else None)
            f = table[a.first[sel]]
            sec = np.where(a.second[sel] >= 0, table[np.maximum(a.second[sel], 0)], "")
            out[sel] = [x + "+" + y if x and y else (x or y) for x, y in zip(f, sec)]
            if sc:
                kinds = Alphabet.make(g).kinds
                n_nmda += int(np.sum(kinds[a.first[sel]] == 1) + np.sum((a.second[sel] >= 0) & (kinds[np.maximum(a.second[sel], 0)] == 1)))
    n_spare = int(sum(1 for e in out if "+" in e))
    n_zero = int(sum(1 for e in out if not e))
    return out, n_spare, n_zero, n_nmda


def _overall_uniform(core_reports, syn, syn_core) -> float:
    num = den = 0.0
    for r in core_reports:
        t = syn.target[syn_core == r["core"]]
        num += r["uniform_grid_error"] ** 2 * float(np.sum(t ** 2))
        den += float(np.sum(t ** 2))
    return float(np.sqrt(num / den)) if den > 0 else 0.0


def _bias_report(spec, profile, params, rel, cores, records) -> dict:
    """Per quantity: max and median |realised/requested − 1| over the neurons it matters to."""
    out = {}
    for qi, q in enumerate(NEURON_QUANTITIES):
        pname = profile.quantity_to_parameter[q]
        errs = []
        worst = None
        for c, r in zip(cores, records):
            m = c.neurons[rel[c.neurons, qi]]
            if m.size == 0:
                continue
            code = r.parameters[pname]
            real = float(profile.bias.to_current(pname, code.coarse, code.fine))
            e = np.abs(real / params[q][m] - 1)
            errs.append(e)
            k = int(np.argmax(e))
            if worst is None or e[k] > worst[0]:
                worst = (float(e[k]), spec.neuron_name(int(m[k])))
        if errs:
            e = np.concatenate(errs)
            out[q] = {"parameter": pname, "max_rel_error": round(float(e.max()), 6),
                      "median_rel_error": round(float(np.median(e)), 6), "worst_neuron": worst[1]}
    return out
