"""Synaptic delays in the simulator: per-entry delayed reads of the recent source events.

A network built with ``delay`` (:func:`neurodeploy.sim.build_from_arrays`) gives every synapse entry
a delay d ≥ 0 (s). With d/dt = k + f (k = ⌊d/dt⌋, 0 ≤ f < 1) the events the entry delivers at step t
are

    e_d[t] = (1 − f)·e[t − k] + f·e[t − k − 1]                                          (D1)

where e[t] is the step's source-event vector [input counts of this bin; the network's spikes of the
last bin] (so d = 0 is the delay-free timing). (D1) is exact for whole-step delays and piecewise
linear in d in between: ∂e_d/∂d = (e[t − k − 1] − e[t − k])/dt, finite, and it shifts charge later as
d grows — the gradient moves a spike the right way. The step keeps the last D = ``net.delay_slots``
event vectors (``SimState.delayed``, newest first); delays are clipped to (D − 1)·dt (a mismatched
delay beyond the network's ``max_delay``). Mismatch multiplies d (:func:`.mismatch.mismatched_delay`).

**With precise spike timing** (``SimNetwork.precise_timing``, (P1)–(P3) of :mod:`.model`) an event carries its
lateness a (s; a network's spike: dt − t_s; a timestamped input: (E1) of :mod:`.timed_inputs`): delivered
without delay at step t it took place at t·dt − a, and through an entry of delay d = (k + f)·dt it arrives at
t·dt − a + d. It is delivered by the first step boundary after that time, at

    step t + k with lateness a − f·dt        if a ≥ f·dt,
    step t + k + 1 with lateness a + (1 − f)·dt   otherwise.                                   (D2)

The history keeps, per source and step, the events e and their moment e·a; an entry's count and moment at
step t read slot k where ā ≥ f·dt and slot k + 1 where ā < f·dt (ā = moment/e, the mean lateness of the
source's events of that step: several input events of one source and bin move together), as

    e_d = [ā_k ≥ f·dt]·e_k + [ā_{k+1} < f·dt]·e_{k+1},
    (e·a)_d = [ā_k ≥ f·dt]·(e·a − e·f·dt)_k + [ā_{k+1} < f·dt]·(e·a + e·(1 − f)·dt)_{k+1}          (D3)

(e_k = e[t − k]), summed into (Q1) and (P1) like undelayed events. The masks carry no gradient; the
moment does, ∂(e·a)_d/∂d = −e_d: a longer delay is a later arrival (a smaller lateness), which the step
(P2)–(P3) turns into a later jump. (D1)'s interpolation stays the path without precise timing.

Costs: a delayed step gathers per entry (the dense ELL path; no event-driven variant), and its
gradient stores the history with every step (memory T × D × batch × n_sources).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .mismatch import mismatched_delay
from .network import DTYPE, SimNetwork


#: A delay within this many steps of a whole step is that whole step (float32 rounding of d/dt).
SNAP = 1e-4


def delay_taps(net: SimNetwork, mismatch, dt: float):
    """(index [S] = k·n_sources + src, fraction f [S]) of every entry's read (D1), d mismatched and
    clipped to [0, (D − 1)·dt]; f carries the gradient with respect to d (k does not). A d/dt within
    :data:`SNAP` of a whole step reads exactly that step (f = 0 in value, ∂f/∂d = 1/dt kept)."""
    steps = jnp.clip(mismatched_delay(net, mismatch) / dt, 0.0, net.delay_slots - 1.0)
    k = jnp.minimum(jnp.floor(lax.stop_gradient(steps) + SNAP), net.delay_slots - 2.0)
    f = steps - k
    f = f - lax.stop_gradient(jnp.where(jnp.abs(f) < SNAP, f, 0.0))
    return k.astype(jnp.int32) * net.n_sources + net.src, f


def delayed_charge(net: SimNetwork, w_slot, index, frac, events, history):
    """(per-dendrite charge Σ e_d·I_w — four [B, N] arrays or None —, new history [B, D, n_src]).

    The history gets this step's ``events`` [B, n_src] in front; each entry reads (D1) at ``index``
    and ``index`` + n_sources (one step further back); the slots (ELL layout, ``net.slot_entry``)
    gather those per-entry events and contract them with the slot weights ``w_slot``."""
    b = events.shape[0]
    hist = jnp.concatenate([events[:, None], history[:, :-1]], axis=1)
    flat = hist.reshape(b, -1)
    now = jnp.take(flat, index, axis=1, mode="clip")
    before = jnp.take(flat, index + net.n_sources, axis=1, mode="clip")
    return _slots(net, w_slot, now + frac * (before - now)), hist


def timed_delayed_charge(net: SimNetwork, w_slot, index, frac, events, moments, history, dt: float):
    """With precise spike timing, (D2)–(D3): (charge, moment — four [B, N] arrays or None each —, new history
    [B, D, 2·n_src], the events and their moments side by side). ``moments`` [B, n_src]: e·a of this step's
    events (s·count); ``dt`` (s)."""
    b, n = events.shape[0], net.n_sources
    hist = jnp.concatenate([jnp.concatenate([events, moments], axis=1)[:, None], history[:, :-1]], axis=1)
    e_flat, m_flat = hist[..., :n].reshape(b, -1), hist[..., n:].reshape(b, -1)
    e0, m0 = (jnp.take(a, index, axis=1, mode="clip") for a in (e_flat, m_flat))
    e1, m1 = (jnp.take(a, index + n, axis=1, mode="clip") for a in (e_flat, m_flat))
    shift = frac * dt                           # f·dt (s): the part of the delay past k whole steps
    # ā ≥ f·dt: slot k, lateness ā − f·dt; ā < f·dt: slot k + 1, lateness ā + (1 − f)·dt (ā = 0 without events:
    # where a silent source's surrogate gradient goes)
    now = lax.stop_gradient(jnp.where(e0 > 0, m0 >= e0 * shift, shift <= 0))
    before = lax.stop_gradient(jnp.where(e1 > 0, m1 < e1 * shift, shift > 0))
    count = jnp.where(now, e0, 0.0) + jnp.where(before, e1, 0.0)
    moment = jnp.where(now, m0 - e0 * shift, 0.0) + jnp.where(before, m1 + e1 * (dt - shift), 0.0)
    return _slots(net, w_slot, count), _slots(net, w_slot, moment), hist


def _slots(net: SimNetwork, w_slot, per_entry):
    """Σ over each neuron's ELL slots of the per-entry events [B, S] times the slot weights: four [B, N] or None."""
    b = per_entry.shape[0]
    per_entry = jnp.concatenate([per_entry, jnp.zeros((b, 1), DTYPE)], axis=1)
    out = [None] * 4
    for g, dend in enumerate(net.groups):
        k = w_slot[g].shape[0]
        v = jnp.take(per_entry, net.slot_entry[g].reshape(-1), axis=1, mode="clip").reshape(b, k, net.n_neurons)
        out[dend] = jnp.einsum("bkn,kn->bn", v, w_slot[g])
    return out
