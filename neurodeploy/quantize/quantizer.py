"""The quantize stage: Network → QuantizedNetwork (core assignment, bias codes, weights).

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
6. Delays per core (:mod:`.delays`): the three delay biases SYPD_DLY0..2_P on their DAC grid and each
   entry's two delay bits (only for a network with non-zero delays).
"""

from __future__ import annotations


import numpy as np

from ..log import progress

from .. import __version__
from ..config.config_json import Code, ProfileRef
from ..device.dendrites import Dendrite
from ..device.profile import NEURON_QUANTITIES
from ..rules import NetworkFacts, require_network
from ..device.physics import gain_ratio, same_tau_current
from . import grouping
from ..device.parameter_sets import relevance
from ..device.synapses import Synapses, keep_largest
from .quantized_json import EntryColumns, LogicalCoreRecord, PopulationRef, QuantizedNetwork, SynapseTable
from .delays import quantize_network_delays
from ..device.masks import Alphabet
from .weights import CoreProblem, quantize_core, rel_rms

def _prune(network, syn: Synapses, cam: int, report: dict) -> Synapses:
    """Keep each neuron's ``cam`` largest |w| (``--prune``); what was dropped goes to the report."""
    fan = np.bincount(syn.dst, minlength=network.n_neurons)
    over = np.flatnonzero(fan > cam)
    if over.size == 0:
        return syn
    keep = keep_largest(syn, cam)
    dropped = syn.take(~keep)
    report["pruned"] = {
        "synapses": int(dropped.target.size),
        "neurons": [network.neuron_name(int(n)) for n in over[:20]] + (["..."] if over.size > 20 else []),
        "weight_mass_dropped": float(dropped.target.sum() / max(syn.target.sum(), 1e-300)),
    }
    return syn.take(keep)


def _code_of(profile, pname: str, current: float) -> tuple[int, int]:
    c = profile.bias.to_code(pname, current, clip=True)
    return int(c.coarse), int(c.fine)


def quantize_network(network, profile, *, max_chips: int | None = None, prune: bool = False, strict: bool = False,
                     seed: int = 0, use_spares: bool = True, use_nmda: bool = True, source_sha256: str | None = None
                     ) -> QuantizedNetwork:
    """Core assignment, bias codes and weight quantization of a Network (see module doc)."""
    geo = profile.geometry
    facts = NetworkFacts(network, profile, chips=max_chips, prune=prune, strict=strict, spares=use_spares)
    require_network(facts)      # every design rule decidable before optimising, all violations at once
    n_chips = facts.n_chips
    report: dict = {}
    N = network.n_neurons
    syn = _prune(network, facts.synapses, geo.cam_entries_per_neuron, report) if prune else facts.synapses
    wparams = [profile.quantity_to_parameter[f"Iw_{b}"] for b in range(4)]
    grid = np.unique(profile.bias.all_codes(wparams[0]))
    dend_in = syn.dendrites_in(N)
    params = facts.params
    rel = relevance(network, dend_in)
    wscale = np.sqrt(np.bincount(syn.dst, syn.target ** 2, minlength=N) / np.maximum(np.bincount(syn.dst, minlength=N), 1))
    cores = grouping.assign_cores(network, profile, params, rel, wscale, n_chips * geo.cores_per_chip,
                                  strict=strict, seed=seed)

    flags = _latch_flags(network)
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

    S = syn.target.size
    entries = EntryColumns(np.zeros(S, np.int64), np.zeros(S, np.int64), np.zeros(S, np.int64), np.zeros(S, np.int64))
    value = np.zeros(syn.target.size)
    records = []
    core_reports = []
    nmda_p = (profile.quantity_to_parameter["Itau_nmda"], profile.quantity_to_parameter["Igain_nmda"])
    order = list(profile.parameters)
    for ci, c in progress(enumerate(cores), total=len(cores), desc="quantizing cores"):
        codes = _core_codes(profile, c.currents)
        sel = np.flatnonzero(syn_core == ci)
        members_nmda = bool(np.any(dend_in[c.neurons, 1]) or np.any(gate[c.neurons]))
        scalable_here = use_nmda and not members_nmda and bool(np.any(syn.dend[sel] == 0))
        g_codes = _nmda_scale_codes(profile, codes) if scalable_here else {}
        g_cands = list(g_codes)
        prob = CoreProblem(syn.target[sel], (syn.dend[sel] == 0) & scalable_here, local[syn.dst[sel]],
                           budget[c.neurons])
        res = quantize_core(prob, grid, g_candidates=tuple(g_cands), seed=seed + ci, use_nmda=scalable_here)
        for b, pname in enumerate(wparams):
            codes[pname] = _code_of(profile, pname, float(res.W[b]))
        if res.g is not None:
            codes[nmda_p[0]], codes[nmda_p[1]] = g_codes[res.g]
        a = res.assignment
        ent, n_spare, n_zero, n_nmda = _entry_columns(a, syn.dend[sel], prob.scalable, res.g)
        for f in ("dendrite", "mask", "spare_dendrite", "spare_mask"):
            getattr(entries, f)[sel] = getattr(ent, f)
        value[sel] = a.value
        records.append(LogicalCoreRecord(
            id=ci, neurons=[int(x) for x in c.neurons],
            parameters={k: Code(coarse=v[0], fine=v[1]) for k, v in sorted(codes.items(), key=lambda kv: order.index(kv[0]))},
            nmda_scale=res.g, clustered=c.clustered, weight_error=res.error, uniform_grid_error=res.uniform_error))
        core_reports.append(_core_report(ci, c, sel, res, n_spare, n_nmda, n_zero))

    report["weights"] = _weights_report(value, syn, syn_core, core_reports)
    delay_cols = _delays(syn, syn_core, entries, records, profile, seed, report)
    report["biases"] = _bias_report(network, profile, params, rel, cores, records)
    report["clustered_cores"] = [r.id for r in records if r.clustered]
    qn = QuantizedNetwork(
        name=network.name, source_model_sha256=source_sha256 or network.sha256(),
        profile=ProfileRef(name=profile.name, sha256=profile.sha256), seed=seed, n_inputs=network.n_inputs,
        populations=[PopulationRef(name=p.name, size=p.size) for p in network.populations],
        outputs=[int(i) for i in network.output_indices()],
        cores=records,
        synapses=SynapseTable(src=syn.src.tolist(), dst=syn.dst.tolist(), **entries.table_fields(),
                              target=syn.target.tolist(), value=value.tolist(), **delay_cols),
        metadata={**network.metadata, "dt": network.dt, "neurodeploy_version": __version__},
        report=report, **flags)
    return qn


def _delays(syn: Synapses, syn_core, entries, records, profile, seed: int, report: dict) -> dict:
    """Step 6, delays (:mod:`.delays`): each core's SYPD_DLY0..2_P codes join its parameters, the report gets
    ``delays``; returns the synapse table's delay columns ({} for a network without non-zero delays: zero
    delays are no delays, and the quantized file is then the delay-free one)."""
    if syn.delay is None or not np.any(syn.delay > 0):
        return {}
    cols, codes, report["delays"] = quantize_network_delays(syn.delay, syn_core, entries.mask > 0, profile, seed)
    order = list(profile.parameters)
    for ci, cc in codes.items():
        p = {**records[ci].parameters, **{k: Code(coarse=c, fine=f) for k, (c, f) in cc.items()}}
        records[ci].parameters = dict(sorted(p.items(), key=lambda kv: order.index(kv[0])))
    return cols


def _entry_columns(a, dend: np.ndarray, scalable: np.ndarray, g: float | None):
    """A core's assignment (option indices of the first and spare entry) → :class:`EntryColumns`
    (an NMDA-scaled option's entry goes to the NMDA dendrite; a lone spare becomes the first entry);
    returns (columns, #synapses with a spare entry, #quantized to zero, #NMDA-scale entries)."""
    n = dend.size
    cols = EntryColumns(dend.astype(np.int64), np.zeros(n, np.int64), dend.astype(np.int64), np.zeros(n, np.int64))
    n_nmda = 0
    for sc in (False, True):
        sel = scalable == sc
        if not np.any(sel):
            continue
        alpha = Alphabet.make(g if sc else None)
        first, second = a.first[sel], a.second[sel]
        has2 = second >= 0
        second = np.maximum(second, 0)
        cols.mask[sel] = alpha.masks[first]
        cols.dendrite[sel] = np.where(alpha.kinds[first] == 1, int(Dendrite.NMDA), dend[sel])
        cols.spare_mask[sel] = np.where(has2, alpha.masks[second], 0)
        cols.spare_dendrite[sel] = np.where(has2 & (alpha.kinds[second] == 1), int(Dendrite.NMDA), dend[sel])
        n_nmda += int(np.sum(alpha.kinds[first] == 1) + np.sum(has2 & (alpha.kinds[second] == 1)))
    lone = (cols.mask == 0) & (cols.spare_mask > 0)
    cols.mask[lone], cols.dendrite[lone] = cols.spare_mask[lone], cols.spare_dendrite[lone]
    cols.spare_mask[lone], cols.spare_dendrite[lone] = 0, dend[lone]
    n_spare = int(np.sum((cols.mask > 0) & (cols.spare_mask > 0)))
    return cols, n_spare, int(np.sum(cols.mask == 0)), n_nmda


def _core_report(ci, c, sel, res, n_spare, n_nmda, n_zero) -> dict:
    return {"core": ci, "neurons": int(c.neurons.size), "synapses": int(sel.size),
            "weight_error": round(res.error, 6), "uniform_grid_error": round(res.uniform_error, 6),
            "spare_entries_used": n_spare, "nmda_scale_entries": n_nmda, "quantized_to_zero": n_zero,
            "nmda_scale": res.g}


def _latch_flags(network) -> dict[str, list[int]]:
    """Neurons whose DC input, adaptation or NMDA gate latch is on (per-neuron latches of the config)."""
    off = network.offsets()
    flags: dict[str, list[int]] = {"latch_so_dc": [], "latch_so_adaptation": [], "latch_denm_nmda": []}
    for p in network.populations:
        idx = list(range(off[p.name], off[p.name] + p.size))
        for key, on in (("latch_so_dc", p.dc_enabled), ("latch_so_adaptation", p.adaptation),
                        ("latch_denm_nmda", p.nmda_gate)):
            if on:
                flags[key] += idx
    return flags


def _core_codes(profile, currents: dict) -> dict[str, tuple[int, int]]:
    """Bias code of every parameter of a core: the nearest code of its current, else the profile default."""
    codes: dict[str, tuple[int, int]] = {}
    for q in NEURON_QUANTITIES:
        pname = profile.quantity_to_parameter[q]
        codes[pname] = _code_of(profile, pname, currents[q]) if q in currents else tuple(profile.parameters[pname].default)
    return codes


def _nmda_scale_codes(profile, codes) -> dict[float, tuple[tuple[int, int], tuple[int, int]]]:
    """NMDA as a second excitatory scale g ≈ 1/16, 1/8, 1/4, 1/2 of AMPA: realised g → (Itau_nmda code,
    Igain_nmda code), with τ_nmda = τ_ampa (I_tau_nmda = I_tau_ampa·C_nmda/C_ampa) and
    g = (I_gain_nmda/I_tau_nmda)/(I_gain_ampa/I_tau_ampa)."""
    q2p = profile.quantity_to_parameter
    tau_n, gain_n = q2p["Itau_nmda"], q2p["Igain_nmda"]
    cur = lambda pn: float(profile.bias.to_current(pn, *codes[pn]))  # noqa: E731
    r_ampa = gain_ratio(cur(q2p["Igain_ampa"]), cur(q2p["Itau_ampa"]))
    tau_code = _code_of(profile, tau_n, same_tau_current(cur(q2p["Itau_ampa"]), profile.analog.C_ampa, profile.analog.C_nmda))
    itau_n = float(profile.bias.to_current(tau_n, *tau_code))
    out = {}
    for g in (1 / 16, 1 / 8, 1 / 4, 1 / 2):
        gain_code = _code_of(profile, gain_n, g * r_ampa * itau_n)
        out[gain_ratio(float(profile.bias.to_current(gain_n, *gain_code)), itau_n) / r_ampa] = (tau_code, gain_code)
    return out


def _weights_report(value, syn, syn_core, core_reports) -> dict:
    return {
        "relative_rms_error": round(rel_rms(value, syn.target), 6),
        "uniform_grid_error": round(_overall_uniform(core_reports, syn, syn_core), 6),
        "synapses": int(syn.target.size),
        "spare_entries_used": sum(r["spare_entries_used"] for r in core_reports),
        "nmda_scale_entries": sum(r["nmda_scale_entries"] for r in core_reports),
        "quantized_to_zero": sum(r["quantized_to_zero"] for r in core_reports),
        "per_core": core_reports,
    }


def _overall_uniform(core_reports, syn, syn_core) -> float:
    num = den = 0.0
    for r in core_reports:
        t = syn.target[syn_core == r["core"]]
        num += r["uniform_grid_error"] ** 2 * float(np.sum(t ** 2))
        den += float(np.sum(t ** 2))
    return float(np.sqrt(num / den)) if den > 0 else 0.0


def _bias_report(network, profile, params, rel, cores, records) -> dict:
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
                worst = (float(e[k]), network.neuron_name(int(m[k])))
        if errs:
            e = np.concatenate(errs)
            out[q] = {"parameter": pname, "max_rel_error": round(float(e.max()), 6),
                      "median_rel_error": round(float(np.median(e)), 6), "worst_neuron": worst[1]}
    return out
