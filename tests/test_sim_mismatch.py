"""Device mismatch: statistics of the draws, determinism, and vmap over draws (many chips in one call)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.device.profile import NEURON_QUANTITIES
from neurodeploy.sim import (CAPACITANCES, build_from_arrays, default_params, no_mismatch, sample_mismatch,
                             sample_mismatch_stack, simulate)
from neurodeploy.sim.errors import SimError
from neurodeploy.sim.mismatch import MIN_FACTOR


def small_net(profile, n=2000, n_in=5, fan_in=3, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_in + n, n * fan_in)
    dst = np.repeat(np.arange(n), fan_in)
    dend = rng.integers(0, 4, n * fan_in)
    p = default_params(profile, n)
    return build_from_arrays(n_in, p, {}, src, dst, dend, rng.uniform(1e-8, 5e-8, n * fan_in), profile)


def _all_factors(m):
    return [m["weight"]] + list(m["currents"].values()) + list(m["capacitances"].values())


@pytest.mark.parametrize("sigma", [0.1, 0.2])
def test_sigma_matches_request(profile, sigma):
    net = small_net(profile)
    m = sample_mismatch(net, jax.random.PRNGKey(0), sigma)
    assert set(m["currents"]) == set(NEURON_QUANTITIES) and set(m["capacitances"]) == set(CAPACITANCES)
    assert m["weight"].shape == (net.n_synapses,)
    for f in _all_factors(m):
        f = np.asarray(f)
        assert f.shape[0] in (net.n_neurons, net.n_synapses)
        assert np.std(f) == pytest.approx(sigma, rel=0.10)
        assert np.mean(f) == pytest.approx(1.0, abs=4 * sigma / np.sqrt(f.size))
    # independent quantities get independent draws
    a, b = np.asarray(m["currents"]["Itau_mem"]), np.asarray(m["currents"]["Igain_mem"])
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1


def test_same_seed_same_draw_and_positive(profile):
    net = small_net(profile, n=50)
    a = sample_mismatch(net, jax.random.PRNGKey(7))
    b = sample_mismatch(net, jax.random.PRNGKey(7))
    c = sample_mismatch(net, jax.random.PRNGKey(8))
    for x, y, z in zip(_all_factors(a), _all_factors(b), _all_factors(c)):
        assert np.array_equal(np.asarray(x), np.asarray(y))
        assert not np.array_equal(np.asarray(x), np.asarray(z))
    big = sample_mismatch(net, 3, sigma=3.0)     # σ = 3: many factors would go negative
    assert min(float(jnp.min(f)) for f in _all_factors(big)) == pytest.approx(MIN_FACTOR)
    with pytest.raises(SimError, match="finite fraction >= 0"):
        sample_mismatch(net, 0, sigma=-0.01)


def test_vmap_over_draws_equals_loop(profile):
    rng = np.random.default_rng(2)
    n, n_in = 12, 6
    src = np.concatenate([rng.choice(n_in + n, 5, replace=False) for _ in range(n)])
    dst = np.repeat(np.arange(n), 5)
    dend = rng.choice([0, 0, 1, 2, 3], n * 5)
    w = rng.uniform(5e-8, 3e-7, n * 5) * np.where(dend == 3, 1e-3, 1.0)
    net = build_from_arrays(n_in, default_params(profile, n), {"adaptation": np.ones(n, bool)}, src, dst, dend, w, profile)
    x = (rng.random((2, 150, n_in)) < 0.08).astype(np.float32)
    draws = sample_mismatch_stack(net, jax.random.PRNGKey(1), 4)
    vm = np.asarray(jax.vmap(lambda m: simulate(net, x, m)[0])(draws))
    loop = np.stack([np.asarray(simulate(net, x, jax.tree_util.tree_map(lambda a: a[i], draws))[0]) for i in range(4)])
    assert vm.shape == (4, 2, 150, n)
    assert np.array_equal(vm, loop)
    assert vm.sum() > 0
    # the chips differ from each other and from the nominal one; the identity draw is the nominal chip
    nominal = np.asarray(simulate(net, x)[0])
    assert len({vm[i].tobytes() for i in range(4)} | {nominal.tobytes()}) == 5
    assert np.array_equal(np.asarray(simulate(net, x, no_mismatch(net))[0]), nominal)


def test_vmap_over_draws_at_batch_1_equals_loop(profile):
    """Batch 1 alone runs the event-driven charge; vmapped over draws it is the draws' neuron-major
    gather (.charge.draws_charge): the same spikes."""
    from neurodeploy.sim.charge import event_capacities
    rng = np.random.default_rng(5)
    n, n_in, k = 100, 40, 8
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst, dend = np.repeat(np.arange(n), k), rng.choice([0, 0, 0, 2], n * k)
    w = rng.uniform(0.5, 1.5, n * k) * np.where(src < n_in, 4e-7, 1e-7)
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, w, profile)
    assert event_capacities(net)
    x = (rng.random((1, 120, n_in)) < 0.1).astype(np.float32)
    draws = sample_mismatch_stack(net, jax.random.PRNGKey(3), 3)
    vm = np.asarray(jax.vmap(lambda m: simulate(net, x, m)[0])(draws))
    loop = np.stack([np.asarray(simulate(net, x, jax.tree_util.tree_map(lambda a: a[i], draws))[0]) for i in range(3)])
    assert vm.sum(axis=(1, 2, 3)).min() > 50                 # every chip fires
    assert np.array_equal(vm, loop)


def test_vmapped_event_charge_equals_the_gather_at_every_activity(profile):
    """Many draws at batch 1 ("event-pre"): the fired sources of all draws compacted together and scattered
    (.charge.draws_event_charge) give the gather's charge, in the sparse branches and beyond their capacity."""
    import importlib

    from neurodeploy.sim.charge import DRAWS_CAPACITIES, compact, dense_charge, event_charge_fn, stack4
    derive = importlib.import_module("neurodeploy.sim.engine").derive
    rng = np.random.default_rng(8)
    n, n_in, k, dd = 64, 10, 6, 5
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst, dend = np.repeat(np.arange(n), k), rng.choice([0, 1, 2, 3], n * k)
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, rng.uniform(1e-8, 1e-7, n * k), profile)
    d = jax.vmap(lambda m: derive(net, m, 1e-3).weights)(sample_mismatch_stack(net, jax.random.PRNGKey(4), dd))
    charge = event_charge_fn(net, offset=n_in)
    caps = [c * dd for c in DRAWS_CAPACITIES if 4 * c <= n]
    assert caps                                              # the sparse branches exist for this network
    for fired in (0, 3, caps[0], caps[0] + 1, caps[-1] + 1, dd * n):     # total sources fired over the draws
        on = np.zeros(dd * n, bool)
        if fired:       # always the last draw's first neuron: where the compaction's padding points
            on[(dd - 1) * n] = True
            on[rng.choice(np.setdiff1d(np.arange(dd * n), [(dd - 1) * n]), fired - 1, replace=False)] = True
        assert on.sum() == fired
        ev = np.zeros((dd, 1, n_in + n), np.float32)
        ev[:, 0, n_in:] = on.reshape(dd, n)
        ev = jnp.asarray(ev)
        got = jax.vmap(lambda e, ws, wn, wf: charge(e, ws, wn, wf, net.slot_src, net.fan_target))(ev, d.w_slot, d.w_nk, d.w_fan)
        want = jax.vmap(lambda e, ws: stack4(net, dense_charge(net, ws, net.slot_src, e), 1))(ev, d.w_slot)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-20, err_msg=f"{fired} fired")
        assert fired == 0 or np.abs(np.asarray(want)).sum() > 0
    for size in (300, 8200):        # rows of 8: their offsets by a cumulative sum, or (> 128 rows) rows of 128
        mask = jnp.asarray(rng.random(size) < 0.1)
        for cap in (1, 16, 64, size):
            assert np.array_equal(np.asarray(compact(mask, cap)),
                                  np.asarray(jnp.nonzero(mask, size=cap, fill_value=size)[0])), (size, cap)
