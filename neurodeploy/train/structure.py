"""A Network as trainable arrays, and the trained arrays written back as a Network.

Every synapse *slot* of the network becomes a trainable weight — for a dense (or sidecar) projection
all n_source × n_target pairs, zeros included; for a sparse projection every listed (pre, post)
pair, zeros included — so a synapse that starts at zero (or is masked off by the fan-in
constraint) can still be trained, and a zero never silently disappears. Slots are numbered in the
order :func:`neurodeploy.quantize.quantizer.synapses_of` lists the non-zero synapses of the written
network (projection by projection, row-major), which lets the quantization-aware phase pair each
slot with the quantizer's record of it.

Entries on the simulated chip (see :class:`neurodeploy.sim.Parametrization`):

- ``synapse: auto`` — two entries, AMPA for w > 0 and GABA for w < 0:
  I_w = max(±w, 0)·weight_scale (A);
- a fixed dendrite (ampa, nmda, gaba, shunt) — one entry, I_w = |w|·weight_scale.

Write-back (:meth:`Structure.to_network`) keeps each projection's form (dense stays dense, sparse keeps
its pre/post lists; a sidecar becomes dense) and puts the trained currents on the populations: a
current shared by a population is written as a scalar. Round trip: ``Structure(network).to_network(
init())`` reproduces the network's weights exactly (float32, the training precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..device.dendrites import DENDRITE_INDEX

AUTO = "auto"


def f32_list(a) -> list:
    """float32 values as the shortest decimal that reads back to the same float32 (stable JSON)."""
    return [float(str(x)) for x in np.asarray(a, np.float32).reshape(-1)]


@dataclass
class Slots:
    """The trainable synapse slots of a network (parallel arrays [n_syn])."""

    proj: np.ndarray      # projection index
    pre: np.ndarray       # local source index
    post: np.ndarray      # local target index
    src: np.ndarray       # global source (0..n_in−1 inputs, n_in + j neuron j)
    dst: np.ndarray       # global target neuron
    w: np.ndarray         # initial unitless signed weight
    scale: np.ndarray     # weight_scale (A per unit)
    auto: np.ndarray      # bool: synapse "auto" (sign may change)
    dendrite: np.ndarray  # fixed dendrite index (auto: −1)

    @property
    def n(self) -> int:
        return int(self.w.shape[0])


def network_slots(network) -> Slots:
    """Every synapse slot of ``network`` (zeros included), in quantizer order."""
    offs = network.offsets()
    parts = []
    for k, pr in enumerate(network.projections):
        n_src, n_tgt = network.source_size(pr.source), network.population(pr.target).size
        if pr.pre is not None:
            pre, post = np.asarray(pr.pre, np.int64), np.asarray(pr.post, np.int64)
            w = np.asarray(pr.w, np.float64)
        else:
            mat = network.dense_weight(k)
            pre, post = np.divmod(np.arange(n_src * n_tgt), n_tgt)
            w = mat.reshape(-1)
        src = pre + (0 if pr.source == "input" else network.n_inputs + offs[pr.source])
        m = w.size
        parts.append((np.full(m, k), pre, post, src, post + offs[pr.target], w, np.full(m, pr.weight_scale),
                      np.full(m, pr.synapse == AUTO), np.full(m, -1 if pr.synapse == AUTO else DENDRITE_INDEX[pr.synapse])))
    types = (np.int64,) * 5 + (np.float64, np.float64, bool, np.int64)
    if not parts:
        return Slots(*(np.zeros(0, t) for t in types))
    return Slots(*(np.concatenate([p[i] for p in parts]).astype(t) for i, t in enumerate(types)))


class Structure:
    """A network ready for training: the simulator network, its parametrization, slots and populations.

    ``currents``: neuron quantities to train, one value per population (shared, as the chip's
    per-core biases are); empty: weights only.
    """

    def __init__(self, network, profile, currents=(), learn_delays: bool = False, max_delay: float | None = None,
                 seed: int = 0, precise_timing: bool = False):
        from ..sim import Parametrization, build_from_arrays

        self.network, self.profile = network, profile
        self.slots = sl = network_slots(network)
        offs = network.offsets()
        n = network.n_neurons
        self.pop_of = np.zeros(n, np.int64)
        for i, p in enumerate(network.populations):
            self.pop_of[offs[p.name]:offs[p.name] + p.size] = i
        self.outputs = network.output_indices()
        self.readout = network.readout_matrix()               # [n_output_neurons, n_channels] 0/1
        # entries: auto → AMPA(+) and GABA(−); fixed dendrite → one |w| entry
        e_syn, e_sign, e_dend, e_abs = [], [], [], []
        ids = np.arange(sl.n)
        a = ids[sl.auto]
        e_syn += [a, a]
        e_sign += [np.ones(a.size), -np.ones(a.size)]
        e_dend += [np.full(a.size, DENDRITE_INDEX["ampa"]), np.full(a.size, DENDRITE_INDEX["gaba"])]
        e_abs += [np.zeros(2 * a.size, bool)]
        f = ids[~sl.auto]
        e_syn.append(f)
        e_sign.append(np.ones(f.size))
        e_dend.append(sl.dendrite[f])
        e_abs.append(np.ones(f.size, bool))
        self.entry_syn = np.concatenate(e_syn).astype(np.int64)
        entry_sign = np.concatenate(e_sign)
        entry_abs = np.concatenate(e_abs)
        w0 = sl.w[self.entry_syn]
        i_w = np.where(entry_abs, np.abs(w0), np.maximum(entry_sign * w0, 0.0)) * sl.scale[self.entry_syn]
        flags = {"adaptation": np.repeat([p.adaptation for p in network.populations], [p.size for p in network.populations]),
                 "dc": np.repeat([p.dc_enabled for p in network.populations], [p.size for p in network.populations]),
                 "nmda_gate": np.repeat([p.nmda_gate for p in network.populations], [p.size for p in network.populations])}
        self.params = network.neuron_params(profile)          # float64 [N] per quantity (A)
        self._setup_delays(learn_delays, max_delay, seed)
        dly = {} if self.slot_delay is None else {"delay": self.slot_delay[self.entry_syn], "max_delay": self.delay_bound}
        self.net = build_from_arrays(network.n_inputs, self.params, flags, sl.src[self.entry_syn],
                                     sl.dst[self.entry_syn], np.concatenate(e_dend), i_w, profile, dt=network.dt,
                                     precise_timing=precise_timing, **dly)
        self.par = Parametrization.from_entries(self.net, self.entry_syn, entry_sign, sl.scale[self.entry_syn], sl.w,
                                                currents=tuple(currents), entry_abs=entry_abs, neuron_group=self.pop_of)

    # ---- delays ------------------------------------------------------------------------------
    def _setup_delays(self, learn: bool, max_delay: float | None, seed: int) -> None:
        """Per-slot delays (s): the network's (0 where a projection gives none), or with ``learn`` and a delay-free
        network a seeded uniform draw in [0, bound]. ``delay_bound`` (s) = min(``max_delay``, the longest delay the
        profile's delay stages produce, the model format's MAX_DELAY); ``slot_delay`` None: no delays at all."""
        from ..device.delays import max_delay as chip_max_delay, stage_grids
        from ..network import MAX_DELAY
        from ..sim.errors import SimError

        network, sl = self.network, self.slots
        self.learn_delays = bool(learn)
        has = network.has_delays
        self.slot_delay = None
        if not (has or learn):
            self.delay_bound = 0.0
            return
        chip = chip_max_delay(stage_grids(self.profile)) if self.profile.models_delays else 0.0
        bound = min(MAX_DELAY, chip, float(max_delay) if max_delay else MAX_DELAY)
        if learn and not bound > 0:
            raise SimError(f"--learn-delays: the delay range is empty (profile {self.profile.name} models no delay "
                           f"stages, or --max-delay is 0); use a profile with SYPD_DLY0..2_P")
        d = np.zeros(sl.n)
        if has:
            for k in range(len(network.projections)):
                dk = self._projection_slot_delays(k)
                if dk is not None:
                    d[sl.proj == k] = dk
        elif learn:
            d = np.random.default_rng([seed, 15]).uniform(0.0, bound, sl.n)
        self.delay_bound = float(max(bound, d.max(initial=0.0)))
        self.slot_delay = np.minimum(d, self.delay_bound) if learn else d
        #: theta["delays"] is in units of ``delay_unit`` (s): an Adam step of lr 0.01 moves a delay by 0.1·dt
        self.delay_unit = 10.0 * network.dt

    def _projection_slot_delays(self, k: int) -> np.ndarray | None:
        """Projection k's delays over its slots (zeros included), or None when it gives none."""
        pr = self.network.projections[k]
        if pr.delay is None:
            return None
        d = np.asarray(pr.delay, np.float64)
        n = int(np.sum(self.slots.proj == k))
        return np.full(n, float(d)) if d.ndim == 0 else d.reshape(-1)

    def init_theta(self) -> dict:
        """The trainable coordinates of the network: the parametrization's, plus ``delays`` [n_syn] (in
        ``delay_unit``) when delays are learned."""
        import jax.numpy as jnp

        theta = self.par.init()
        if self.learn_delays:
            theta["delays"] = jnp.asarray(self.slot_delay / self.delay_unit, jnp.float32)
        return theta

    def apply(self, theta, mask=None):
        """The simulator network of ``theta`` (currents, weights and, when learned, delays d = u·delay_unit (s),
        clipped to [0, delay_bound]; differentiable w.r.t. theta)."""
        import jax.numpy as jnp

        th = {"log_currents": theta["log_currents"], "weights": theta["weights"]}
        net = self.par.apply(self.net, th, mask)
        if "delays" in theta:
            d = jnp.clip(jnp.asarray(theta["delays"]) * self.delay_unit, 0.0, self.delay_bound)
            net = net.replace(delay=d[self.entry_syn])
        return net

    def delays_of(self, theta) -> np.ndarray | None:
        """Per-slot delays (s) of theta, clipped to the range (the network's fixed delays when not learned)."""
        if "delays" not in theta:
            return self.slot_delay
        return np.clip(np.asarray(theta["delays"], np.float64) * self.delay_unit, 0.0, self.delay_bound)

    # ---- bounds ------------------------------------------------------------------------------
    def current_bounds(self, margin: float = 1e-3) -> dict:
        """Per trainable current: (lo, hi) bounds on log_currents [P] so every neuron's current stays
        inside what its bias generator can produce (range shrunk by ``margin``, relative)."""
        out = {}
        for q in self.par.trainable:
            pname = self.profile.quantity_to_parameter[q]
            lo, hi = self.profile.bias.range(pname)
            ref = self.params[q]
            lo_n = np.log(lo * (1 + margin) / ref)
            hi_n = np.log(hi * (1 - margin) / ref)
            P = len(self.network.populations)
            out[q] = (np.array([lo_n[self.pop_of == p].max() for p in range(P)], np.float32),
                      np.array([hi_n[self.pop_of == p].min() for p in range(P)], np.float32))
        return out

    def weight_bound(self) -> np.ndarray:
        """Largest |w| per slot [n_syn]: one CAM entry's current S(1111) = 4·max(SYAM_W*_P) (A) over weight_scale."""
        hi = self.profile.bias.range(self.profile.quantity_to_parameter["Iw_0"])[1]
        return (4 * hi / self.slots.scale).astype(np.float32)

    # ---- write-back --------------------------------------------------------------------------
    def currents_of(self, theta) -> dict:
        """Trained currents per quantity, per neuron [N] (A, float64)."""
        out = {}
        for q in self.par.trainable:
            lc = np.asarray(theta["log_currents"][q], np.float64)[self.pop_of]
            out[q] = self.params[q] * np.exp(lc)
        return out

    def to_network(self, theta, weights=None, metadata: dict | None = None):
        """A Network with theta's currents and ``weights`` [n_syn] (default theta's; unitless signed;
        fixed-dendrite projections are written as magnitudes)."""
        from ..network import network_from_dict

        w = np.asarray(theta["weights"] if weights is None else weights, np.float32)
        w = np.where(self.slots.auto, w, np.abs(w)).astype(np.float32)
        raw = self.network.to_json_dict()
        offs = self.network.offsets()
        cur = self.currents_of(theta)
        for i, p in enumerate(self.network.populations):
            for q, v in cur.items():
                vals = v[offs[p.name]:offs[p.name] + p.size]
                raw["populations"][i][q] = float(vals[0]) if np.all(vals == vals[0]) else [float(x) for x in vals]
        for k, pr in enumerate(self.network.projections):
            sel = self.slots.proj == k
            d = raw["projections"][k]
            if pr.pre is not None:
                d["w"] = f32_list(w[sel])
            else:
                d.pop("sidecar", None)
                n_tgt = self.network.population(pr.target).size
                vals = f32_list(w[sel])
                d["weight"] = [vals[r * n_tgt:(r + 1) * n_tgt] for r in range(len(vals) // n_tgt)]
        if "delays" in theta:
            self._write_delays(raw, theta)
        if metadata is not None:
            raw["metadata"] = metadata
        return network_from_dict(raw, "trained model")

    def _write_delays(self, raw: dict, theta) -> None:
        """Learned delays into each projection's ``delay`` (s, float32 decimals), in the form of its weights."""
        d = self.delays_of(theta)
        for k, pr in enumerate(self.network.projections):
            vals = f32_list(d[self.slots.proj == k])
            if pr.pre is not None:
                raw["projections"][k]["delay"] = vals
            else:
                n_tgt = self.network.population(pr.target).size
                raw["projections"][k]["delay"] = [vals[r * n_tgt:(r + 1) * n_tgt] for r in range(len(vals) // n_tgt)]
