"""Synaptic delays with precise spike timing ((D2)–(D3) of :mod:`neurodeploy.sim.delays`): an event keeps its time
through a delay — it arrives d after it took place, delivered by the next step boundary with the lateness left."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.sim import bin_events, build_from_arrays, default_params, sample_mismatch, simulate
from neurodeploy.sim import engine, model, reference

DT = 1e-3
T, N, N_IN = 30, 40, 20


def _one(profile, delay):
    """input 0 → neuron 0 (AMPA), precise timing; ``delay`` None: the delay-free network."""
    more = {} if delay is None else {"delay": delay, "max_delay": 10 * DT}
    return build_from_arrays(1, default_params(profile, 1), {}, [0], [0], [0], [1e-7], profile, dt=DT,
                             precise_timing=True, **more)


@pytest.mark.parametrize("t_event, delay", [(2.3e-3, 3.0e-3), (2.3e-3, 3.25e-3), (2.3e-3, 3.9e-3), (2.0e-3, 1.5e-3)],
                         ids=["whole", "a >= f dt", "a < f dt", "on a boundary"])
def test_a_delayed_event_is_the_event_at_its_arrival_time(profile, t_event, delay):
    """An input event at t through a delay d acts as the same event at t + d without one: the synapse and the
    membrane agree at every step (the fraction f·dt of the delay compared with the event's lateness a, (D2))."""
    x, late = bin_events([t_event], [0], 1, DT, T)
    xd, late_d = bin_events([t_event + delay], [0], 1, DT, T)
    _, _, rec = simulate(_one(profile, delay), x, input_lateness=late, record=("I_ampa", "I_mem"))
    _, _, ref = simulate(_one(profile, None), xd, input_lateness=late_d, record=("I_ampa", "I_mem"))
    assert float(np.max(ref["I_ampa"])) > 10 * profile.analog.I_0
    for k in ("I_ampa", "I_mem"):
        np.testing.assert_allclose(rec[k], ref[k], rtol=2e-5, err_msg=k)


def test_the_gradient_of_a_delay_is_a_later_arrival(profile):
    """∂I_ampa(t)/∂d after the arrival: finite, positive (a later arrival has decayed less by t) and the finite
    difference's, also across the delay's whole step (where the event moves from slot k to k + 1)."""
    x, late = bin_events([2.3e-3], [0], 1, DT, T)
    net = _one(profile, 3.25e-3)

    def ampa(d, t=12):
        return simulate(net.replace(delay=d), x, input_lateness=late, record=("I_ampa",))[2]["I_ampa"][t, 0]

    for d in (3.25e-3, 3.69e-3, 3.71e-3):      # the event (a = 0.7 ms) switches slot at d = 3.7 ms
        d0 = jnp.full((1,), d, jnp.float32)
        g = float(jax.grad(lambda dd: ampa(dd))(d0)[0])
        h = 1e-5
        fd = float(ampa(d0 + h) - ampa(d0 - h)) / (2 * h)
        assert np.isfinite(g) and g > 0 and fd > 0
        np.testing.assert_allclose(g, fd, rtol=0.05)


def test_the_gradient_of_a_delay_moves_the_spike_later(profile):
    """As without precise timing (tests/test_delays.py): ∂(spike time)/∂d > 0 through the surrogate."""
    base = build_from_arrays(1, default_params(profile, 1), {}, [0], [0], [0], [1e-6], profile, dt=DT, delay=4.5 * DT,
                             max_delay=20 * DT, precise_timing=True)
    x, late = bin_events([5.4e-3], [0], 1, DT, 40)
    t = jnp.arange(40, dtype=jnp.float32)
    s = simulate(base, x, input_lateness=late)[0]
    assert float(s.sum()) == 1

    def spike_time(d):
        return jnp.sum(simulate(base.replace(delay=d), x, input_lateness=late)[0][:, 0] * t)

    g = jax.grad(spike_time)(base.delay)
    assert np.all(np.isfinite(g)) and float(g[0]) > 0


def _network(profile):
    rng = np.random.default_rng(3)
    src = np.concatenate([rng.choice(N_IN + N, 8, replace=False) for _ in range(N)])
    dend = rng.choice([0, 1, 2], N * 8, p=[0.7, 0.1, 0.2])
    w = rng.uniform(0.5, 1.5, N * 8) * np.where(src < N_IN, 4e-7, 1.5e-7)
    return build_from_arrays(N_IN, default_params(profile, N), {}, src, np.repeat(np.arange(N), 8), dend, w, profile,
                             precise_timing=True, delay=rng.uniform(0, 3.5, N * 8) * DT)


def _outputs(net, x, late, m, path):
    state = model.initial_state(net, x.shape[0])
    if path == "reference":
        return reference.simulate(net, x, m, state, ("I_mem",), input_lateness=late)
    return engine.run(net, x, m, state, ("I_mem",), net.dt, path, lateness=late)


@partial(jax.jit, static_argnames="path")
def _gradient(net, x, late, m, path):
    def loss(wt, dly):
        s, fin, rec = _outputs(net.replace(weight=wt, delay=dly), x, late, m, path)
        return jnp.sum(s * jnp.linspace(0, 1, T)[:, None]) + 1e7 * jnp.sum(rec["I_mem"]) + 1e7 * jnp.sum(fin.I_ampa)
    return jax.grad(loss, argnums=(0, 1))(net.weight, net.delay)


def test_the_engine_equals_the_reference(profile):
    """Fractional delays, recurrent spikes and timed inputs on a mismatched chip: the engine's step (with delays
    every path sums the charge by :func:`neurodeploy.sim.delays.timed_delayed_charge`) and the plain loop give the
    same spikes, states and gradients (weights and delays; tolerances those of tests/test_sim_reference.py)."""
    net = _network(profile)
    m = sample_mismatch(net, jax.random.PRNGKey(1))
    rng = np.random.default_rng(5)
    x = (rng.random((2, T, N_IN)) < 0.15).astype(np.float32)
    late = jnp.asarray(x * rng.uniform(0, DT, x.shape).astype(np.float32))
    x = jnp.asarray(x)
    (s_r, fin_r, rec_r), (s_e, fin_e, rec_e) = (_outputs(net, x, late, m, p) for p in ("reference", "gather"))
    assert float(s_r.sum()) > 0.05 * s_r.size
    np.testing.assert_array_equal(np.asarray(s_e), np.asarray(s_r))
    np.testing.assert_allclose(fin_e.I_ampa, fin_r.I_ampa, rtol=1e-5, atol=1e-20)
    np.testing.assert_allclose(fin_e.delayed, fin_r.delayed, rtol=0, atol=1e-3 * DT)        # counts and moments (s)
    np.testing.assert_allclose(rec_e["I_mem"], rec_r["I_mem"], rtol=0, atol=3e-3 * float(jnp.abs(rec_r["I_mem"]).max()))
    g_e, g_r = _gradient(net, x, late, m, "gather"), _gradient(net, x, late, m, "reference")
    for (key, a), b in zip(jax.tree_util.tree_leaves_with_path(g_e), jax.tree_util.tree_leaves(g_r)):
        assert np.all(np.isfinite(b)), jax.tree_util.keystr(key)
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-3 * np.abs(b).max(), err_msg=jax.tree_util.keystr(key))
    assert float(jnp.abs(g_r[1]).max()) > 0
