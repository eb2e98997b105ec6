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
   the gate latch is off; I_dc only where the DC latch is on), leak factor
   ``L = 1 + (I_ahp + I_shunt)/I_tau_mem``; one exponential-Rosenbrock step over the part of the bin
   outside the refractory period (:func:`.dpi.membrane_step`).
4. **Spike** when I_mem reaches I_spkthr (never for killed neurons), at most one per neuron and bin;
   the spike time inside the bin is computed (through the feedback's passage region, see
   :mod:`.dpi`), I_mem is reset to I_0 and the refractory period t_ref counted from it, so time spent refractory carries into the next bin exactly (rates do not
   depend on where a bin boundary falls; a neuron can fire at most once per bin, so rates are
   capped at 1/dt as well as 1/t_ref). Spikes drive the neuron's AHP (if its latch is on) at the
   end of the bin.

Gradients flow through the surrogate derivative of :mod:`.surrogate` and through the refractory period
(t_ref shortens the next bin's integration time); the reset and the crossing time inside a bin are
not differentiated (the usual "detached reset").
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import dpi
from .errors import SimError
from .mismatch import apply_mismatch
from .network import DTYPE, SimNetwork
from .surrogate import spike as spike_fn

#: Names of the recorded state variables (record=True), each [batch, T, N] (A).
RECORDED = ("I_mem", "I_ampa", "I_nmda", "I_gaba", "I_shunt", "I_ahp")


class SimState(NamedTuple):
    """The state between steps (leading batch axis; every current in A, time in s).

    ``I_syn[..., d]`` is the DPI current of dendrite d (0 AMPA, 1 NMDA, 2 GABA, 3 SHUNT);
    ``t_refr`` the refractory time still to serve (negative: integration time owed from the last bin);
    ``spikes`` the spikes of the last bin, delivered to their targets at the next step.
    """

    I_mem: jax.Array
    I_syn: jax.Array
    I_ahp: jax.Array
    t_refr: jax.Array
    spikes: jax.Array


def initial_state(net: SimNetwork, batch: int | None = 1) -> SimState:
    """Everything at rest: every DPI current at I_0, nobody refractory, no pending spikes.
    ``batch=None`` gives unbatched [N] arrays."""
    lead = () if batch is None else (batch,)
    n = net.n_neurons
    i0 = jnp.full(lead + (n,), net.I_0, DTYPE)
    return SimState(I_mem=i0, I_syn=jnp.full(lead + (n, 4), net.I_0, DTYPE), I_ahp=i0,
                    t_refr=jnp.zeros(lead + (n,), DTYPE), spikes=jnp.zeros(lead + (n,), DTYPE))


class _Derived(NamedTuple):
    """Per-call constants derived from the (mismatched) parameters; all [N] or [N, 4]."""

    syn_charge: jax.Array
    syn_decay: jax.Array
    syn_mean: jax.Array
    ahp_decay: jax.Array
    ahp_mean: jax.Array
    ahp_charge: jax.Array
    adapt: jax.Array
    tau_mem: jax.Array
    Itau_mem: jax.Array
    Igain_mem: jax.Array
    Idc: jax.Array
    If_nmda: jax.Array
    gated: jax.Array
    kill: jax.Array
    t_ref: jax.Array
    I_th: jax.Array
    I_b: jax.Array
    z_b: jax.Array
    w_b: jax.Array
    fb: tuple
    w_slot: jax.Array


def derive(net: SimNetwork, mismatch, dt: float) -> _Derived:
    """Time constants, pulse charges and decay factors of every DPI (eqs. (1)–(4) of :mod:`.dpi`)."""
    cur, cap, weight = apply_mismatch(net, mismatch)
    U_T, kappa, V_th = net.U_T, net.kappa, net.V_th

    def tau(c, q):
        return dpi.time_constant(cap[c], cur[q], U_T, kappa)

    syn = (("C_ampa", "ampa"), ("C_nmda", "nmda"), ("C_gaba", "gaba"), ("C_shunt", "shunt"))
    taus = jnp.stack([tau(c, f"Itau_{d}") for c, d in syn], -1)
    gain = jnp.stack([cur[f"Igain_{d}"] / cur[f"Itau_{d}"] for _, d in syn], -1)
    t_pulse = dpi.pulse_width(cap["C_pulse"], cur["Ipulse"], V_th)
    syn_charge = gain * (-jnp.expm1(-t_pulse[:, None] / taus))
    tau_ahp = tau("C_ahp", "Itau_ahp")
    t_pulse_ahp = dpi.pulse_width(cap["C_pulse_ahp"], cur["Ipulse_ahp"], V_th)
    adapt = net.adaptation.astype(DTYPE)
    ahp_charge = adapt * cur["Iw_ahp"] * dpi.charge_per_event(cur["Igain_ahp"], cur["Itau_ahp"], tau_ahp, t_pulse_ahp)
    thr = cur["Ispkthr"]
    g, th, nm = net.feedback
    fb = (g * thr, th * thr, nm * thr)
    I_b = dpi.onset_current(cur["Itau_mem"], *fb, thr)
    w_b = I_b / cur["Igain_mem"]
    if net.slot_entry.size:
        w_ext = jnp.concatenate([weight, jnp.zeros((1,), weight.dtype)])
        w_slot = w_ext[net.slot_entry]
    else:
        w_slot = jnp.zeros(net.slot_entry.shape, DTYPE)
    return _Derived(
        syn_charge=syn_charge, syn_decay=jnp.exp(-dt / taus), syn_mean=dpi.mean_decay(dt, taus),
        ahp_decay=jnp.exp(-dt / tau_ahp), ahp_mean=dpi.mean_decay(dt, tau_ahp), ahp_charge=ahp_charge, adapt=adapt,
        tau_mem=tau("C_mem", "Itau_mem"), Itau_mem=cur["Itau_mem"], Igain_mem=cur["Igain_mem"],
        Idc=cur["Idc"] * net.dc.astype(DTYPE), If_nmda=cur["If_nmda"], gated=net.nmda_gate, kill=net.kill,
        t_ref=dpi.pulse_width(cap["C_ref"], cur["Iref"], V_th),
        I_th=thr, I_b=I_b, z_b=w_b + jnp.log(w_b), w_b=w_b, fb=fb, w_slot=w_slot,
    )


def _synaptic_charge(net: SimNetwork, d: _Derived, events):
    """Σ over entries of count(src)·I_w, per (neuron, dendrite): [B, N, 4] (A)."""
    b = events.shape[0]
    n = net.n_neurons
    if not net.groups:
        return jnp.zeros((b, n, 4), DTYPE)
    g, k = d.w_slot.shape[-2:]
    ext = jnp.concatenate([events, jnp.zeros((b, 1), events.dtype)], axis=1)
    v = jnp.take(ext, net.slot_src, axis=1, mode="clip").reshape(b, n, g, k)
    q = jnp.einsum("bngk,ngk->bng", v, d.w_slot)
    if net.groups == (0, 1, 2, 3):
        return q
    zero = jnp.zeros((b, n), DTYPE)
    cols = [q[..., net.groups.index(i)] if i in net.groups else zero for i in range(4)]
    return jnp.stack(cols, -1)


def _step(net: SimNetwork, d: _Derived, dt: float, record: bool, state: SimState, x):
    I_0 = net.I_0
    events = jnp.concatenate([x, state.spikes], axis=1)
    charge = _synaptic_charge(net, d, events)
    I_start = state.I_syn + charge * d.syn_charge
    I_syn_mean = dpi.decay(I_start, d.syn_mean, I_0)
    I_syn = dpi.decay(I_start, d.syn_decay, I_0)
    I_ahp_mean = dpi.decay(state.I_ahp, d.ahp_mean, I_0) * d.adapt

    I_mem = state.I_mem
    gate = jnp.where(d.gated, dpi.nmda_gate(I_mem, d.If_nmda), 1.0)
    I_in = I_syn_mean[..., 0] + gate * I_syn_mean[..., 1] - I_syn_mean[..., 2] + d.Idc
    I_in = jnp.maximum(I_in, I_0)
    L = 1.0 + (I_ahp_mean + I_syn_mean[..., 3]) / d.Itau_mem

    t_refr = state.t_refr
    h = jnp.clip(dt - t_refr, 0.0, 2.0 * dt)
    # below the passage region: one exponential-Rosenbrock step
    z1, z0, F, J = dpi.membrane_step(I_mem, I_in, L, h, d.Itau_mem, d.Igain_mem, d.tau_mem, *d.fb)
    w1 = dpi.w_from_z(jnp.minimum(z1, d.z_b))
    I_lin = jnp.where(h > 0, jnp.maximum(w1 * d.Igain_mem, I_0), I_mem)
    # passage region [I_b, I_spkthr]: quadrature with the bin's frozen inputs
    inside = z0 >= d.z_b
    reach = ((z1 >= d.z_b) | inside) & (h > 0)
    t_b = jnp.where(inside, 0.0, dpi.crossing_time(z0, d.z_b, F, J, h, reach))
    I_lo = jnp.where(inside, I_mem, d.I_b)
    T_pass, I_reg = dpi.region_passage(I_lo, d.I_th, I_in, L, d.Itau_mem, d.Igain_mem, d.tau_mem, *d.fb, h - t_b)
    T_pass, I_reg, t_b = lax.stop_gradient((T_pass, I_reg, t_b))
    completes = reach & (t_b + T_pass <= h)
    v = (jnp.where(inside, jnp.maximum(z1, d.z_b), z1) - d.z_b) / (1.0 + d.w_b)
    alive = 1.0 - d.kill.astype(DTYPE)
    s_sur = spike_fn(v) * alive
    # forward: the exact event (passage completed in the bin); backward: the surrogate on v alone
    s = s_sur + lax.stop_gradient((completes & (v >= 0)).astype(DTYPE) * alive - s_sur)
    fired = lax.stop_gradient(s) > 0
    I_new = jnp.where(reach, I_reg, I_lin)
    I_new = jnp.where(fired, I_0, I_new)

    t_s = t_b + T_pass
    t_refr_new = jnp.where(fired, jnp.maximum(d.t_ref - (h - t_s), -dt), jnp.maximum(t_refr - dt, 0.0))
    I_ahp = dpi.decay(state.I_ahp, d.ahp_decay, I_0) + s * d.ahp_charge

    new = SimState(I_mem=I_new, I_syn=I_syn, I_ahp=I_ahp, t_refr=t_refr_new, spikes=s)
    if record:
        out = (s, {"I_mem": I_new, "I_ampa": I_syn[..., 0], "I_nmda": I_syn[..., 1], "I_gaba": I_syn[..., 2],
                   "I_shunt": I_syn[..., 3], "I_ahp": I_ahp})
    else:
        out = (s, None)
    return new, out


@partial(jax.jit, static_argnames=("record", "dt"))
def _run(net: SimNetwork, inputs, mismatch, state: SimState, record: bool, dt: float):
    d = derive(net, mismatch, dt)
    xs = jnp.swapaxes(inputs, 0, 1)  # [T, B, n_in]
    final, (spikes, rec) = lax.scan(partial(_step, net, d, dt, record), state, xs)
    spikes = jnp.swapaxes(spikes, 0, 1)
    if record:
        rec = {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
    return spikes, final, rec


def simulate(net: SimNetwork, inputs, mismatch=None, state: SimState | None = None, record: bool = False,
             dt: float | None = None):
    """Simulate ``net`` on ``inputs`` (event counts per bin, [batch, T, n_inputs] or [T, n_inputs]).

    ``mismatch``: a draw of :func:`neurodeploy.sim.sample_mismatch` (None: nominal chip).
    ``state``: a :class:`SimState` to continue from (None: at rest). ``dt``: step (s), default
    ``net.dt``. Returns ``(spikes, final_state, records)``: spikes [batch, T, N] (0/1, float32),
    the state after the last step (pass it back to continue), and with ``record=True`` a dict of
    :data:`RECORDED` state variables [batch, T, N] at the end of every step (else None). Unbatched
    inputs give unbatched outputs ([T, N], state [N]). Jit-compiled (one compilation per shape,
    ``dt`` and ``record``); ``jax.vmap`` over mismatch draws evaluates many chips at once.
    """
    dt = float(net.dt if dt is None else dt)
    if not dt > 0:
        raise SimError(f"dt: must be a positive time in seconds, got {dt}")
    inputs = jnp.asarray(inputs)
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != net.n_inputs:
        raise SimError(f"inputs: expected shape [T, {net.n_inputs}] or [batch, T, {net.n_inputs}] (event counts per bin), "
                       f"got {tuple(inputs.shape)}")
    unbatched = inputs.ndim == 2
    x = inputs[None] if unbatched else inputs
    x = x.astype(DTYPE)
    if state is None:
        state = initial_state(net, x.shape[0])
    elif unbatched:
        state = jax.tree_util.tree_map(lambda a: a[None], state)
    spikes, final, rec = _run(net, x, mismatch, state, record=bool(record), dt=dt)
    if unbatched:
        spikes = spikes[0]
        final = jax.tree_util.tree_map(lambda a: a[0], final)
        rec = None if rec is None else {k: v[0] for k, v in rec.items()}
    return spikes, final, rec
