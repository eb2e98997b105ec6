"""Decode a HardwareConfig the way the chip's digital logic reads it.

This is the single place where a configuration becomes a network:

* bias codes → currents through the profile's measured table and scale factors (a parameter a
  core does not set keeps the profile default);
* each CAM entry's 4-bit mask → the sum of its core's base weights SYAM_W0_P..SYAM_W3_P;
* tag matching: every event source — an input channel's FPGA destinations, a neuron's SRAM
  destinations (tag, x/y hop to a chip, core mask) — is broadcast to the masked cores of the
  destination chip, and every CAM entry on those cores whose tag equals the event's tag (and whose
  dendrite is not ``none``) receives it. Two sources sharing a tag on a core both match (crosstalk);
  a tag repeated in several CAM entries of a neuron delivers the event several times (weights add);
* latches: ``latch_soif_kill`` silences a neuron, ``latch_so_dc`` enables I_dc,
  ``latch_so_adaptation`` the AHP, ``latch_denm_nmda`` the NMDA membrane gate.

The result (:class:`DecodedNetwork`) lists configured neurons and synapse *matches* (one per
source × matching CAM entry) with their weight currents — what the simulator needs — plus, per
match, the CAM entry it came from (for per-entry mismatch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..profile import NEURON_QUANTITIES
from .model import HardwareConfig

DENDRITE_CODE = {"ampa": 0, "nmda": 1, "gaba": 2, "shunt": 3}


@dataclass
class DecodedNetwork:
    n_inputs: int
    sites: np.ndarray               # [M, 3] (chip, core, neuron) of every configured neuron
    params: dict[str, np.ndarray]   # quantity → [M] current (A), the neuron's core's value
    flags: dict[str, np.ndarray]    # dc, adaptation, nmda_gate, kill → [M] bool
    src: np.ndarray                 # [E] 0..n_inputs−1 input channel, n_inputs + m neuron m
    dst: np.ndarray                 # [E] neuron m
    dendrite: np.ndarray            # [E] 0 ampa, 1 nmda, 2 gaba, 3 shunt
    weight: np.ndarray              # [E] weight current (A): Σ base weights selected by the mask
    cam_entry: np.ndarray           # [E] global CAM entry id: ((m · 64) + slot)
    mask: np.ndarray                # [E] mask index (bit b selects W_b)
    outputs: np.ndarray             # [n_out] neuron m of each model output

    def index_of(self, chip: int, core: int, neuron: int) -> int:
        key = (self.sites[:, 0] * 4 + self.sites[:, 1]) * 256 + self.sites[:, 2]
        k = (chip * 4 + core) * 256 + neuron
        i = int(np.searchsorted(key, k))
        if i >= key.size or key[i] != k:
            raise KeyError((chip, core, neuron))
        return i


def decode(cfg: HardwareConfig, profile, input_routes: list[list[tuple[int, int, list[bool]]]] | None = None) -> DecodedNetwork:
    """Decode ``cfg``. ``input_routes`` replaces the config's input channels by explicit event
    sources: source i sends each event to the (chip, tag, core mask) triples of ``input_routes[i]``
    (this is how raw FPGA events — timestamp, tag, chip, core mask — are emulated)."""
    geo = profile.geometry
    n_tags = geo.n_tags
    cpc = geo.cores_per_chip
    # --- neurons and their core parameters -----------------------------------------------
    sites, core_codes = [], {}
    latch = {k: [] for k in ("latch_so_dc", "latch_so_adaptation", "latch_denm_nmda", "latch_soif_kill")}
    cam_rows = []          # (m, slot, chip, core, tag, dendrite, mask)
    pos_to_chip = {tuple(ch.position): ch.chip for ch in cfg.chips}
    arrivals = []          # (chip, core, tag, source)
    for ch in sorted(cfg.chips, key=lambda c: c.chip):
        for core in sorted(ch.cores, key=lambda c: c.core):
            core_codes[(ch.chip, core.core)] = core.parameters
            for nc in sorted(core.neurons, key=lambda n: n.neuron):
                sites.append((ch.chip, core.core, nc.neuron))
    sites_a = np.asarray(sites, np.int64).reshape(-1, 3)
    m_of = {s: i for i, s in enumerate(sites)}
    if input_routes is None:
        input_routes = [[(d.chip, d.tag, d.core) for d in inp.destinations] for inp in cfg.inputs]
    n_in = len(input_routes)
    for ch in cfg.chips:
        for core in ch.cores:
            for nc in core.neurons:
                m = m_of[(ch.chip, core.core, nc.neuron)]
                for k in latch:
                    if getattr(nc, k):
                        latch[k].append(m)
                for slot, (tag, dend, mask) in enumerate(nc.synapses):
                    if dend != "none":
                        cam_rows.append((m, slot, ch.chip, core.core, tag, DENDRITE_CODE[dend], int(mask[::-1], 2)))
                for d in nc.destinations:
                    target = pos_to_chip.get((ch.position[0] + d.x_hop, ch.position[1] + d.y_hop))
                    if target is None:      # leaves the chip grid (host monitor route): reaches no CAM
                        continue
                    for k, on in enumerate(d.core):
                        if on:
                            arrivals.append((target, k, d.tag, n_in + m))
    for i, routes in enumerate(input_routes):
        for chip, tag, core_mask in routes:
            for k, on in enumerate(core_mask):
                if on:
                    arrivals.append((chip, k, tag, i))
    M = len(sites)
    # --- parameters: codes → currents ------------------------------------------------------
    params = {}
    for q in NEURON_QUANTITIES:
        pname = profile.quantity_to_parameter[q]
        vals = np.empty(M)
        for (chip, core), codes in core_codes.items():
            sel = (sites_a[:, 0] == chip) & (sites_a[:, 1] == core)
            if not np.any(sel):
                continue
            c = codes.get(pname)
            cf = (c.coarse, c.fine) if c is not None else tuple(profile.parameters[pname].default)
            vals[sel] = float(profile.bias.to_current(pname, *cf))
        params[q] = vals
    W = {}
    for (chip, core), codes in core_codes.items():
        w = []
        for b in range(4):
            pname = profile.quantity_to_parameter[f"Iw_{b}"]
            c = codes.get(pname)
            cf = (c.coarse, c.fine) if c is not None else tuple(profile.parameters[pname].default)
            w.append(float(profile.bias.to_current(pname, *cf)))
        W[(chip, core)] = np.asarray(w)
    flags = {name: np.zeros(M, bool) for name in ("dc", "adaptation", "nmda_gate", "kill")}
    for name, key in (("dc", "latch_so_dc"), ("adaptation", "latch_so_adaptation"),
                      ("nmda_gate", "latch_denm_nmda"), ("kill", "latch_soif_kill")):
        flags[name][latch[key]] = True
    # --- tag matching ----------------------------------------------------------------------
    cam = np.asarray(cam_rows, np.int64).reshape(-1, 7)
    arr = np.asarray(arrivals, np.int64).reshape(-1, 4)
    akey = (arr[:, 0] * cpc + arr[:, 1]) * n_tags + arr[:, 2]
    order = np.argsort(akey, kind="stable")
    akey, asrc = akey[order], arr[order, 3]
    ckey = (cam[:, 2] * cpc + cam[:, 3]) * n_tags + cam[:, 4]
    lo = np.searchsorted(akey, ckey, side="left")
    hi = np.searchsorted(akey, ckey, side="right")
    cnt = hi - lo
    rows = np.repeat(np.arange(cam.shape[0]), cnt)
    starts = np.repeat(lo - np.cumsum(np.r_[0, cnt[:-1]]), cnt)
    src = asrc[starts + np.arange(rows.size)] if rows.size else np.zeros(0, np.int64)
    bits = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(np.float64)
    Wmat = np.stack([W[(int(c), int(k))] for c, k in zip(cam[:, 2], cam[:, 3])]) if cam.size else np.zeros((0, 4))
    weight_entry = np.einsum("eb,eb->e", bits[cam[:, 6]], Wmat) if cam.size else np.zeros(0)
    outputs = np.asarray([m_of[(o.chip, o.core, o.neuron)] for o in cfg.outputs], np.int64)
    return DecodedNetwork(
        n_inputs=n_in, sites=sites_a, params=params, flags=flags,
        src=src, dst=cam[rows, 0], dendrite=cam[rows, 5], weight=weight_entry[rows],
        cam_entry=cam[rows, 0] * geo.cam_entries_per_neuron + cam[rows, 1], mask=cam[rows, 6], outputs=outputs)
