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
* delays: a CAM entry's ``precise_delay`` / ``mismatched_delay`` flags and its core's SYPD_DLY0..2_P
  codes give it the delay [p ∨ m]·t₀ + p·t₁ + m·t₂, t_i = V_th·C_dly,i/I_dly,i (eqs. (8), (9) of
  :mod:`neurodeploy.device.physics`; an UNCALIBRATED model), and a mismatch spread from the stages used;
* latches: ``latch_soif_kill`` silences a neuron, ``latch_so_dc`` enables I_dc,
  ``latch_so_adaptation`` the AHP, ``latch_denm_nmda`` the NMDA membrane gate.

The result (:class:`DecodedNetwork`) lists configured neurons and synapse *matches* (one per
source × matching CAM entry) with their weight currents — what the simulator needs — plus, per
match, the CAM entry it came from (for per-entry mismatch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..device.masks import entry_weights
from ..errors import ConfigError
from ..device.profile import DELAY_QUANTITIES, NEURON_QUANTITIES
from ..device import physics
from ..device.delays import entry_spread
from .config_json import LATCHES, HardwareConfig
from .state import board_state



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
    delay: np.ndarray | None = None         # [E] synaptic delay (s); None: no entry has a delay bit
    delay_spread: np.ndarray | None = None  # [E] σ of the delay relative to the chip's σ (stages' mismatch)
    delay_terms: np.ndarray | None = None   # [E, 3] its stages' parts ([p ∨ m]·t₀, p·t₁, m·t₂) (s), summing to delay

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
    n_tags, cpc, npc, ncam = geo.n_tags, geo.cores_per_chip, geo.neurons_per_core, geo.cam_entries_per_neuron
    st = board_state(cfg, geo)
    # --- configured neurons, in (chip id, core, neuron) order ------------------------------
    slot_c, core_k, neur_n = np.nonzero(st.configured)
    chip_id = st.chip_ids[slot_c]
    order = np.lexsort((neur_n, core_k, chip_id))
    slot_c, core_k, neur_n, chip_id = slot_c[order], core_k[order], neur_n[order], chip_id[order]
    sites = np.stack([chip_id, core_k, neur_n], 1).astype(np.int64).reshape(-1, 3)
    M = sites.shape[0]
    m_index = np.full(st.configured.shape, -1, np.int64)
    m_index[slot_c, core_k, neur_n] = np.arange(M)
    params, W = _parameters(st, profile, slot_c, core_k)
    latch_idx = {name: LATCHES.index(key) for name, key in (("dc", "latch_so_dc"), ("adaptation", "latch_so_adaptation"),
                                                            ("nmda_gate", "latch_denm_nmda"), ("kill", "latch_soif_kill"))}
    flags = {name: st.latches[slot_c, core_k, neur_n, li].copy() for name, li in latch_idx.items()}
    # --- event arrivals: SRAM destinations of neurons, FPGA destinations of inputs ----------
    if input_routes is None:
        input_routes = [[(d.chip, d.tag, d.core) for d in inp.destinations] for inp in cfg.inputs]
    n_in = len(input_routes)
    slot_of_chip = {int(ch): c for c, ch in enumerate(st.chip_ids.tolist())}
    arr = _arrivals(st, slot_c, core_k, neur_n, input_routes, slot_of_chip, cpc)
    # --- CAM entries -------------------------------------------------------------------------
    e = np.arange(ncam)
    live = (e[None, :] < st.cam_len[slot_c, core_k, neur_n][:, None]) & (st.cam_dendrite[slot_c, core_k, neur_n] > 0)
    cm, ce = np.nonzero(live)
    cc, ck, cn = slot_c[cm], core_k[cm], neur_n[cm]
    ctag = st.cam_tag[cc, ck, cn, ce]
    cdend = st.cam_dendrite[cc, ck, cn, ce] - 1                        # 0 ampa, 1 nmda, 2 gaba, 3 shunt
    cmask = st.cam_mask[cc, ck, cn, ce]
    # --- tag matching: every arrival meets every CAM entry with its tag on its core -----------
    akey = (arr[:, 0] * cpc + arr[:, 1]) * n_tags + arr[:, 2]
    o = np.argsort(akey, kind="stable")
    akey, asrc = akey[o], arr[o, 3]
    ckey = (cc * cpc + ck) * n_tags + ctag
    lo = np.searchsorted(akey, ckey, side="left")
    cnt = np.searchsorted(akey, ckey, side="right") - lo
    rows = np.repeat(np.arange(ckey.size), cnt)
    first = np.repeat(lo - np.cumsum(np.r_[0, cnt[:-1]]), cnt)
    src = asrc[first + np.arange(rows.size)] if rows.size else np.zeros(0, np.int64)
    weight_entry = entry_weights(cmask, W[cc, ck])
    terms, spread = _entry_delays(st, profile, cc, ck, cn, ce)
    outputs = np.asarray([m_index[slot_of_chip[o_.chip], o_.core, o_.neuron] for o_ in cfg.outputs], np.int64)
    return DecodedNetwork(
        n_inputs=n_in, sites=sites, params=params, flags=flags,
        src=src.astype(np.int64), dst=cm[rows].astype(np.int64), dendrite=cdend[rows].astype(np.int64),
        weight=weight_entry[rows], cam_entry=(cm[rows] * ncam + ce[rows]).astype(np.int64),
        mask=cmask[rows].astype(np.int64), outputs=outputs,
        delay=None if terms is None else terms[rows].sum(axis=1), delay_spread=None if spread is None else spread[rows],
        delay_terms=None if terms is None else terms[rows])


def _entry_delays(st, profile, cc, ck, cn, ce):
    """Per live CAM entry: (the delay's stage parts [E, 3] (s), mismatch spread), or (None, None) when no entry has
    a delay bit.

    delay = [p ∨ m]·t₀ + p·t₁ + m·t₂ (the parts' sum) with t_i = V_th·C_dly,i/I_dly,i of the entry's core (a core that does
    not set SYPD_DLYi_P keeps the profile default); spread = √Σ(t_i·s_i)²/Σt_i over the stages used,
    s_i the profile's ``dly_mismatch`` (one factor per entry with the variance of the sum of the stages;
    :func:`neurodeploy.device.delays.entry_spread`)."""
    bits = np.zeros((2,) + st.cam_tag.shape, bool)
    for (c, k, n), entries in st.cam_flags.items():
        for e, fl in entries.items():
            if e < bits.shape[-1]:
                bits[:, c, k, n, e] = ("precise_delay" in fl, "mismatched_delay" in fl)
    p, m = bits[0, cc, ck, cn, ce], bits[1, cc, ck, cn, ce]
    if not (p.any() or m.any()):
        return None, None
    if not profile.models_delays:
        raise ConfigError(f"{profile.source or profile.name}: CAM entries set delay flags but the profile models no delay "
                          f"stages ({', '.join(DELAY_QUANTITIES)}); use a profile with SYPD_DLY0..2_P quantities")
    t = np.zeros(st.configured.shape[:2] + (3,))
    for c in range(len(st.chip_ids)):
        for k in st.core_ids[c]:
            cur = []
            for q in DELAY_QUANTITIES:
                pname = profile.quantity_to_parameter[q]
                code = st.params[c][k].get(pname, tuple(profile.parameters[pname].default))
                cur.append(float(profile.bias.to_current(pname, *code)))
            t[c, k] = profile.delay_times(cur)
    t0, t1, t2 = (t[cc, ck, i] for i in range(3))
    z = np.zeros_like(t0)
    terms = np.stack([physics.entry_delay(t0, z, z, p, m), physics.entry_delay(z, t1, z, p, m),
                      physics.entry_delay(z, z, t2, p, m)], axis=-1)
    return terms, entry_spread(t0, t1, t2, p, m, profile.analog.dly_mismatch)


def _parameters(st, profile, slot_c, core_k):
    """Codes → currents (A) per configured neuron (an absent parameter takes the profile default):
    ({quantity: [M]}, base weights W [C, cores, 4])."""
    params = {}
    for q in NEURON_QUANTITIES + tuple(f"Iw_{b}" for b in range(4)):
        pname = profile.quantity_to_parameter[q]
        default = tuple(profile.parameters[pname].default)
        table = np.zeros(st.configured.shape[:2])
        for c in range(len(st.chip_ids)):
            for k in st.core_ids[c]:
                code = st.params[c][k].get(pname, default)
                table[c, k] = float(profile.bias.to_current(pname, *code))
        params[q] = table
    W = np.stack([params.pop(f"Iw_{b}") for b in range(4)], -1)          # [C, cores, 4]
    return {q: t[slot_c, core_k] for q, t in params.items()}, W


def _arrivals(st, slot_c, core_k, neur_n, input_routes, slot_of_chip, cpc) -> np.ndarray:
    """Every (chip slot, core, tag, source) an event arrives with: the SRAM destinations of the
    configured neurons (source n_inputs + m) and the FPGA destinations of the inputs (source i)."""
    n_in = len(input_routes)
    slot_of_pos = {tuple(p): c for c, p in enumerate(st.positions.tolist())}
    j = np.arange(st.sram_tag.shape[-1])
    valid = j[None, :] < st.sram_len[slot_c, core_k, neur_n][:, None]              # [M, 4]
    mi, di = np.nonzero(valid)
    sc, sk, sn = slot_c[mi], core_k[mi], neur_n[mi]
    tx = st.positions[sc, 0] + st.sram_x[sc, sk, sn, di]
    ty = st.positions[sc, 1] + st.sram_y[sc, sk, sn, di]
    tslot = np.array([slot_of_pos.get((int(a), int(b)), -1) for a, b in zip(tx, ty)], np.int64)
    on_grid = tslot >= 0            # a hop leaving the chip grid (host monitor route) reaches no CAM
    cores_bits = st.sram_core[sc, sk, sn, di]
    arr = [np.zeros((0, 4), np.int64)]
    for k in range(cpc):
        sel = on_grid & (((cores_bits >> k) & 1) == 1)
        arr.append(np.stack([tslot[sel], np.full(sel.sum(), k), st.sram_tag[sc, sk, sn, di][sel], n_in + mi[sel]], 1))
    for i, routes in enumerate(input_routes):
        for chip, tag, core_mask in routes:
            if int(chip) not in slot_of_chip:
                continue
            for k, on in enumerate(core_mask):
                if on:
                    arr.append(np.array([[slot_of_chip[int(chip)], k, tag, i]], np.int64))
    return np.concatenate(arr)
