"""The map stage: QuantizedNetwork → placement → routing → HardwareConfig (+ report).

The whole pipeline, quantize → map → config, is :func:`neurodeploy.deployment.deploy` (``neurodeploy map``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.encode import encode
from ..config.config_json import HardwareConfig
from ..device.dendrites import Dendrite
from ..rules.placement import cam_profile as cam_profile_rule
from ..quantize.quantized_json import QuantizedNetwork
from ..device.masks import Alphabet, subset_sums
from .cam_profile import load_cam_profile
from .placement import Placement, place
from .defect_placement import refit_neurons
from .routing import Routing, fit_cam_to_defects, route


@dataclass
class Deployment:
    quantized: QuantizedNetwork     # final (after CAM-defect adjustments)
    placement: Placement
    routing: Routing
    config: HardwareConfig
    report: dict


def _core_weights(profile, core) -> np.ndarray:
    W = []
    for b in range(4):
        pn = profile.quantity_to_parameter[f"Iw_{b}"]
        c = core.parameters[pn]
        W.append(float(profile.bias.to_current(pn, c.coarse, c.fine)))
    return np.asarray(W)


def _best_single(W, g, target, own: int, scalable: bool) -> tuple[int, int, float]:
    """The best single entry for a synapse of dendrite ``own`` → (dendrite, mask, current A); mask 0 = none."""
    alpha = Alphabet.make(g if scalable else None)
    vals = alpha.values(W)
    k = int(np.argmin(np.abs(vals - target)))
    m = int(alpha.masks[k])
    if m == 0:
        return own, 0, 0.0
    return (int(Dendrite.NMDA) if alpha.kinds[k] == 1 else own), m, float(vals[k])


def map_quantized(qn: QuantizedNetwork, profile, *, cam_profiles: dict[int, str] | None = None,
                  cam_tolerance: float = 0.0) -> Deployment:
    """Place, route and encode a quantized network. ``cam_profiles``: chip → CAM profile file."""
    defects = {int(ch): load_cam_profile(p, profile, cam_tolerance) for ch, p in (cam_profiles or {}).items()}
    entries = qn.synapses.columns()
    value = np.asarray(qn.synapses.value, dtype=np.float64)
    dst = np.asarray(qn.synapses.dst, np.int64)
    target = np.asarray(qn.synapses.target, dtype=np.float64)
    n_entries = np.zeros(qn.n_neurons, np.int64)
    np.add.at(n_entries, dst, entries.count())
    n_primary = np.bincount(dst[entries.mask > 0], minlength=qn.n_neurons)
    placement = place(qn, profile, n_entries, defects, n_primary)
    unused = [ch for ch in defects if ch >= placement.n_chips]
    if unused:
        raise cam_profile_rule(f"CAM profile given for chip {unused[0]}, but the network uses chips "
                         f"0..{placement.n_chips - 1}; give profiles for the chips in use")

    core_by_neuron = np.zeros(qn.n_neurons, np.int64)
    for c in qn.cores:
        core_by_neuron[c.neurons] = c.id
    spare_dropped = 0

    def drop_spare(i: int, reoptimise: bool):
        nonlocal spare_dropped
        c = qn.cores[core_by_neuron[dst[i]]]
        W = _core_weights(profile, c)
        dn, m = int(entries.dendrite[i]), int(entries.mask[i])
        own = dn
        if c.nmda_scale is not None and own == Dendrite.NMDA:  # on an NMDA-scale core NMDA entries belong to AMPA synapses
            own = int(Dendrite.AMPA)
        scalable = c.nmda_scale is not None and own == Dendrite.AMPA
        if reoptimise:
            dn, m, v = _best_single(W, c.nmda_scale, target[i], own, scalable)
        else:
            v = float(subset_sums(W)[m]) * (c.nmda_scale if (dn == Dendrite.NMDA and scalable) else 1.0)
        entries.dendrite[i], entries.mask[i], value[i] = dn, m, v
        entries.spare_dendrite[i], entries.spare_mask[i] = own, 0
        spare_dropped += 1

    # CAM defects, step 1: before routing, drop spares where a neuron has fewer good slots than entries
    for ch, d in defects.items():
        for n in np.flatnonzero(placement.chip == ch):
            good = int(d.good_slots(int(placement.core[n]))[placement.neuron[n]])
            if n_entries[n] <= good:
                continue
            mine = np.flatnonzero((dst == n) & (entries.count() == 2))
            # drop the spares of the smallest-target synapses first (they cut the least error)
            for i in mine[np.argsort(target[mine], kind="stable")][: n_entries[n] - good]:
                drop_spare(int(i), reoptimise=True)
    name_of = _namer(qn)
    routing = route(qn, placement, entries, profile, defects, name_of)
    avoided = moved = 0
    if defects:
        moved = refit_neurons(placement, routing, defects, profile, name_of, qn.n_inputs)
        avoided, dropped = fit_cam_to_defects(routing, placement, defects, profile, name_of, qn.n_inputs)
        for i in dropped:
            drop_spare(int(i), reoptimise=False)
    syn = qn.synapses.model_copy(update={**entries.table_fields(), "value": value.tolist()})
    final = qn.model_copy(update={"synapses": syn, "report": dict(qn.report)})
    cfg = encode(final, placement, routing, profile, metadata=dict(qn.metadata))
    report = dict(qn.report)
    report["placement"] = _placement_report(final, placement, routing, profile)
    rel = float(np.sqrt(np.sum((value - target) ** 2) / max(np.sum(target ** 2), 1e-300)))
    report["weights"] = dict(report.get("weights", {}), relative_rms_error=round(rel, 6))
    if defects:
        report["cam_defects"] = {"chips": sorted(defects), "bad_slots_skipped": avoided, "neurons_moved": moved,
                                 "spare_entries_dropped": spare_dropped,
                                 "tolerance": cam_tolerance}
    final.report = report
    return Deployment(final, placement, routing, cfg, report)


def _namer(qn):
    n_in = qn.n_inputs

    def name_of(src: int) -> str:
        return f"input[{src}]" if src < n_in else qn.neuron_name(src - n_in)

    return name_of


def _placement_report(qn, placement, routing, profile) -> dict:
    geo = profile.geometry
    used_neurons = qn.n_neurons
    cam_used = sum(sum(1 for e in lst if e[1] != "none") for lst in routing.cam.values())
    return {
        "chips": int(placement.n_chips),
        "cores": len(qn.cores),
        "neurons": used_neurons,
        "cam_entries": int(cam_used),
        "cam_utilisation": round(cam_used / max(used_neurons * geo.cam_entries_per_neuron, 1), 4),
        "sram_entries": routing.stats["sram_entries"],
        "sram_utilisation": round(routing.stats["sram_entries"] / max(used_neurons * geo.sram_entries_per_neuron, 1), 4),
        "tags_used": routing.stats["tags_used"],
        "max_sources_per_core": routing.stats["max_sources_per_core"],
        "input_channels_routed": len(routing.inputs),
    }

