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
    per_entry = jnp.concatenate([now + frac * (before - now), jnp.zeros((b, 1), DTYPE)], axis=1)
    out = [None] * 4
    for g, dend in enumerate(net.groups):
        k = w_slot[g].shape[0]
        v = jnp.take(per_entry, net.slot_entry[g].reshape(-1), axis=1, mode="clip").reshape(b, k, net.n_neurons)
        out[dend] = jnp.einsum("bkn,kn->bn", v, w_slot[g])
    return out, hist
