"""Routing: tags, SRAM destinations and CAM entries.

An event on Dynap-SE2 carries an 11-bit tag to one chip and a 4-bit core mask; every neuron on
the masked cores compares the tag with its 64 CAM entries, and each matching entry charges its
dendrite with the sum of the base weights its mask selects. So:

* every source (input channel or neuron) reaching a core needs a tag that no other source
  reaching that core uses — a shared tag is crosstalk. A source sends one event per target chip
  (one SRAM entry, or one FPGA event for inputs) with one tag and the mask of the cores it
  reaches there, so the tag is chosen per (source, chip), unique on each core of its mask
  (greedy colouring, most-constrained sources first; rule ``tags`` when 2048 run out);
* a neuron has 4 SRAM entries: its targets may span at most 4 chips (rule ``fan-out``); an output
  neuron also needs one entry routing its spikes to the host (x_hop = HOST_X_HOP = −7, all four core bits:
  the convention of every public Dynap-SE2 script, see :data:`neurodeploy.device.profile.HOST_CORE_MASK`);
* a neuron's CAM entries are its synapses' entries with the source's tag on this chip. With a
  CAM defect profile, entries go only to slots that work for their tag's half; tags are taken
  from the usable tags of the cores, from the half with more working slots on those cores (the
  high half 1024..2047 unless the low half is better on all of them); spare entries
  that do not fit on good slots are dropped (reported); a primary entry that does not fit is an
  error (rule ``cam-defects``);
* with delays, each CAM entry carries its synapse's delay bits (``precise_delay``, ``mismatched_delay``;
  both entries of a synapse the same), kept with the entry when CAM defects move it to another slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..device.dendrites import DENDRITES
from ..device.masks import mask_to_str
from ..device.profile import HOST_CORE_MASK, HOST_X_HOP, host_tag
from ..rules import placement as rules



@dataclass
class Routing:
    tag: dict[tuple[int, int], int]                     # (source, chip) → tag
    core_mask: dict[tuple[int, int], list[bool]]        # (source, chip) → cores reached
    cam: dict[int, list[tuple[int, str, str]]]          # neuron → CAM entries in slot order
    cam_syn: dict[int, list[tuple[int, int]]]           # neuron → (synapse index, entry part) per CAM entry
    sram: dict[int, list[dict]]                         # neuron → destinations
    inputs: dict[int, list[dict]]                       # input channel → FPGA destinations
    stats: dict = field(default_factory=dict)
    flags: dict[int, dict[int, list[str]]] = field(default_factory=dict)   # neuron → {CAM slot: delay flags}


def assign_tags(src: np.ndarray, chip: np.ndarray, core: np.ndarray, profile, cam_defects: dict | None, name_of):
    """Tag per (source, chip), unique among the sources reaching each core of that chip."""
    geo = profile.geometry
    n_tags = geo.n_tags
    key = np.unique(np.stack([src, chip, core], 1), axis=0)
    tag: dict[tuple[int, int], int] = {}
    mask: dict[tuple[int, int], list[bool]] = {}
    half = n_tags // 2
    pref = np.r_[np.arange(half, n_tags), np.arange(0, half)]     # high half first (more reliable on measured chips)
    pref_low = np.arange(n_tags)                                   # for cores whose low half works better
    stats = {"max_sources_per_core": 0}
    for h in np.unique(key[:, 1]):
        k = key[key[:, 1] == h]
        srcs, first = np.unique(k[:, 0], return_index=True)
        bits = np.zeros((srcs.size, geo.cores_per_chip), bool)
        pos = np.searchsorted(srcs, k[:, 0])
        bits[pos, k[:, 2]] = True
        per_core = bits.sum(0)
        stats["max_sources_per_core"] = max(stats["max_sources_per_core"], int(per_core.max()))
        full = np.flatnonzero(per_core > n_tags)
        if full.size:
            rules.too_many_sources(int(h), int(full[0]), int(per_core[full[0]]), n_tags)
        defects = (cam_defects or {}).get(int(h))
        usable = defects.good_tag if defects is not None else np.ones((geo.cores_per_chip, n_tags), bool)
        used = np.zeros((geo.cores_per_chip, n_tags), bool)
        order = np.lexsort((srcs, -bits.sum(1)))
        for i in order:
            cores = np.flatnonzero(bits[i])
            free = ~used[cores].any(0) & usable[cores].all(0)
            p = pref
            if defects is not None and all(defects.best_half(int(k)) == 0 for k in cores):
                p = pref_low
            cand = p[free[p]]
            if cand.size == 0:
                rules.no_free_tag(name_of(int(srcs[i])), int(h), cores.tolist(), n_tags)
            t = int(cand[0])
            used[cores, t] = True
            tag[(int(srcs[i]), int(h))] = t
            mask[(int(srcs[i]), int(h))] = bits[i].tolist()
    return tag, mask, stats


def route(qn, placement, entries, profile, cam_defects: dict | None, name_of) -> Routing:
    """Tags, SRAM and CAM for the synapses of ``qn`` with CAM ``entries`` (:class:`EntryColumns`) on ``placement``."""
    geo = profile.geometry
    n_in = qn.n_inputs
    src = np.asarray(qn.synapses.src, np.int64)
    dst = np.asarray(qn.synapses.dst, np.int64)
    has = entries.mask > 0
    s_src, s_dst = src[has], dst[has]
    d_chip, d_core = placement.chip[s_dst], placement.core[s_dst]
    tag, mask, stats = assign_tags(s_src, d_chip, d_core, profile, cam_defects, name_of)

    # SRAM: one destination per target chip (+ a host route for outputs)
    sram: dict[int, list[dict]] = {}
    inputs: dict[int, list[dict]] = {}
    outputs = set(qn.outputs)
    for (s, h), t in sorted(tag.items()):
        if s < n_in:
            inputs.setdefault(s, []).append({"chip": h, "tag": t, "core": mask[(s, h)]})
            continue
        n = s - n_in
        own = placement.positions[placement.chip[n]]
        to = placement.positions[h]
        sram.setdefault(n, []).append({"tag": t, "core": mask[(s, h)], "x_hop": to[0] - own[0], "y_hop": to[1] - own[1]})
    for n in sorted(outputs):
        sram.setdefault(n, []).append({"tag": host_tag(placement.core[n], placement.neuron[n], geo.neurons_per_core),
                                       "core": list(HOST_CORE_MASK), "x_hop": HOST_X_HOP, "y_hop": 0})
    for n, dl in sram.items():
        if len(dl) > geo.sram_entries_per_neuron:
            chips = sorted({int(placement.chip[n] + d["x_hop"]) for d in dl if d["x_hop"] != HOST_X_HOP})
            rules.fan_out(name_of(n + n_in), len(dl), chips, n in outputs, geo.sram_entries_per_neuron)

    # CAM entries, in a deterministic order: by destination neuron, then source, then entry
    cam: dict[int, list[tuple[int, str, str]]] = {}
    cam_syn: dict[int, list[tuple[int, int]]] = {}
    flags: dict[int, dict[int, list[str]]] = {}
    order = np.lexsort((src, dst))
    parts = ((entries.dendrite, entries.mask), (entries.spare_dendrite, entries.spare_mask))
    for i in order[has[order]]:
        n = int(dst[i])
        t = tag[(int(src[i]), int(placement.chip[n]))]
        lst = cam.setdefault(n, [])
        own = cam_syn.setdefault(n, [])
        fl = entries.flags(int(i))
        for k, (dend, mask_) in enumerate(parts):
            if mask_[i]:
                if fl:
                    flags.setdefault(n, {})[len(lst)] = fl
                lst.append((t, DENDRITES[dend[i]], mask_to_str(int(mask_[i]))))
                own.append((int(i), k))
    stats["cam_entries"] = int(sum(len(v) for v in cam.values()))
    stats["sram_entries"] = int(sum(len(v) for v in sram.values()))
    stats["tags_used"] = len(set(tag.values()))
    return Routing(tag, mask, cam, cam_syn, sram, inputs, stats, flags)


def _slots(order, halves, good, spares, exclusive_first: bool):
    """Entry → slot for the entries in ``order`` (spares last) → ({entry: slot}, [spares left out]), or None
    when a primary entry finds no free slot of its half."""
    free = good.copy()                                   # [slots, 2]: working and not yet taken
    where, lost = {}, []
    for i in order:
        cand = np.flatnonzero(free[:, halves[i]])
        if exclusive_first:
            cand = cand[np.argsort(good[cand, 1 - halves[i]], kind="stable")]
        if cand.size == 0:
            if i in spares:
                lost.append(i)
                continue
            return None
        where[i] = int(cand[0])
        free[int(cand[0])] = False
    return where, lost


def fit_cam_to_defects(routing: Routing, placement, defects_by_chip: dict, profile, name_of, n_in: int):
    """Put each neuron's CAM entries on slots that work for their tag's half (placeholders elsewhere).

    Spare entries (second entries of a synapse) may be dropped when good slots run out.
    Returns (number of bad slots skipped, [synapse index whose spare entry was dropped]).
    """
    geo = profile.geometry
    half_size = geo.n_tags // 2
    avoided = 0
    dropped: list[tuple[int, int]] = []
    for n, lst in routing.cam.items():
        d = defects_by_chip.get(int(placement.chip[n]))
        if d is None:
            continue
        good = d.good_slot[placement.core[n], placement.neuron[n]]         # [64, 2]
        halves = [t // half_size for t, _, _ in lst]
        spares = {k for k, (_, part) in enumerate(routing.cam_syn[n]) if part == 1}
        old_flags = routing.flags.get(n, {})
        # primary entries first (those must fit), the half with fewer good slots first; each on the first free
        # slot of its half — or, if that leaves a primary entry without a slot, on the slots only its half
        # can use before the shared ones (which places them whenever the counts allow it)
        order = sorted(range(len(lst)), key=lambda i: (i in spares, int(good[:, halves[i]].sum()), i))
        placed = _slots(order, halves, good, spares, exclusive_first=False)
        if placed is None:
            placed = _slots(order, halves, good, spares, exclusive_first=True)
        if placed is None:
            worst = min((h for i, h in enumerate(halves) if i not in spares), key=lambda h: int(good[:, h].sum()))
            rules.cam_defects(name_of(n + n_in), int(placement.chip[n]), int(placement.core[n]), int(placement.neuron[n]),
                              len(lst) - len(spares), d.source, int(good[:, worst].sum()))
        where, lost = placed
        slots: list = [None] * geo.cam_entries_per_neuron
        new_flags = {}
        for i, k in where.items():
            slots[k] = lst[i]
            if i in old_flags:
                new_flags[k] = old_flags[i]
        dropped.extend(routing.cam_syn[n][i][0] for i in lost)
        last = max((k for k, s in enumerate(slots) if s is not None), default=-1)
        filled = [s if s is not None else (0, "none", "0000") for s in slots[: last + 1]]
        avoided += int(sum(1 for k in range(last + 1) if slots[k] is None))
        routing.cam[n] = filled
        if old_flags:
            routing.flags[n] = dict(sorted(new_flags.items()))
    return avoided, dropped
