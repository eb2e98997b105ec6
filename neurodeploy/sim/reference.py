"""The reference simulator: the model's :func:`.model.step` in a plain time loop, the oracle of every engine path.

Nothing of the engine (:mod:`.engine`): no weight layouts, no fusion marks, no custom gradient (JAX
differentiates the loop as written, storing every intermediate of every step), one evaluation of the
synaptic charge — eq. (Q1) of :mod:`.charge` summed entry by entry,

    Q[b, d·N + n] = Σ_{k: d_k = d, n_k = n} e_k[b] · I_w,k        (A)

with e_k the events entry k delivers: the count of its source in the bin's source vector [inputs; the
network's spikes of the last bin], or with delays the interpolated read of (D1) of :mod:`.delays`,
``(1 − f)·e[t − k] + f·e[t − k − 1]`` (evaluated as ``e[t − k] + f·(e[t − k − 1] − e[t − k])``); with
precise spike timing also its first moment (P1) of :mod:`.model`, the same sum over e_k·a_k. Slow and
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


def simulate(net: SimNetwork, inputs, mismatch=None, state: model.SimState | None = None, record=False,
             dt: float | None = None):
    """:func:`neurodeploy.sim.simulate`'s results, computed plainly (module docstring): the same arguments
    (no ``event_driven``: there is one path) and the same returns, (spikes, final state, records or None)."""
    dt = float(net.dt if dt is None else dt)
    x = jnp.asarray(inputs, DTYPE)
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    names = model.RECORDED if record is True else ((record,) if isinstance(record, str) else tuple(record or ()))
    cur, cap, weight = apply_mismatch(net, mismatch)
    c = model.circuit(net.neurons, cur, cap, dt, timed=net.precise_timing, nodes=net.passage_nodes)
    index, frac = delay_taps(net, mismatch, dt) if net.delay_slots else (None, None)
    if state is None:
        state = model.initial_state(net, x.shape[0])
    elif unbatched:
        state = state._replace(**{k: v[None] for k, v in state._asdict().items() if v is not None})

    def step(state, x_t):
        events = jnp.concatenate([x_t, state.spikes], axis=1)          # [B, n_sources]
        history = None
        if net.delay_slots:                                             # (D1), the last D steps newest first
            history = jnp.concatenate([events[:, None], state.delayed[:, :-1]], axis=1)
            flat = history.reshape(x.shape[0], -1)
            now = flat[:, index]
            e = now + frac * (flat[:, index + net.n_sources] - now)    # (1 − f)·e[t − k] + f·e[t − k − 1]
        else:
            e = events[:, net.src]
        late = None
        if state.lateness is not None and not net.delay_slots:       # (P1) of .model: events × lateness (s)
            timed = jnp.concatenate([jnp.zeros_like(x_t), state.spikes * state.lateness], axis=1)
            late = charge(net, weight, timed[:, net.src])
        new = model.step(c, state, charge(net, weight, e), late=late)._replace(delayed=history)
        return new, (new.spikes, {k: getattr(new, k) for k in names})

    final, (spikes, rec) = lax.scan(step, state, jnp.swapaxes(x, 0, 1))
    spikes, rec = jnp.swapaxes(spikes, 0, 1), {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
    if unbatched:
        spikes = spikes[0]
        final = final._replace(**{k: v[0] for k, v in final._asdict().items() if v is not None})
        rec = {k: v[0] for k, v in rec.items()}
    return spikes, final, (rec if names else None)
