"""The reference simulator: the model's :func:`.model.step` in a plain time loop, the oracle of every engine path.

Nothing of the engine (:mod:`.engine`): no weight layouts, no fusion marks, no custom gradient (JAX
differentiates the loop as written, storing every intermediate of every step), one evaluation of the
synaptic charge — eq. (Q1) of :mod:`.charge` summed entry by entry,

    Q[b, d·N + n] = Σ_{k: d_k = d, n_k = n} e_k[b] · I_w,k        (A)

with e_k the events entry k delivers: the count of its source in the bin's source vector [inputs; the
network's spikes of the last bin], or with delays the interpolated read of (D1) of :mod:`.delays`,
``(1 − f)·e[t − k] + f·e[t − k − 1]`` (evaluated as ``e[t − k] + f·(e[t − k − 1] − e[t − k])``); with
precise spike timing also its first moment (P1) of :mod:`.model`, the same sum over e_k·a_k (a_k: the spike's
lateness, or for an input the bin's ``input_lateness``, (E2) of :mod:`.timed_inputs`; through delays both
read by (D2)–(D3) of :mod:`.delays`, with each source's mean lateness ā = moment/count). Slow and
plain: for tests (tests/test_sim_reference.py checks every engine path against it, forward and gradient)
and for reading.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from . import model
from .delays import delay_taps
from .mismatch import apply_mismatch
from .network import DTYPE, SimNetwork


def charge(net: SimNetwork, weight, e):
    """(Q1): four [B, N] arrays (A; None for a dendrite without synapses) from the entries' events e [B, S]
    and weight currents ``weight`` [S] (A)."""
    n = net.n_neurons
    q = jnp.zeros((e.shape[0], 4 * n), DTYPE).at[:, net.dendrite * n + net.dst].add(e * weight)
    return [q[:, i * n:(i + 1) * n] if i in net.groups else None for i in range(4)]


def _timed_delayed(net: SimNetwork, events, moments, delayed, index, frac, dt: float):
    """(D2)–(D3) of :mod:`.delays`, entry by entry: (events e_d [B, S], moments (e·a)_d [B, S], history)."""
    n, b = net.n_sources, events.shape[0]
    history = jnp.concatenate([jnp.concatenate([events, moments], axis=1)[:, None], delayed[:, :-1]], axis=1)
    e_all, m_all = history[..., :n].reshape(b, -1), history[..., n:].reshape(b, -1)
    e_k, m_k, e_k1, m_k1 = e_all[:, index], m_all[:, index], e_all[:, index + n], m_all[:, index + n]

    def mean(m, e):          # the mean lateness ā of a source's events in a step (0 without events)
        return lax.stop_gradient(jnp.where(e > 0, m / jnp.where(e > 0, e, 1.0), 0.0))

    arrived = mean(m_k, e_k) >= frac * dt           # slot k: arrived at t·dt − (ā − f·dt), not after t·dt
    waiting = mean(m_k1, e_k1) < frac * dt          # slot k + 1: arrives at (t − 1)·dt + (f·dt − ā), after (t − 1)·dt
    e = jnp.where(arrived, e_k, 0.0) + jnp.where(waiting, e_k1, 0.0)
    p = jnp.where(arrived, m_k - e_k * frac * dt, 0.0) + jnp.where(waiting, m_k1 + e_k1 * (1.0 - frac) * dt, 0.0)
    return e, p, history


def simulate(net: SimNetwork, inputs, mismatch=None, state: model.SimState | None = None, record=False,
             dt: float | None = None, input_lateness=None):
    """:func:`neurodeploy.sim.simulate`'s results, computed plainly (module docstring): the same arguments
    (no ``event_driven``: there is one path) and the same returns, (spikes, final state, records or None)."""
    dt = float(net.dt if dt is None else dt)
    x = jnp.asarray(inputs, DTYPE)
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    xl = jnp.zeros_like(x) if input_lateness is None else jnp.asarray(input_lateness, DTYPE).reshape(x.shape)
    names = model.RECORDED if record is True else ((record,) if isinstance(record, str) else tuple(record or ()))
    cur, cap, weight = apply_mismatch(net, mismatch)
    c = model.circuit(net.neurons, cur, cap, dt, timed=net.precise_timing, nodes=net.passage_nodes)
    index, frac = delay_taps(net, mismatch, dt) if net.delay_slots else (None, None)
    if state is None:
        state = model.initial_state(net, x.shape[0])
    elif unbatched:
        state = state._replace(**{k: v[None] for k, v in state._asdict().items() if v is not None})

    def step(state, inp):
        x_t, xl_t = inp
        events = jnp.concatenate([x_t, state.spikes], axis=1)          # [B, n_sources]
        history = None
        if net.delay_slots and state.lateness is not None:             # (D2)–(D3) of .delays
            moments = jnp.concatenate([xl_t, state.spikes * state.lateness], axis=1)
            e, p, history = _timed_delayed(net, events, moments, state.delayed, index, frac, dt)
            new = model.step(c, state, charge(net, weight, e), late=charge(net, weight, p))._replace(delayed=history)
            return new, (new.spikes, {k: getattr(new, k) for k in names})
        if net.delay_slots:                                             # (D1), the last D steps newest first
            history = jnp.concatenate([events[:, None], state.delayed[:, :-1]], axis=1)
            flat = history.reshape(x.shape[0], -1)
            now = flat[:, index]
            e = now + frac * (flat[:, index + net.n_sources] - now)    # (1 − f)·e[t − k] + f·e[t − k − 1]
        else:
            e = events[:, net.src]
        late = None
        if state.lateness is not None and not net.delay_slots:       # (P1) of .model: events × lateness (s)
            timed = jnp.concatenate([xl_t, state.spikes * state.lateness], axis=1)
            late = charge(net, weight, timed[:, net.src])
        new = model.step(c, state, charge(net, weight, e), late=late)._replace(delayed=history)
        return new, (new.spikes, {k: getattr(new, k) for k in names})

    final, (spikes, rec) = lax.scan(step, state, (jnp.swapaxes(x, 0, 1), jnp.swapaxes(xl, 0, 1)))
    spikes, rec = jnp.swapaxes(spikes, 0, 1), {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
    if unbatched:
        spikes = spikes[0]
        final = final._replace(**{k: v[0] for k, v in final._asdict().items() if v is not None})
        rec = {k: v[0] for k, v in rec.items()}
    return spikes, final, (rec if names else None)
