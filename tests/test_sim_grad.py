"""Gradients through simulate (surrogate spike): finite, non-zero, and good enough for Adam to learn."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from neurodeploy.device.profile import NEURON_QUANTITIES
from neurodeploy.sim import Parametrization, build_from_network, simulate
from neurodeploy.network import network_from_dict

TARGET = np.array([10.0, 40.0, 0.0])  # Hz per output neuron


@pytest.fixture(scope="module")
def setup(profile):
    """A network using every feature (adaptation, DC, NMDA gate, four dendrites, recurrence, signed weights)
    and ONE compiled value-and-grad of a rate loss, shared by the tests of this module."""
    rng = np.random.default_rng(3)
    a = profile.analog
    network = network_from_dict({
        "n_inputs": 8, "dt": 1e-3,
        "populations": [{"name": "out", "size": 3, "adaptation": True, "Idc": 5e-9, "If_nmda": 1e-9,
                         "Iw_ahp": 2e-9, "Ipulse_ahp": a.V_th * a.C_pulse_ahp / 1e-4}],
        "projections": [
            {"source": "input", "target": "out", "weight_scale": 1e-7, "weight": rng.uniform(-0.3, 1.0, (8, 3)).round(3).tolist()},
            {"source": "input", "target": "out", "synapse": "nmda", "weight_scale": 1e-7, "pre": [0, 1, 2], "post": [0, 1, 2], "w": [0.5, 0.5, 0.5]},
            {"source": "input", "target": "out", "synapse": "shunt", "weight_scale": 1e-10, "pre": [3, 4], "post": [0, 1], "w": [1.0, 1.0]},
            {"source": "out", "target": "out", "weight_scale": 1e-7, "pre": [0, 1, 2], "post": [1, 2, 0], "w": [0.3, -0.3, 0.3]}],
        "outputs": [{"population": "out"}]})
    net, index = build_from_network(network, profile, sign_pairs=True)
    par = Parametrization.from_network_index(net, index)
    x = jnp.asarray((rng.random((4, 200, 8)) < 0.06).astype(np.float32))

    def loss(th):
        s, _, _ = simulate(par.apply(net, th), x)
        rate = s[..., index.output_indices].mean(axis=(0, 1)) / network.dt
        return jnp.mean(((rate - TARGET) / 20.0) ** 2)

    return par, jax.jit(jax.value_and_grad(loss))


def test_gradients_finite_and_nonzero(setup):
    par, step = setup
    val, g = step(par.init())
    assert np.isfinite(float(val)) and float(val) > 0
    gw = np.asarray(g["weights"])
    assert np.all(np.isfinite(gw)) and np.count_nonzero(gw) > gw.size // 2
    for q in NEURON_QUANTITIES:               # every current matters in this network
        gq = np.asarray(g["log_currents"][q])
        assert np.all(np.isfinite(gq)), q
        assert np.any(gq != 0), q
    # log-current and unitless coordinates are well scaled: gradients within a few decades of 1
    scale = max(float(np.abs(gw).max()), max(float(np.abs(np.asarray(v)).max()) for v in g["log_currents"].values()))
    assert 1e-4 < scale < 1e3


def test_adam_lowers_a_loss(setup):
    par, step = setup
    opt = optax.adam(0.05)
    theta = par.init()
    state = opt.init(theta)
    losses = []
    for _ in range(8):
        val, g = step(theta)
        losses.append(float(val))
        upd, state = opt.update(g, state)
        theta = optax.apply_updates(theta, upd)
    losses.append(float(step(theta)[0]))
    assert losses[-1] < 0.7 * losses[0], losses


def test_inhibited_neuron_still_gets_a_gradient(profile):
    """The input floor max(I_in, I_0) has a leaky surrogate derivative: with only inhibitory (GABA)
    input every weight still gets a non-zero gradient (with the plain clip: exactly zero), while the
    forward pass is the clip itself (the neuron stays silent, I_mem at rest)."""
    n, n_in = 4, 30
    src, dst = np.repeat(np.arange(n_in), n), np.tile(np.arange(n), n_in)
    from neurodeploy.sim import build_from_arrays, default_params
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, np.full(src.size, 2),
                            np.full(src.size, 5e-8), profile)
    x = jnp.asarray((np.random.default_rng(0).random((2, 100, n_in)) < 0.05).astype(np.float32))

    def loss(w):
        s, _, rec = simulate(net.replace(weight=w), x, record=("I_mem",))
        return s.sum() + rec["I_mem"].sum() / profile.analog.I_0

    val, g = jax.value_and_grad(loss)(net.weight)
    g = np.asarray(g)
    assert np.all(np.isfinite(g)) and np.count_nonzero(g) == g.size
    assert np.all(g < 0)                      # more inhibition → lower I_mem
    s, _, rec = simulate(net, x, record=True)
    assert float(s.sum()) == 0
    np.testing.assert_allclose(np.asarray(rec["I_mem"]), profile.analog.I_0, rtol=1e-5)


def test_checkpointed_scan_vjp_equals_plain_autodiff(setup, profile):
    """simulate's time loop has a recomputing (checkpointed) VJP; it must give plain autodiff's
    gradients of the same step function, for parameters, initial state and inputs alike."""
    import sys

    from jax import lax

    S = sys.modules["neurodeploy.sim.engine"]
    from neurodeploy.sim.model import initial_state
    from neurodeploy.sim.remat import scan_remat
    par, _ = setup
    rng = np.random.default_rng(7)
    from neurodeploy.sim import build_from_arrays, default_params
    n, n_in = 5, 6
    src = np.concatenate([rng.choice(n_in + n, 4, replace=False) for _ in range(n)])
    dst, dend = np.repeat(np.arange(n), 4), rng.choice([0, 1, 2, 3], 4 * n)
    w = rng.uniform(0.5, 1.5, 4 * n) * np.where(dend == 3, 3e-10, 1.5e-7)
    net = build_from_arrays(n_in, default_params(profile, n), {"adaptation": np.ones(n, bool)}, src, dst, dend, w, profile)
    x = jnp.asarray((rng.random((60, 2, n_in)) < 0.15).astype(np.float32))
    state = initial_state(net, 2)
    step = S._step_of(net, ("I_mem",), False)

    def loss(scan, cur, st, xs):
        d = S.derive(net.replace(currents=cur), None, 1e-3)
        final, (s, rec) = scan(step, (d, net.slot_src, net.fan_target), st, xs)
        return jnp.sum(s * jnp.arange(60.0)[:, None, None]) + jnp.sum(rec["I_mem"]) * 1e8 + jnp.sum(final.I_ampa) * 1e8

    plain = lambda f, c, st, xs: lax.scan(partial_step(f, c), st, xs)   # noqa: E731
    args = (dict(net.currents), state, x)
    gb = jax.grad(lambda *a: loss(plain, *a), argnums=(0, 1, 2))(*args)
    # the backward reads the spikes, resets and refractory times from the forward's states
    remat = scan_remat
    ga = jax.grad(lambda *a: loss(remat, *a), argnums=(0, 1, 2))(*args)
    assert float(jnp.abs(ga[0]["Itau_mem"]).sum()) > 0 and float(jnp.abs(ga[0]["Iref"]).sum()) > 0
    for a, b in zip(jax.tree_util.tree_leaves(ga), jax.tree_util.tree_leaves(gb)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6 * float(jnp.abs(b).max()) + 1e-30)
    # only part differentiated (symbolic zeros: the VJP skips the rest): one current, or the inputs alone
    one = lambda scan: lambda t: loss(scan, {**dict(net.currents), "Itau_mem": t}, state, x)   # noqa: E731
    t0 = jnp.asarray(net.currents["Itau_mem"])
    np.testing.assert_allclose(np.asarray(jax.grad(one(remat))(t0)), np.asarray(gb[0]["Itau_mem"]), rtol=1e-4,
                               atol=1e-6 * float(jnp.abs(gb[0]["Itau_mem"]).max()))
    gx = jax.grad(lambda xs: loss(remat, dict(net.currents), state, xs))(x)
    assert float(jnp.abs(gb[2]).sum()) > 0
    np.testing.assert_allclose(np.asarray(gx), np.asarray(gb[2]), rtol=1e-4, atol=1e-6 * float(jnp.abs(gb[2]).max()))


def partial_step(f, c):
    return lambda st, x: f(c, st, x)
