"""The simulation network: per-neuron circuit values, synapse entries and their index layouts, as a JAX pytree.

A :class:`SimNetwork` for N neurons fed by ``n_inputs`` input channels has three parts:

- ``neurons`` (:class:`Neurons`, the circuit values): ``currents[q]`` [N] — every quantity of
  :data:`neurodeploy.device.profile.NEURON_QUANTITIES` (A); ``capacitances[c]`` [N] — :data:`CAPACITANCES`
  (F), from the device profile unless overridden; flags [N] (bool): ``adaptation`` (AHP latch), ``dc``
  (DC latch), ``nmda_gate`` (NMDA gate latch; without it NMDA is an ungated second excitatory synapse),
  ``kill`` (the neuron never spikes); the chip's constants I_0, U_T, κ, V_th and the feedback's;
- ``entries`` (:class:`Entries`, [S]): ``src`` (index into the source vector [inputs (n_inputs); neurons
  (N)]), ``dst`` (neuron), ``dendrite`` (0 AMPA, 1 NMDA, 2 GABA, 3 SHUNT) and ``weight`` (the weight
  current I_w ≥ 0, A). Entries sharing (src, dst) add, as repeated CAM tags do on the chip; every entry
  carries its own mismatch factor;
- ``layout`` (:class:`.layout.Layout`): the entries' index layouts, for the engine's charge paths.

Every field reads as an attribute of the network (``net.currents``, ``net.weight``, ``net.slot_src``);
:meth:`SimNetwork.replace` changes fields by those names.

Optionally every entry has a synaptic ``delay`` [S] (s): its events reach the dendrite that much
later (see :mod:`.delays`); ``delay_spread`` [S] scales its mismatch (1: the chip's σ). A network
built without delays has ``delay = None`` and ``delay_slots = 0`` (static): it runs the delay-free
step unchanged. ``delay_slots`` D is the depth of the event history the step keeps (D steps back).

The entries' index layouts (ELL slots per dendrite, fan-outs per source) are :class:`.layout.Layout`.

Two builders: :func:`build_from_arrays` (the single entry point the hardware emulator uses after
decoding a config) and :func:`build_from_network` (the float model of a Network).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..device.profile import NEURON_QUANTITIES
from ..device.dendrites import DENDRITE_INDEX
from .dpi import PASSAGE_NODES, feedback_constants
from .errors import SimError
from .layout import Layout, ell, fanout, static

#: Per-neuron capacitances (F), named as in the device profile's ``analog`` section.
CAPACITANCES: tuple[str, ...] = ("C_mem", "C_ref", "C_ampa", "C_nmda", "C_gaba", "C_shunt", "C_ahp", "C_pulse", "C_pulse_ahp")
#: Per-neuron boolean flags.
FLAGS: tuple[str, ...] = ("adaptation", "dc", "nmda_gate", "kill")
DTYPE = jnp.float32
#: Builders' default: precise timing ((P1)–(P4), :mod:`.model`) off (the passage's: :data:`.dpi.PASSAGE_NODES`).
PRECISE_TIMING = False


@dataclass(frozen=True)
class Neurons:
    """The circuit values: per-neuron currents ``currents[q]`` (A) and ``capacitances[c]`` (F), the latches
    ``adaptation``, ``dc``, ``nmda_gate`` and ``kill`` (bool) — [N] arrays — and the chip's constants (static):
    leakage current ``I_0`` (A), thermal voltage ``U_T`` (V), slope factor ``kappa``, pulse-extender threshold
    ``V_th`` (V), the positive feedback's (gain, threshold, norm) as fractions of I_spkthr."""

    currents: dict
    capacitances: dict
    adaptation: jax.Array
    dc: jax.Array
    nmda_gate: jax.Array
    kill: jax.Array
    I_0: float = static()
    U_T: float = static()
    kappa: float = static()
    V_th: float = static()
    feedback: tuple = static()


@dataclass(frozen=True)
class Entries:
    """The synapse entries, [S] arrays: ``src`` (into [inputs; neurons]), ``dst`` (neuron), ``dendrite``
    (0 AMPA, 1 NMDA, 2 GABA, 3 SHUNT), ``weight`` (I_w, A); ``delay`` (s) and ``delay_spread`` or None."""

    weight: jax.Array
    src: jax.Array
    dst: jax.Array
    dendrite: jax.Array
    delay: jax.Array | None
    delay_spread: jax.Array | None


for _cls in (Neurons, Entries):
    jax.tree_util.register_dataclass(_cls)

#: Which part of a :class:`SimNetwork` holds each of its fields (read as ``net.<field>``, changed by ``replace``).
_PART = {f.name: part for part, cls in (("neurons", Neurons), ("entries", Entries), ("layout", Layout))
         for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class SimNetwork:
    """A network the simulator runs (a pytree: arrays are leaves, sizes and constants static).

    Three parts: the circuit values (``neurons``, :class:`Neurons`), the synapse entries (``entries``,
    :class:`Entries`) and their index layouts (``layout``, :class:`Layout`, derived from the entries by the
    builders); plus the static ``n_inputs``, ``dt`` (s), ``precise_timing`` (eqs. (P1)–(P4) of :mod:`.model`)
    and ``passage_nodes`` (:func:`.dpi.region_passage`). Every field of a part reads as an attribute of
    the network (``net.currents``, ``net.weight``, ``net.slot_src``, ...), and :meth:`replace` changes fields
    by those names.
    """

    neurons: Neurons
    entries: Entries
    layout: Layout
    n_inputs: int = static()
    dt: float = static()
    precise_timing: bool = static(False)
    passage_nodes: int = static(PASSAGE_NODES)

    def __getattr__(self, name):
        part = _PART.get(name)
        if part is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(object.__getattribute__(self, part), name)

    @property
    def n_neurons(self) -> int:
        return int(self.adaptation.shape[-1])

    @property
    def n_synapses(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def n_sources(self) -> int:
        return self.n_inputs + self.n_neurons

    def replace(self, **changes) -> "SimNetwork":
        """A copy with the named fields (of the network or of its parts) changed. Changing ``weight`` keeps the
        layouts (they index entries, not weights); changing ``src``, ``dst`` or ``dendrite`` needs new layouts
        (build the network anew)."""
        parts: dict = {}
        for name, value in changes.items():
            parts.setdefault(_PART.get(name), {})[name] = value
        top = parts.pop(None, {})
        new = {p: dataclasses.replace(getattr(self, p), **c) for p, c in parts.items()}
        return dataclasses.replace(self, **top, **new)


jax.tree_util.register_dataclass(SimNetwork)


@dataclass
class NetworkIndex:
    """How a :class:`SimNetwork` built from a Network maps back to the network.

    ``synapse_*`` [n_syn] list the network's synapses (projection, local pre/post, signed unitless w,
    weight_scale in A per unit); ``entry_synapse`` [S] and ``entry_sign`` [S] give each entry's synapse
    and sign, so that ``weight[k] = max(entry_sign[k]·w[entry_synapse[k]], 0)·synapse_scale[…]``.
    """

    output_indices: np.ndarray
    offsets: dict
    population_slices: dict
    synapse_projection: np.ndarray
    synapse_pre: np.ndarray
    synapse_post: np.ndarray
    synapse_w: np.ndarray
    synapse_scale: np.ndarray
    entry_synapse: np.ndarray
    entry_sign: np.ndarray
    synapse_delay: np.ndarray | None = None     # [n_syn] (s), None without delays


# ---------------------------------------------------------------------------------------------
def default_params(profile, n_neurons: int) -> dict[str, np.ndarray]:
    """Every neuron quantity at the profile's default bias codes, as [N] arrays (A)."""
    d = profile.default_currents()
    return {q: np.full(n_neurons, d[q], dtype=np.float64) for q in NEURON_QUANTITIES}


def _as_1d(name: str, v, n: int, kind: str) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim == 0:
        a = np.full(n, a)
    if a.shape != (n,):
        raise SimError(f"{kind} {name!r}: expected shape ({n},), got {a.shape}")
    return a


def build_from_arrays(n_inputs: int, params: dict, flags: dict, src, dst, dendrite, weight, profile, *,
                      dt: float = 1e-3, capacitances: dict | None = None, feedback: dict | None = None,
                      delay=None, delay_spread=None, max_delay: float | None = None,
                      precise_timing: bool | None = None, passage_nodes: int | None = None) -> SimNetwork:
    """Build a :class:`SimNetwork` from plain arrays — the single entry point to the physics.

    ``params``: every quantity of NEURON_QUANTITIES as an [N] array (A; scalars broadcast).
    ``flags``: ``adaptation``, ``dc``, ``nmda_gate``, ``kill`` as [N] bool arrays (absent = False).
    ``src`` [S] index into [inputs; neurons]; ``dst`` [S] neuron; ``dendrite`` [S] 0 AMPA, 1 NMDA,
    2 GABA, 3 SHUNT; ``weight`` [S] weight current I_w ≥ 0 (A). ``dt`` (s) is the default step of
    :func:`neurodeploy.sim.simulate`. ``capacitances`` override the profile's (F, scalar or [N]);
    ``feedback`` overrides the profile's positive-feedback constants (:func:`neurodeploy.sim.dpi.feedback_constants`).
    ``delay`` [S] (s, finite, ≥ 0; scalar broadcasts): per-entry synaptic delay; None (default) builds the
    delay-free network. ``delay_spread`` [S] scales each entry's delay mismatch (default 1). ``max_delay``
    (s): the longest delay the network must hold (default: twice its largest delay, room for mismatch);
    delays beyond it (e.g. mismatched ones) are clipped to it. ``precise_timing``: events act at their spike
    times inside the bin ((P1)–(P4) of :mod:`.model`); ``passage_nodes``: the Gauss–Legendre nodes that time a
    spike inside its bin (:func:`.dpi.region_passage`); defaults :data:`PRECISE_TIMING`, :data:`.dpi.PASSAGE_NODES`.
    """
    n, cur = _neuron_currents(n_inputs, params, flags)
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise SimError(f"flags: unknown {', '.join(unknown)} (known: {', '.join(FLAGS)})")
    fl = {f: _as_1d(f, flags.get(f, False), n, "flags").astype(bool) for f in FLAGS}
    caps = {c: np.full(n, getattr(profile.analog, c), dtype=np.float64) for c in CAPACITANCES}
    for c, v in (capacitances or {}).items():
        if c not in CAPACITANCES:
            raise SimError(f"capacitances: unknown {c!r} (known: {', '.join(CAPACITANCES)})")
        a = _as_1d(c, v, n, "capacitances").astype(np.float64)
        if not np.all(np.isfinite(a) & (a > 0)):
            raise SimError(f"capacitances {c!r}: must be positive and finite")
        caps[c] = a

    src, dst, dendrite, weight = _synapse_arrays(n_inputs + n, n, src, dst, dendrite, weight)
    if not (np.isfinite(dt) and dt > 0):
        raise SimError(f"dt: must be a positive time in seconds, got {dt}")
    fb = feedback_constants(profile)
    for k, v in (feedback or {}).items():
        if k not in fb:
            raise SimError(f"feedback: unknown constant {k!r} (known: {', '.join(fb)})")
        fb[k] = float(v)

    k = PASSAGE_NODES if passage_nodes is None else passage_nodes
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= k <= 256):
        raise SimError(f"passage_nodes: expected an integer from 1 to 256 (Gauss–Legendre nodes), got {k!r}")
    n_src = n_inputs + n
    dly, spread, slots = _delays(delay, delay_spread, max_delay, src.shape[0], dt)
    groups, slot_entry, slot_src = ell(n_src, n, src, dst, dendrite)
    fan_entry, fan_target, fan_rec = fanout(n_src, n, src, dst, dendrite)
    a = profile.analog
    return SimNetwork(
        neurons=Neurons(
            currents={q: jnp.asarray(v, DTYPE) for q, v in cur.items()},
            capacitances={c: jnp.asarray(v, DTYPE) for c, v in caps.items()},
            adaptation=jnp.asarray(fl["adaptation"]), dc=jnp.asarray(fl["dc"]),
            nmda_gate=jnp.asarray(fl["nmda_gate"]), kill=jnp.asarray(fl["kill"]),
            I_0=float(a.I_0), U_T=float(a.U_T), kappa=float(a.kappa), V_th=float(a.V_th),
            feedback=(fb["gain"], fb["threshold"], fb["norm"])),
        entries=Entries(
            weight=jnp.asarray(weight, DTYPE), src=jnp.asarray(src, jnp.int32), dst=jnp.asarray(dst, jnp.int32),
            dendrite=jnp.asarray(dendrite, jnp.int32), delay=None if dly is None else jnp.asarray(dly, DTYPE),
            delay_spread=None if spread is None else jnp.asarray(spread, DTYPE)),
        layout=Layout(
            slot_entry=tuple(jnp.asarray(a) for a in slot_entry), slot_src=tuple(jnp.asarray(a) for a in slot_src),
            fan_entry=jnp.asarray(fan_entry), fan_target=jnp.asarray(fan_target), groups=groups,
            delay_slots=slots, fan_rec=fan_rec),
        n_inputs=int(n_inputs), dt=float(dt),
        precise_timing=bool(PRECISE_TIMING if precise_timing is None else precise_timing),
        passage_nodes=int(k),
    )


def _delays(delay, spread, max_delay, s: int, dt: float):
    """Check the per-entry delays (s) and spreads → (delay [S] or None, spread [S] or None, slots D).

    D = ⌈max_delay/dt⌉ + 2 history steps: an entry's events are read at steps t − k and t − k − 1
    (k = ⌊d/dt⌋ ≤ D − 2), so delays up to (D − 1)·dt are held exactly."""
    if delay is None:
        if spread is not None:
            raise SimError("delay_spread: given without delay")
        return None, None, 0
    d = _as_1d("delay", delay, s, "synapses").astype(np.float64)
    bad = ~np.isfinite(d) | (d < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SimError(f"synapses delay[{i}]: delays must be finite and >= 0 s, got {d[i]}")
    sp = np.ones(s) if spread is None else _as_1d("delay_spread", spread, s, "synapses").astype(np.float64)
    if not np.all(np.isfinite(sp) & (sp >= 0)):
        raise SimError("synapses delay_spread: must be finite and >= 0 (1 = the chip's mismatch)")
    longest = 2.0 * float(d.max(initial=0.0)) if max_delay is None else float(max_delay)
    if not (np.isfinite(longest) and longest >= d.max(initial=0.0)):
        raise SimError(f"max_delay: must be finite and >= the largest delay ({d.max(initial=0.0)} s), got {max_delay}")
    return d, sp, int(np.ceil(longest / dt - 1e-9)) + 2


def _neuron_currents(n_inputs, params, flags) -> tuple[int, dict]:
    """Check ``params`` (every quantity, positive and finite) → (N, {quantity: [N] float64 A})."""
    missing = [q for q in NEURON_QUANTITIES if q not in params]
    unknown = [q for q in params if q not in NEURON_QUANTITIES]
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])
        raise SimError(f"params: {'; '.join(parts)} (expected exactly: {', '.join(NEURON_QUANTITIES)})")
    n = None
    for q in NEURON_QUANTITIES:
        a = np.asarray(params[q])
        if a.ndim == 1:
            n = a.shape[0] if n is None else n
    for f in FLAGS:
        if f in flags and np.asarray(flags[f]).ndim == 1:
            n = np.asarray(flags[f]).shape[0] if n is None else n
    if n is None:
        raise SimError("params: give at least one quantity as an [N] array so the number of neurons is known")
    if not (isinstance(n_inputs, (int, np.integer)) and n_inputs >= 0):
        raise SimError(f"n_inputs: expected a non-negative integer, got {n_inputs!r}")
    cur = {}
    for q in NEURON_QUANTITIES:
        a = _as_1d(q, params[q], n, "params").astype(np.float64)
        bad = ~np.isfinite(a) | (a <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SimError(f"params {q!r}[{i}]: currents must be positive and finite, got {a[i]}")
        cur[q] = a
    return n, cur


def _synapse_arrays(n_src: int, n: int, src, dst, dendrite, weight):
    """Check the synapse columns (equal lengths, indices in range, weight currents finite and ≥ 0 A)."""
    src = np.asarray(src, dtype=np.int64).reshape(-1)
    dst = np.asarray(dst, dtype=np.int64).reshape(-1)
    dendrite = np.asarray(dendrite, dtype=np.int64).reshape(-1)
    weight = np.asarray(weight, dtype=np.float64).reshape(-1)
    s = src.shape[0]
    if not (dst.shape[0] == dendrite.shape[0] == weight.shape[0] == s):
        raise SimError(f"synapses: src, dst, dendrite and weight must have equal lengths, got {s}, {dst.shape[0]}, "
                       f"{dendrite.shape[0]}, {weight.shape[0]}")
    for name, a, hi in (("src", src, n_src), ("dst", dst, n), ("dendrite", dendrite, 4)):
        bad = (a < 0) | (a >= hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SimError(f"synapses {name}[{i}]: {a[i]} out of range 0..{hi - 1}")
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SimError(f"synapses weight[{i}]: weight currents must be finite and >= 0 A (the dendrite sets the sign), got {weight[i]}")
    return src, dst, dendrite, weight


def build_from_network(network, profile, *, sign_pairs: bool = False, **options) -> tuple[SimNetwork, NetworkIndex]:
    """Float model of a Network: ``weight = |w|·weight_scale`` on the projection's dendrite
    ("auto": w > 0 → AMPA, w < 0 → GABA); flags from the populations (``adaptation``, ``dc_enabled``,
    ``nmda_gate``); nobody killed; ``dt = network.dt``.

    ``sign_pairs=True`` gives every "auto" synapse two entries, AMPA for its positive and GABA for its
    negative part, so that training can move a weight through zero (see :mod:`neurodeploy.sim.params`).
    ``options`` go to :func:`build_from_arrays` (capacitances, feedback, max_delay, precise_timing, ...). The projections' ``delay``
    (s) become the entries' delays when any projection gives one (else the network is delay-free).
    Returns (network, :class:`NetworkIndex`).
    """
    offs = network.offsets()
    n = network.n_neurons
    params = network.neuron_params(profile)
    flags = {"adaptation": [], "dc": [], "nmda_gate": []}
    slices = {}
    for p in network.populations:
        flags["adaptation"].append(np.full(p.size, p.adaptation))
        flags["dc"].append(np.full(p.size, p.dc_enabled))
        flags["nmda_gate"].append(np.full(p.size, p.nmda_gate))
        slices[p.name] = slice(offs[p.name], offs[p.name] + p.size)
    flags = {k: np.concatenate(v) for k, v in flags.items()}
    flags["kill"] = np.zeros(n, dtype=bool)

    syn_proj, syn_pre, syn_post, syn_w, syn_scale, syn_delay = [], [], [], [], [], []
    e_src, e_dst, e_dend, e_syn, e_sign = [], [], [], [], []
    n_syn = 0
    for k, pr in enumerate(network.projections):
        pre, post, w = network.projection_coo(k)
        m = pre.shape[0]
        src = pre + (0 if pr.source == "input" else network.n_inputs + offs[pr.source])
        dst = post + offs[pr.target]
        sid = np.arange(n_syn, n_syn + m)
        syn_proj.append(np.full(m, k)); syn_pre.append(pre); syn_post.append(post)
        syn_w.append(w); syn_scale.append(np.full(m, pr.weight_scale))
        d = network.projection_delay(k)
        syn_delay.append(np.zeros(m) if d is None else d)
        n_syn += m
        if pr.synapse == "auto" and sign_pairs:
            for dend, sign in ((DENDRITE_INDEX["ampa"], 1), (DENDRITE_INDEX["gaba"], -1)):
                e_src.append(src); e_dst.append(dst); e_dend.append(np.full(m, dend)); e_syn.append(sid)
                e_sign.append(np.full(m, sign))
        elif pr.synapse == "auto":
            e_src.append(src); e_dst.append(dst); e_syn.append(sid)
            e_dend.append(np.where(w > 0, DENDRITE_INDEX["ampa"], DENDRITE_INDEX["gaba"]))
            e_sign.append(np.where(w > 0, 1, -1))
        else:
            e_src.append(src); e_dst.append(dst); e_syn.append(sid)
            e_dend.append(np.full(m, DENDRITE_INDEX[pr.synapse])); e_sign.append(np.ones(m, dtype=np.int64))

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    synapse_w, synapse_scale = cat(syn_w, np.float64), cat(syn_scale, np.float64)
    entry_syn, entry_sign = cat(e_syn, np.int64), cat(e_sign, np.int64)
    weight = np.maximum(entry_sign * synapse_w[entry_syn], 0.0) * synapse_scale[entry_syn]
    synapse_delay = cat(syn_delay, np.float64) if network.has_delays else None
    if synapse_delay is not None and "delay" not in options:
        options = {**options, "delay": synapse_delay[entry_syn]}
    net = build_from_arrays(network.n_inputs, params, flags, cat(e_src, np.int64), cat(e_dst, np.int64),
                            cat(e_dend, np.int64), weight, profile, dt=network.dt, **options)
    index = NetworkIndex(
        output_indices=network.output_indices(), offsets=offs, population_slices=slices,
        synapse_projection=cat(syn_proj, np.int64), synapse_pre=cat(syn_pre, np.int64),
        synapse_post=cat(syn_post, np.int64), synapse_w=synapse_w, synapse_scale=synapse_scale,
        entry_synapse=entry_syn, entry_sign=entry_sign, synapse_delay=synapse_delay,
    )
    return net, index
