"""Run a :class:`~neurodeploy.sim.network.SimNetwork`: ``simulate(net, inputs, mismatch, state, record)``.

Time is binned in steps of ``dt`` (s): ``dt`` argument, else ``net.dt`` (a spec's ``dt``). Inputs are
event counts per bin [batch, T, n_inputs] (or [T, n_inputs]). Per step, in this order:

1. **Events.** The source vector is [input counts of this bin; the network's spikes of the previous
   bin] — a recurrent spike reaches its targets one step after it was emitted. Every synapse entry
   adds ``count·I_w`` to its (neuron, dendrite) charge; each dendrite's DPI then jumps by
   charge·(I_gain/I_tau)·(1 − exp(−t_pulse/τ)) (closed-form pulse, eq. (4) of :mod:`.dpi`).
2. **Synapses and AHP** decay exactly over the bin towards I_0 (eq. (2)); the membrane sees their
   exact mean over the bin. Each synapse keeps its own current ≥ I_0, so a GABA current that arrives
   after excitation keeps subtracting while it decays.
3. **Membrane.** Input ``I_in = max(I_ampa + g·I_nmda − I_gaba + I_dc, I_0)`` (g the NMDA gate, 1 when
   the gate latch is off; I_dc only where the DC latch is on; the clip has the leaky surrogate
   derivative of :func:`.surrogate.floor`, so an inhibited neuron still gets gradients), leak factor
   ``L = 1 + (I_ahp + I_shunt)/I_tau_mem``; one exponential-Rosenbrock step over the part of the bin
   outside the refractory period (:func:`.dpi.membrane_step`).
4. **Spike** when I_mem reaches I_spkthr (never for killed neurons), at most one per neuron and bin;
   the spike time inside the bin is computed (through the feedback's passage region, see
   :mod:`.dpi`), I_mem is reset to I_0 and the refractory period t_ref counted from it, so time
   spent refractory carries into the next bin exactly (rates do not depend on where a bin boundary
   falls; a neuron fires at most once per bin, so rates are capped at 1/dt as well as 1/t_ref).
   Spikes drive the neuron's AHP (if its latch is on) at the end of the bin.

**Synaptic delays** (a network built with ``delay``, see :mod:`.delays`): each entry's events arrive
d later, linearly interpolated between whole steps; the step keeps the last D source-event vectors
(``SimState.delayed``). A network without delays runs the delay-free step (a static branch).

Synaptic charge (:mod:`.charge`): at batch 1 the inputs' charge of every step is one matrix product
before the time loop and the loop touches only the synapses of the neurons that fired (event-driven,
path "event-pre"); with batch > 1 one matrix product with the weights summed into a dense
[sources × dendrites·N] matrix once per call, where the network is small or dense enough
(:func:`.charge.use_matrix`; its gradient is matrix products too; for small steps again with the inputs'
part before the loop, "matrix-pre"), else the ELL gather. Same numbers up to float rounding in the order
of summation; ``event_driven=True`` forces the plain event-driven path, False the gather.

Speed: the step's shared intermediates are stored once (:mod:`.fusion`) instead of being
recomputed by every fused loop XLA makes, and the gradient's recomputed step takes the spikes, resets
and refractory times from the forward's states (``hint``) instead of recomputing the passage. The
matrix paths' forward carries the charge from the end of the step before (:func:`_carried_scan`).

Gradients flow through the surrogate derivative of :mod:`.surrogate` and through the refractory period
(t_ref shortens the next bin's integration time); the reset and the crossing time inside a bin are
not differentiated (the usual "detached reset").
The time loop's VJP recomputes each step from the stored state instead of storing every intermediate
(:func:`scan_remat`): gradient memory is ∝ T × state, and the forward pass is the plain scan.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import dpi
from .errors import SimError
from ..device.profile import NEURON_QUANTITIES
from .charge import EVENT_CAPACITIES, dense_matrix, event_capacities, synaptic_charge, use_matrix  # noqa: F401
from .charge import event_pre_charge, input_charge, next_charge, split_charge, with_precompute
from .charge import dense_charge as _dense_charge, event_charge_fn as _event_charge_fn, stack4 as _stack4  # noqa: F401
from .delays import delay_taps, delayed_charge
from .fusion import ones_like_state, stored
from .mismatch import apply_mismatch
from .network import CAPACITANCES, DTYPE, SimNetwork
from .remat import scan_remat
from .surrogate import floor as floor_fn
from .surrogate import spike as spike_fn

#: Names of the recorded state variables (record=True), each [batch, T, N] (A).
RECORDED = ("I_mem", "I_ampa", "I_nmda", "I_gaba", "I_shunt", "I_ahp")


SYNAPSES = ("ampa", "nmda", "gaba", "shunt")


class SimState(NamedTuple):
    """The state between steps (leading batch axis; every current in A, time in s).

    ``I_ampa`` … ``I_shunt``: the four synapse DPIs; ``I_ahp`` the adaptation DPI; ``t_refr`` the
    refractory time still to serve (negative: integration time owed from the last bin); ``spikes``
    the spikes of the last bin, delivered to their targets at the next step. ``delayed`` (networks
    with delays only, else None): [D, n_sources] source-event vectors of the last D steps, newest first.
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


def initial_state(net: SimNetwork, batch: int | None = 1) -> SimState:
    """Everything at rest: every DPI current at I_0, nobody refractory, no pending spikes (nor
    delayed events). ``batch=None`` gives unbatched [N] arrays."""
    lead = () if batch is None else (batch,)
    i0 = jnp.full(lead + (net.n_neurons,), net.I_0, DTYPE)
    zero = jnp.zeros(lead + (net.n_neurons,), DTYPE)
    delayed = jnp.zeros(lead + (net.delay_slots, net.n_sources), DTYPE) if net.delay_slots else None
    return SimState(I_mem=i0, I_ampa=i0, I_nmda=i0, I_gaba=i0, I_shunt=i0, I_ahp=i0, t_refr=zero, spikes=zero,
                    delayed=delayed)


class _Derived(NamedTuple):
    """Per-call constants derived from the (mismatched) parameters; [N] arrays (per synapse: 4-tuples)."""

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
    w_slot: tuple
    w_fan: jax.Array
    w_nk: tuple                          # w_slot neuron-major, [N, K_g] per group (many draws at once: .charge)
    dly_index: jax.Array | None = None   # [S] k·n_sources + src: the entry's source, k = ⌊d/dt⌋ steps back
    dly_frac: jax.Array | None = None    # [S] f = d/dt − k ∈ [0, 1]: weight of the step before
    w_dense: jax.Array | None = None     # [n_src, G·N] the entries' weights as a matrix (path "matrix")


def derive(net: SimNetwork, mismatch, dt: float, matrix: bool | str = False) -> _Derived:
    """Time constants, pulse charges and decay factors of every DPI (eqs. (1)–(4) of :mod:`.dpi`);
    ``matrix``: also the weights as a dense matrix (:func:`.charge.dense_matrix`; "inputs": its input
    rows only)."""
    cur, cap, weight = apply_mismatch(net, mismatch)
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
    w_ext = jnp.concatenate([weight, jnp.zeros((1,), DTYPE)])
    taps = delay_taps(net, mismatch, dt) if net.delay_slots else (None, None)
    return _Derived(
        syn_charge=syn_charge, syn_decay=tuple(jnp.exp(-dt / t) for t in taus),
        syn_mean=tuple(dpi.mean_decay(dt, t) for t in taus),
        ahp_decay=jnp.exp(-dt / tau_ahp), ahp_mean=dpi.mean_decay(dt, tau_ahp), ahp_charge=ahp_charge, adapt=adapt,
        mem=dpi.membrane_constants(cur["Itau_mem"], cur["Igain_mem"], tau("C_mem", "Itau_mem"), *fb),
        Idc=cur["Idc"] * net.dc.astype(DTYPE), If_nmda=cur["If_nmda"], gated=net.nmda_gate,
        alive=1.0 - net.kill.astype(DTYPE), t_ref=dpi.pulse_width(cap["C_ref"], cur["Iref"], V_th),
        I_th=thr, I_b=I_b, z_b=w_b + jnp.log(w_b), inv_1_wb=1.0 / (1.0 + w_b),
        w_slot=tuple(w_ext[se] for se in net.slot_entry), w_fan=w_ext[net.fan_entry],
        w_nk=tuple(w_ext[se.T] for se in net.slot_entry), dly_index=taps[0], dly_frac=taps[1],
        w_dense=dense_matrix(net, weight, inputs_only=matrix == "inputs") if matrix else None,
    )


def _charge(net: SimNetwork, d: _Derived, path: str, state: SimState, x):
    """(Q1) of this step by ``path`` (:mod:`.charge`), and the delayed-event history it leaves (or None)."""
    if path == "event-pre":    # x: this step's input charge (.charge.input_charge)
        return event_pre_charge(net, d, x, state.spikes), None
    if path == "matrix-pre":
        return split_charge(net, next_charge(d.w_dense, x, state.spikes, pre=True)), None
    events = jnp.concatenate([x, state.spikes], axis=1)
    if net.delay_slots:
        return delayed_charge(net, d.w_slot, d.dly_index, d.dly_frac, events, state.delayed)
    return synaptic_charge(net, d, events, path), None


def _step(net: SimNetwork, d: _Derived, dt: float, record: tuple, charge, delayed, state: SimState, hint=None):
    """One step (module docstring) given its synaptic charge (four [B, N] or None, :func:`_charge`).
    ``hint``: the state this step produced in the forward pass (the
    gradient's recomputation, :func:`.remat.scan_remat`): its spikes, reset currents and refractory times
    are taken from there instead of recomputing the passage and the crossing time, which carry no
    gradient (same values, same gradient; the backward step is ~25 % cheaper)."""
    I_0 = net.I_0
    sg = lax.stop_gradient    # spike timing and the passage are not differentiated (no tangents traced)
    one = ones_like_state(state.t_refr)    # stored(…, one): computed once, not in every fusion (.fusion)
    syn_new, syn_mean = [], []
    for i, name in enumerate(SYNAPSES):
        I_start = getattr(state, f"I_{name}")
        if charge[i] is not None:
            I_start = I_start + charge[i] * d.syn_charge[i]
        syn_mean.append(dpi.decay(I_start, d.syn_mean[i], I_0))
        syn_new.append(dpi.decay(I_start, d.syn_decay[i], I_0))
    syn_mean, syn_new = stored((syn_mean, syn_new), one)
    ampa, nmda, gaba, shunt = syn_mean
    I_ahp_mean = dpi.decay(state.I_ahp, d.ahp_mean, I_0) * d.adapt

    I_mem = state.I_mem
    gate = jnp.where(d.gated, dpi.nmda_gate(I_mem, d.If_nmda), 1.0)
    I_in = floor_fn(ampa + gate * nmda - gaba + d.Idc, I_0)    # leaky surrogate derivative below I_0
    L = 1.0 + (I_ahp_mean + shunt) * d.mem.inv_tau_leak

    t_refr = state.t_refr
    I_in, L, h = stored((I_in, L, jnp.clip(dt - t_refr, 0.0, 2.0 * dt)), one)
    # below the passage region: one exponential-Rosenbrock step
    z1, z0, F, J = stored(dpi.membrane_step(I_mem, I_in, L, h, d.mem), one)
    w1 = stored(dpi.w_from_z(jnp.minimum(z1, d.z_b)), one)
    I_lin = stored(jnp.where(h > 0, jnp.maximum(w1 * d.mem.I_gain, I_0), I_mem), one)
    # passage region [I_b, I_spkthr]: quadrature with the bin's frozen inputs
    inside = z0 >= d.z_b
    reach = ((z1 >= d.z_b) | inside) & (h > 0)
    v = (jnp.where(inside, jnp.maximum(z1, d.z_b), z1) - d.z_b) * d.inv_1_wb
    s_sur = spike_fn(v) * d.alive
    if hint is None:
        t_b = jnp.where(inside, 0.0, dpi.crossing_time(*sg((z0, d.z_b, F, J, h)), reach))
        I_lo = jnp.where(inside, sg(I_mem), sg(d.I_b))
        T_pass, I_reg = dpi.region_passage(I_lo, *sg((d.I_th, I_in, L, d.mem)), sg(h) - t_b)
        T_pass, I_reg, t_b = stored((T_pass, I_reg, t_b), one)
        exact = ((reach & (t_b + T_pass <= h)) & (v >= 0)).astype(DTYPE) * d.alive   # passage completed in the bin
        rest = jnp.maximum(d.t_ref - (h - (t_b + T_pass)), -dt)        # refractory time left after the spike
    else:   # the forward's results (see the docstring); gradients as above: through t_ref and h
        exact, I_reg = hint.spikes, hint.I_mem
        rest = jnp.where(hint.t_refr > -dt, (d.t_ref - h) + sg(hint.t_refr - (d.t_ref - h)), -dt)
    # forward: the exact event; backward: the surrogate on v alone
    s = s_sur + sg(exact - s_sur)
    fired = sg(s) > 0
    I_new = jnp.where(fired, I_0, jnp.where(reach, I_reg, I_lin))
    t_refr_new = jnp.where(fired, rest, jnp.maximum(t_refr - dt, 0.0))
    I_ahp = dpi.decay(state.I_ahp, d.ahp_decay, I_0) + s * d.ahp_charge
    I_new, I_ahp, t_refr_new = stored((I_new, I_ahp, t_refr_new), one)

    new = SimState(I_new, *syn_new, I_ahp, t_refr_new, s, delayed)
    rec = {k: getattr(new, k) for k in record} if record else None
    return new, (s, rec)


def _step_of(net, dt, record, path, carried: bool = False):
    """The step as a function of (consts, carry, x[, hint]); the index arrays it uses travel in consts (a
    custom-VJP function may not close over traced arrays). ``path``: the synaptic charge's
    ("gather", "matrix", "event"; True/False: event/gather). ``hint``: see :func:`_step`.

    ``carried`` (matrix paths, forward only, :func:`_carried_scan`): the carry is (state, Q), Q this step's
    charge [B, G·N], computed at the end of the step before from ``x`` — the *next* bin's inputs — and the
    new spikes (:func:`.charge.next_charge`)."""
    path = {True: "event", False: "gather"}.get(path, path)

    def step(consts, carry, x, hint=None):
        d, slot_src, fan_target = consts[:3]
        more = dict(slot_entry=consts[3]) if net.delay_slots else {}
        n = net.replace(slot_src=slot_src, fan_target=fan_target, **more)
        if carried:
            state, q = carry
            new, out = _step(n, d, dt, record, split_charge(n, q), None, state)
            return (new, next_charge(d.w_dense, x, new.spikes, pre=path == "matrix-pre")), out
        charge, delayed = _charge(n, d, path, carry, x)
        return _step(n, d, dt, record, charge, delayed, carry, hint)
    return step


def _carried_scan(net, dt, record, path):
    """The forward pass of the matrix paths with the charge carried (:func:`_step_of`): the same numbers as
    the plain scan, 8 % faster at N = 256, batch 32 (interleaved A/B, minimum of 15 calls: 319 → 293 µs
    per step; why, the profile does not say). Used only where nothing is differentiated
    (:func:`.remat.scan_remat`'s ``plain``): under a gradient the carried charge made the N = 64 batch-32
    training step slower (103 → 108-137 ms, also with a hand-written VJP of the product)."""
    step = _step_of(net, dt, record, path, carried=True)

    def scan(consts, state, xs):
        q0 = next_charge(consts[0].w_dense, xs[0], state.spikes, pre=path == "matrix-pre")
        nxt = jnp.concatenate([xs[1:], jnp.zeros_like(xs[:1])])
        (final, _), outs = lax.scan(partial(step, consts), (state, q0), nxt)
        return final, outs
    return scan


@partial(jax.jit, static_argnames=("record", "dt", "path"))
def _run(net: SimNetwork, inputs, mismatch, state: SimState, record: tuple, dt: float, path: str):
    d = derive(net, mismatch, dt, matrix={"matrix": True, "matrix-pre": True, "event-pre": "inputs"}.get(path, False))
    xs = jnp.swapaxes(inputs, 0, 1)  # [T, B, n_in]
    fan_target = net.fan_target
    if path in ("matrix-pre", "event-pre"):     # the inputs' charge of every step at once
        xs = input_charge(net, d.w_dense, xs)
        d = d._replace(w_dense=d.w_dense[net.n_inputs:] if path == "matrix-pre" else None)   # the loop's W_rec
    if path == "event-pre":                     # the loop scatters only the neurons' (narrower) fan-outs
        d, fan_target = d._replace(w_fan=d.w_fan[:, :net.fan_rec]), fan_target[:, :net.fan_rec]
    consts = (d, net.slot_src, fan_target) + ((net.slot_entry,) if net.delay_slots else ())
    plain = _carried_scan(net, dt, record, path) if path in ("matrix", "matrix-pre") else None
    final, (spikes, rec) = scan_remat(_step_of(net, dt, record, path), consts, state, xs, hinted=True, plain=plain)
    spikes = jnp.swapaxes(spikes, 0, 1)
    if record:
        rec = {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
    return spikes, final, rec


@lru_cache(maxsize=16)
def _nominal(n: int, s: int, delays: bool = False) -> dict:
    """The identity draw for n neurons and s entries, cached host arrays that ``simulate`` passes through an optimisation
    barrier (as constants in a caller's jit, the ones let XLA turn gradients w.r.t. trained currents into NaN)."""
    one = np.ones(n, np.float32)
    out = {"currents": {q: one for q in NEURON_QUANTITIES}, "capacitances": {c: one for c in CAPACITANCES},
           "weight": np.ones(s, np.float32)}
    if delays:
        out["delay"] = np.ones(s, np.float32)
    return out


def _record_names(record) -> tuple:
    """``record`` as a tuple of names of :data:`RECORDED`: True → all, False/None → none."""
    if record is True:
        return RECORDED
    if record is False or record is None:
        return ()
    names = (record,) if isinstance(record, str) else tuple(record)
    unknown = [k for k in names if k not in RECORDED]
    if unknown:
        raise SimError(f"record: unknown state variable(s) {', '.join(map(repr, unknown))} "
                       f"(known: {', '.join(RECORDED)}; or True for all)")
    return tuple(dict.fromkeys(names))


def simulate(net: SimNetwork, inputs, mismatch=None, state: SimState | None = None, record=False,
             dt: float | None = None, event_driven: bool | None = None):
    """Simulate ``net`` on ``inputs`` (event counts per bin, [batch, T, n_inputs] or [T, n_inputs]).

    ``mismatch``: a draw of :func:`neurodeploy.sim.sample_mismatch` (None: the nominal chip, run as
    the identity draw :func:`~neurodeploy.sim.no_mismatch`, so nominal and mismatched calls share one
    compilation). ``state``: a :class:`SimState` to continue from (None: at rest). ``dt``: step (s),
    default ``net.dt``. Returns ``(spikes, final_state, records)``: spikes [batch, T, N] (0/1,
    float32), the state after the last step (pass it back to continue), and the recorded state
    variables at the end of every step, a dict name → [batch, T, N] (A), else None. ``record``: True
    for all of :data:`RECORDED`, a name or a tuple of names (e.g. ``("I_ampa",)``: only those, which
    is cheaper — for a loss on a synaptic current), False for none. Unbatched inputs give unbatched
    outputs ([T, N], state [N]). Jit-compiled (one compilation per shape, ``dt``, recorded names and
    path); ``jax.vmap`` over mismatch draws evaluates many chips at once.

    ``event_driven``: synapses of the sources that fired only (default: yes for batch 1, where it is
    several times faster, with the inputs' charge computed before the loop; for larger batches the
    matrix product or the gather, see :mod:`.charge`); True: the plain event-driven path (inputs in the
    loop too); False: the ELL gather always. Same result every way, up to float rounding in the order
    of summation.
    """
    dt = float(net.dt if dt is None else dt)
    if not dt > 0:
        raise SimError(f"dt: must be a positive time in seconds, got {dt}")
    names = _record_names(record)
    inputs = jnp.asarray(inputs)
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != net.n_inputs:
        raise SimError(f"inputs: expected shape [T, {net.n_inputs}] or [batch, T, {net.n_inputs}] (event counts per bin), "
                       f"got {tuple(inputs.shape)}")
    unbatched = inputs.ndim == 2
    x = inputs[None] if unbatched else inputs
    x = x.astype(DTYPE)
    if event_driven and x.shape[0] != 1:
        raise SimError(f"event_driven=True needs batch 1 (got batch {x.shape[0]}); use jax.vmap over samples or the dense path")
    if event_driven is None:
        path = "event" if x.shape[0] == 1 else ("matrix" if use_matrix(net) and not net.delay_slots else "gather")
        path = with_precompute(net, path, x.shape[1], x.shape[0])
    else:
        path = "event" if event_driven else "gather"
    if state is None:
        state = initial_state(net, x.shape[0])
    elif unbatched:
        state = jax.tree_util.tree_map(lambda a: a[None], state)
    if bool(net.delay_slots) != (state.delayed is not None) or (
            net.delay_slots and state.delayed.shape[-2:] != (net.delay_slots, net.n_sources)):
        raise SimError("state: its delayed-event history does not fit the network's delays (use one it produced)")
    if mismatch is None:
        mismatch = lax.optimization_barrier(_nominal(net.n_neurons, net.n_synapses, *((True,) if net.delay_slots else ())))
    spikes, final, rec = _run(net, x, mismatch, state, record=names, dt=dt, path=path)
    if unbatched:
        spikes = spikes[0]
        final = jax.tree_util.tree_map(lambda a: a[0], final)
        rec = None if rec is None else {k: v[0] for k, v in rec.items()}
    return spikes, final, rec
