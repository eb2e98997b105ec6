"""The model: a network's circuit constants and one step of its state, written as the equations of :mod:`.dpi` read.

- :class:`Circuit` — every per-neuron constant a step uses, evaluated once per call from the (mismatched)
  currents and capacitances by :func:`circuit`: time constants (1), decay factors (2), charge per event (4),
  refractory period (3), the membrane's constants of eq. (7) and the spike onset I_b;
- :class:`SimState` — the state between steps (currents in A, times in s);
- :func:`step` — ``step(circuit, state, charge)``: one bin of dt seconds, given the bin's synaptic charge.

The model knows nothing of how the charge is summed (:mod:`.charge`, the engine's paths), of XLA's fusion
(:mod:`.fusion`) or of how its gradient is taken (:mod:`.remat`): the engine (:mod:`.engine`) passes in the
charge, may pass ``store`` (an identity on values, :func:`.fusion.stored`) and may replace the spike-timing
computation by the values a forward pass already found (``timing``). The reference simulator
(:mod:`.reference`) runs :func:`step` as it is.

**One step** (dt s; in this order, equation numbers of :mod:`.dpi`):

1. *Events.* Each dendrite's DPI jumps by ``Q·ΔI/I_w`` (A): Q = Σ count·I_w of the bin's events on it
   (eq. (Q1) of :mod:`.charge`, from the engine), ΔI/I_w the charge per event per ampere of weight (4).
   Events act at the start of the bin (the pulse, ~10 µs, is far shorter than the bin) — or, with precise
   spike timing, at their spike times (P1)–(P3) below.
2. *Synapses and AHP* decay towards I_0 over the bin (2); the membrane sees their exact mean over the bin,
   ``I_0 + (I − I_0)·φ₁(−dt/τ)``.
3. *Membrane.* ``I_in = max(I_ampa + g·I_nmda − I_gaba + I_dc, I_0)`` (A; g the NMDA gate where its latch is
   on, else 1; the floor's derivative is leaky, :func:`.surrogate.floor`), ``L = 1 + (I_ahp + I_shunt)/I_tau``;
   one exponential-Rosenbrock step of (7) over the part of the bin outside the refractory period,
   ``h = clip(dt − t_refr, 0, 2·dt)`` (s).
4. *Spike.* Where the step reaches the onset z_b, the passage to I_spkthr is timed (:func:`spike_timing`);
   if it completes in the bin the neuron spikes: I_mem resets to I_0 and is refractory for t_ref from the
   spike time on (the time left over carries into the next bin). The spike drives the AHP (2), (4).

**Precise spike timing** (``SimNetwork.precise_timing``; after Morrison et al. 2007's continuous spike times
in discrete time). Without it a spike computed at t_s inside bin k reaches its targets at the start of bin
k + 1, up to a bin late; on the chip it arrives within microseconds (the transmission latency, ~1 µs, is
neglected against dt). With it the state carries each spike's *lateness* a = dt − t_s (s, from
:func:`spike_timing`), and the next step delivers the event as if it had arrived at t_s. For one event of
jump ΔI (A, (4)) on a DPI of time constant τ, the exact linear DPI (2) has, at the start of bin k + 1 and
over bin k after the arrival,

    I(start of k + 1) − I_0 ← … + ΔI·exp(−a/τ),   ∫_{t_s}^{dt} ΔI·exp(−(t − t_s)/τ) dt = ΔI·τ·(1 − exp(−a/τ))

A dendrite collects many events of different lateness; the engine sums, besides the charge Q of (Q1),
its first moment in lateness

    P[b, d, n] = Σ_{k: d_k = d, n_k = n} e[b, s_k]·a[b, s_k]·I_w,k          (A·s; inputs: below)   (P1)

with one more evaluation of (Q1) on the event vector e·a, and the step uses the charge-weighted mean
lateness ā = P/Q (s; 0 where Q = 0):

    I(start of k + 1) = I + ΔI·exp(−ā/τ)                                                     (P2)
    Ī(bin k + 1) = I_0 + (I(start of k + 1) − I_0)·φ₁(−dt/τ) + ΔI·(τ/dt)·(1 − exp(−ā/τ))     (P3)

(P2) is the synapse at the start of the bin; (P3) the membrane's mean input adds, to the bin's own mean
(2), what the membrane missed in bin k — the input between the arrivals and the bin boundary, delivered
one bin late but with its full integral (the total input ∫ I dt of every event is ΔI·τ, as without precise
timing; it is the timing that improves). Both are exact for one event per dendrite and bin; for several,
exp(−ā/τ) differs from the mean of exp(−a/τ) by at most Var(a)/(2τ²) ≤ dt²/(8τ²) relative (Jensen; 0.1 %
at dt = 1 ms, τ = 10 ms). A neuron's own AHP jumps at its spike and decays over the rest of the bin,

    I_ahp(end of k) = I_0 + (I_ahp − I_0)·exp(−dt/τ_ahp) + s·ΔI_ahp·exp(−a/τ_ahp)              (P4)

(no missed mean: after its spike the neuron is reset and refractory). External inputs given as counts per
bin arrive at its start (a = 0), timestamped ones (``input_lateness``, :mod:`.timed_inputs`) at their times
(a = ⌈t/dt⌉·dt − t). Through synaptic delays an event keeps its time: it arrives d later, delivered by the
first step boundary after that with the lateness left ((D2)–(D3) of :mod:`.delays`). Spikes still act on their
targets only from the next step on (within the bin of the spike the membrane has its frozen input), so
the remaining error is the one-bin shift of the missed input. Gradients: a is a spike time and carries
none (stop-gradient; through a delay its shift f·dt carries the delay's, (D3)); Q and P carry the weights' and the spikes' (surrogate) gradients. Measured
(``tools/bench_precision.py``, docs/performance.md): on the benchmark networks at dt = 1 ms the spike-count
error against the 0.05 ms run is 0.3–0.7 % with or without it (except chaotic networks, at their floor); what
set that error was the spike's own time inside its bin, the passage quadrature (``SimNetwork.passage_nodes``,
:func:`.dpi.region_passage`).

Gradients (the surrogate model): the spike is the exact event forward and the surrogate :func:`.surrogate.spike`
of v = (z − z_b)/(1 + w_b) backward; the reset and the spike time inside the bin carry no gradient (the
stop-gradients of :func:`spike_timing`: a "detached reset"); t_ref does, through the next bin's h.

**Adding a mechanism** (e.g. short-term plasticity, which the CAM carries per entry): its variables go into
:class:`SimState` (and :func:`initial_state`, :data:`RECORDED`), its constants into :class:`Circuit`
(evaluated in :func:`circuit`), its equations into :func:`step`. A mechanism that scales the events
(a per-source efficacy) multiplies the source-event vector the engine builds from ``x`` and
``state.spikes``; every charge path takes that vector, so none of them changes — only the paths that sum
the inputs' charge before the time loop (``"*-pre"``, :mod:`.charge`) assume constant input efficacy and
would be switched off for such a network in :func:`.engine.choose_path`. Event arrival times inside a
bin enter at step 1 (precise spike timing, above), leaving 3–4 as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import dpi
from .network import DTYPE, Neurons, SimNetwork
from .surrogate import floor as floor_fn
from .surrogate import spike as spike_fn

#: The four synapse DPIs, in dendrite order (0 AMPA, 1 NMDA, 2 GABA, 3 SHUNT).
SYNAPSES = ("ampa", "nmda", "gaba", "shunt")
#: Names of the recorded state variables (record=True), each [batch, T, N] (A).
RECORDED = ("I_mem", "I_ampa", "I_nmda", "I_gaba", "I_shunt", "I_ahp")
#: Recordable by name with precise spike timing only (not part of record=True): ``"lateness"``, each step's
#: spike lateness a = dt − t_s [batch, T, N] (s, 0 where no spike; ``SimState.lateness``): a spike of bin t is
#: at (t + 1)·dt − a from the start of the run.
RECORDED_TIMING = ("lateness",)


class SimState(NamedTuple):
    """The state between steps (leading batch axis; every current in A, time in s).

    ``I_ampa`` … ``I_shunt``: the four synapse DPIs; ``I_ahp`` the adaptation DPI; ``t_refr`` the
    refractory time still to serve (negative: integration time owed from the last bin); ``spikes``
    the spikes of the last bin, delivered to their targets at the next step. ``delayed`` (networks
    with delays only, else None): [D, n_sources] source-event vectors of the last D steps, newest first
    (with precise spike timing [D, 2·n_sources]: each followed by its moment e·a, (D3) of :mod:`.delays`).
    ``lateness`` (networks with precise spike timing only, else None): for each spike of the last bin
    the time from the spike to the end of that bin, a = dt − t_s (s, 0 where no spike; module docstring).
    """

    I_mem: jax.Array
    I_ampa: jax.Array
    I_nmda: jax.Array
    I_gaba: jax.Array
    I_shunt: jax.Array
    I_ahp: jax.Array
    t_refr: jax.Array
    spikes: jax.Array
    delayed: jax.Array | None = None
    lateness: jax.Array | None = None


def initial_state(net: SimNetwork, batch: int | None = 1) -> SimState:
    """Everything at rest: every DPI current at I_0, nobody refractory, no pending spikes (nor
    delayed events; with precise spike timing, ``lateness`` zeros). ``batch=None`` gives unbatched [N] arrays."""
    lead = () if batch is None else (batch,)
    i0 = jnp.full(lead + (net.n_neurons,), net.I_0, DTYPE)
    zero = jnp.zeros(lead + (net.n_neurons,), DTYPE)
    width = net.n_sources * (2 if net.precise_timing else 1)     # with precise timing also the events' moments
    delayed = jnp.zeros(lead + (net.delay_slots, width), DTYPE) if net.delay_slots else None
    return SimState(I_mem=i0, I_ampa=i0, I_nmda=i0, I_gaba=i0, I_shunt=i0, I_ahp=i0, t_refr=zero, spikes=zero,
                    delayed=delayed, lateness=zero if net.precise_timing else None)


@dataclass(frozen=True)
class Circuit:
    """Per-neuron constants of one call ([N] arrays; per synapse a 4-tuple in :data:`SYNAPSES` order).

    ``syn_charge`` ΔI/I_w of (4); ``syn_decay`` exp(−dt/τ) and ``syn_mean`` φ₁(−dt/τ) of (2); ``ahp_*`` the
    same for the AHP, ``ahp_charge`` its jump per spike (A, 0 where the latch is off), ``adapt`` the latch
    (0/1); ``mem`` the membrane's constants of (7) (:class:`.dpi.MembraneConstants`); ``Idc`` (A, 0 where
    the DC latch is off); ``If_nmda`` (A) and ``gated`` (bool) the NMDA gate; ``alive`` 0 for killed
    neurons; ``t_ref`` (s); ``I_th`` = I_spkthr, ``I_b`` the onset (A), ``z_b`` its z and
    ``inv_1_wb`` = 1/(1 + w_b). With precise spike timing ``syn_tau`` (4-tuple) and ``ahp_tau``, the time
    constants τ (s) of (1), else None. Static: ``I_0`` (A), ``dt`` (s) and ``nodes``, the passage region's
    quadrature (:func:`.dpi.region_passage`)."""

    syn_charge: tuple
    syn_decay: tuple
    syn_mean: tuple
    ahp_decay: jax.Array
    ahp_mean: jax.Array
    ahp_charge: jax.Array
    adapt: jax.Array
    mem: dpi.MembraneConstants
    Idc: jax.Array
    If_nmda: jax.Array
    gated: jax.Array
    alive: jax.Array
    t_ref: jax.Array
    I_th: jax.Array
    I_b: jax.Array
    z_b: jax.Array
    inv_1_wb: jax.Array
    syn_tau: tuple | None
    ahp_tau: jax.Array | None
    I_0: float = field(metadata=dict(static=True))
    dt: float = field(metadata=dict(static=True))
    nodes: int = field(default=dpi.PASSAGE_NODES, metadata=dict(static=True))


jax.tree_util.register_dataclass(
    Circuit, data_fields=["syn_charge", "syn_decay", "syn_mean", "ahp_decay", "ahp_mean", "ahp_charge", "adapt",
                          "mem", "Idc", "If_nmda", "gated", "alive", "t_ref", "I_th", "I_b", "z_b", "inv_1_wb",
                          "syn_tau", "ahp_tau"],
    meta_fields=["I_0", "dt", "nodes"])


def circuit(neurons: Neurons, cur: dict, cap: dict, dt: float, timed: bool = False,
            nodes: int = dpi.PASSAGE_NODES) -> Circuit:
    """The :class:`Circuit` of a network's ``neurons`` (``net.neurons``: latches and chip constants) with
    currents ``cur`` (A) and capacitances ``cap`` (F) — the network's own or a mismatch draw's
    (:func:`.mismatch.apply_mismatch`) — for steps of ``dt`` s: eqs. (1)–(4) of :mod:`.dpi` for every DPI,
    the feedback constants scaled by each neuron's I_spkthr, the onset I_b; ``timed`` (precise spike
    timing): also the time constants; ``nodes``: the passage region's quadrature."""
    net = neurons
    U_T, kappa, V_th = net.U_T, net.kappa, net.V_th

    def tau(c, q):
        return dpi.time_constant(cap[c], cur[q], U_T, kappa)

    t_pulse = dpi.pulse_width(cap["C_pulse"], cur["Ipulse"], V_th)
    taus = [tau(f"C_{d}", f"Itau_{d}") for d in SYNAPSES]
    syn_charge = tuple(dpi.charge_per_event(cur[f"Igain_{d}"], cur[f"Itau_{d}"], t, t_pulse) for d, t in zip(SYNAPSES, taus))
    tau_ahp = tau("C_ahp", "Itau_ahp")
    t_pulse_ahp = dpi.pulse_width(cap["C_pulse_ahp"], cur["Ipulse_ahp"], V_th)
    adapt = net.adaptation.astype(DTYPE)
    ahp_charge = adapt * cur["Iw_ahp"] * dpi.charge_per_event(cur["Igain_ahp"], cur["Itau_ahp"], tau_ahp, t_pulse_ahp)
    thr = cur["Ispkthr"]
    g, th, nm = net.feedback
    fb = (g * thr, th * thr, nm * thr)
    I_b = dpi.onset_current(cur["Itau_mem"], *fb, thr)
    w_b = I_b / cur["Igain_mem"]
    return Circuit(
        syn_charge=syn_charge, syn_decay=tuple(jnp.exp(-dt / t) for t in taus),
        syn_mean=tuple(dpi.mean_decay(dt, t) for t in taus),
        ahp_decay=jnp.exp(-dt / tau_ahp), ahp_mean=dpi.mean_decay(dt, tau_ahp), ahp_charge=ahp_charge, adapt=adapt,
        mem=dpi.membrane_constants(cur["Itau_mem"], cur["Igain_mem"], tau("C_mem", "Itau_mem"), *fb),
        Idc=cur["Idc"] * net.dc.astype(DTYPE), If_nmda=cur["If_nmda"], gated=net.nmda_gate,
        alive=1.0 - net.kill.astype(DTYPE), t_ref=dpi.pulse_width(cap["C_ref"], cur["Iref"], V_th),
        I_th=thr, I_b=I_b, z_b=w_b + jnp.log(w_b), inv_1_wb=1.0 / (1.0 + w_b),
        syn_tau=tuple(taus) if timed else None, ahp_tau=tau_ahp if timed else None, I_0=float(net.I_0), dt=float(dt),
        nodes=int(nodes),
    )


class Membrane(NamedTuple):
    """The membrane's step below the passage region, what :func:`spike_timing` reads: ``I_mem`` at the start
    (A), the bin's frozen input ``I_in`` (A) and leak ``L``, the integration time ``h`` (s), z before and after
    (``z0``, ``z1``), the rate F and slope J of (7) (1/s), ``inside`` (started in the passage region),
    ``reach`` (got to it this bin) and the surrogate's argument ``v``."""

    I_mem: jax.Array
    I_in: jax.Array
    L: jax.Array
    h: jax.Array
    z0: jax.Array
    z1: jax.Array
    F: jax.Array
    J: jax.Array
    inside: jax.Array
    reach: jax.Array
    v: jax.Array


def keep(values):
    """The default ``store``: the values as they are."""
    return values


def spike_timing(c: Circuit, m: Membrane, store: Callable = keep):
    """The spike inside the bin: (exact, I_reg, rest, late) — 1 where the passage to I_spkthr completes within
    h (0 for killed neurons), the current the passage got to where it did not (A), the refractory time
    left after a spike (s, ≥ −dt) and the spike's lateness, the time from it to the end of the bin (s).
    The time to the onset, ``t_b = ln(1 + J·Δz/F)/J`` (:func:`.dpi.crossing_time`, 0 if the bin starts
    inside), plus the passage time T of :func:`.dpi.region_passage`; the spike is at t_b + T from the start
    of the integration window, which ends with the bin, so ``late = h − t_b − T`` (clipped to [0, 2·dt])
    and ``rest = t_ref − late``. None of it is differentiated (stop-gradients): spike times and resets
    carry no gradient."""
    sg = lax.stop_gradient
    t_b = jnp.where(m.inside, 0.0, dpi.crossing_time(*sg((m.z0, c.z_b, m.F, m.J, m.h)), m.reach))
    I_lo = jnp.where(m.inside, sg(m.I_mem), sg(c.I_b))
    T_pass, I_reg = dpi.region_passage(I_lo, *sg((c.I_th, m.I_in, m.L, c.mem)), sg(m.h) - t_b, nodes=c.nodes)
    T_pass, I_reg, t_b = store((T_pass, I_reg, t_b))
    exact = ((m.reach & (t_b + T_pass <= m.h)) & (m.v >= 0)).astype(DTYPE) * c.alive
    rest = jnp.maximum(c.t_ref - (m.h - (t_b + T_pass)), -c.dt)
    late = jnp.clip(sg(m.h) - (t_b + T_pass), 0.0, 2.0 * c.dt)
    return exact, I_reg, rest, late


def step(c: Circuit, state: SimState, charge, *, late=None, store: Callable = keep,
         timing: Callable = spike_timing) -> SimState:
    """One bin (module docstring): the state after it, ``spikes`` the bin's spikes (0/1).

    ``charge``: the bin's synaptic charge per dendrite (four [B, N] arrays in A, None for a dendrite that
    has no synapses). ``late`` (precise spike timing, ``state.lateness`` not None): the charge's first
    moment in lateness, eq. (P1), four [B, N] arrays in A·s (None: every event at the start of the bin).
    ``store``: applied to intermediates several later expressions read (identity by default; the engine's
    :func:`.fusion.stored`). ``timing``: :func:`spike_timing` or a function with its signature and results
    (the engine's recomputing gradient reads them from the forward pass). ``state.delayed`` is passed
    through (the engine's)."""
    I_0, dt, sg = c.I_0, c.dt, lax.stop_gradient
    timed = state.lateness is not None
    # 1-2. each synapse: the bin's events (4) — with precise timing each arriving at its mean lateness
    # (P2)–(P3) — then its decay over the bin and its mean (2)
    syn_new, syn_mean = [], []
    for i, name in enumerate(SYNAPSES):
        I_start, missed = getattr(state, f"I_{name}"), None
        if charge[i] is not None:
            jump = charge[i] * c.syn_charge[i]
            if timed and late is not None and late[i] is not None:
                jump, missed = timed_arrival(jump, charge[i], late[i], c.syn_tau[i], dt)
            I_start = I_start + jump
        mean = dpi.decay(I_start, c.syn_mean[i], I_0)
        syn_mean.append(mean if missed is None else mean + missed)
        syn_new.append(dpi.decay(I_start, c.syn_decay[i], I_0))
    syn_mean, syn_new = store((syn_mean, syn_new))
    ampa, nmda, gaba, shunt = syn_mean
    I_ahp_mean = dpi.decay(state.I_ahp, c.ahp_mean, I_0) * c.adapt

    # 3. the membrane's input and leak, frozen over the bin; one exponential-Rosenbrock step of (7)
    I_mem, t_refr = state.I_mem, state.t_refr
    gate = jnp.where(c.gated, dpi.nmda_gate(I_mem, c.If_nmda), 1.0)
    I_in = floor_fn(ampa + gate * nmda - gaba + c.Idc, I_0)
    L = 1.0 + (I_ahp_mean + shunt) * c.mem.inv_tau_leak
    I_in, L, h = store((I_in, L, jnp.clip(dt - t_refr, 0.0, 2.0 * dt)))
    z1, z0, F, J = store(dpi.membrane_step(I_mem, I_in, L, h, c.mem))
    w1 = store(dpi.w_from_z(jnp.minimum(z1, c.z_b)))
    I_lin = store(jnp.where(h > 0, jnp.maximum(w1 * c.mem.I_gain, I_0), I_mem))

    # 4. the passage region [I_b, I_spkthr] and the spike: exact forward, the surrogate on v backward
    inside = z0 >= c.z_b
    reach = ((z1 >= c.z_b) | inside) & (h > 0)
    v = (jnp.where(inside, jnp.maximum(z1, c.z_b), z1) - c.z_b) * c.inv_1_wb
    s_sur = spike_fn(v) * c.alive
    exact, I_reg, rest, a = timing(c, Membrane(I_mem, I_in, L, h, z0, z1, F, J, inside, reach, v), store)
    s = s_sur + sg(exact - s_sur)
    fired = sg(s) > 0
    I_new = jnp.where(fired, I_0, jnp.where(reach, I_reg, I_lin))
    t_refr_new = jnp.where(fired, rest, jnp.maximum(t_refr - dt, 0.0))
    ahp_jump = s * c.ahp_charge
    lateness = None
    if timed:   # the AHP jumps at the spike and decays over the rest of the bin (P4)
        lateness = jnp.where(fired, sg(a), 0.0)
        ahp_jump = ahp_jump * jnp.exp(-lateness / c.ahp_tau)
    I_ahp = dpi.decay(state.I_ahp, c.ahp_decay, I_0) + ahp_jump
    I_new, I_ahp, t_refr_new = store((I_new, I_ahp, t_refr_new))
    return SimState(I_new, *syn_new, I_ahp, t_refr_new, s, state.delayed, lateness)


def timed_arrival(jump, q, p, tau, dt):
    """A dendrite's events with their arrival times, eqs. (P2)–(P3) (module docstring): the jump at the start
    of the bin ``ΔI·exp(−ā/τ)`` and the mean over the bin of what arrived before it, ``ΔI·(τ/dt)·(1 −
    exp(−ā/τ))`` (A), from the full jump ΔI (A), the charge Q (A), its first moment P (A·s) and τ (s);
    ā = P/Q (0 where Q = 0)."""
    some = q > 1e-30
    a_bar = jnp.clip(jnp.where(some, p / jnp.where(some, q, 1.0), 0.0), 0.0, 2.0 * dt)
    f = jnp.exp(-a_bar / tau)
    return jump * f, jump * (tau / dt) * (1.0 - f)
