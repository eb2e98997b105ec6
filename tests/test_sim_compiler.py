"""The simulator's XLA options (neurodeploy.sim.compiler) change how fast, not what: forward runs (spikes and
recorded currents, every charge path a batch-1 and a batched run take) and a gradient are bit-identical with and
without them, and ``simulate`` gives the same bits called on its own (its compiled program carries the options)
and under a caller's ``jax.jit`` (the caller's)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.sim import COMPILER_OPTIONS, build_from_network, compiler_options, sample_mismatch, simulate
from neurodeploy.sim.compiler import jit

from networks import random_network

T = 120


@pytest.fixture(scope="module")
def net(profile):
    return build_from_network(random_network(160, 24, n_inputs=40, seed=4, sigma=1.0, weight_scale=2e-7), profile)[0]


def _inputs(batch):
    return jnp.asarray((np.random.default_rng(batch).random((batch, T, 40)) < 0.1).astype(np.float32))


def test_options_by_program():
    assert compiler_options() == dict(COMPILER_OPTIONS) == {"xla_cpu_prefer_vector_width": 512}
    assert compiler_options(batch=1) == {"xla_cpu_prefer_vector_width": 512,
                                         "xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED"}
    assert compiler_options(batch=8) == compiler_options()
    with pytest.raises(TypeError):
        COMPILER_OPTIONS["xla_cpu_prefer_vector_width"] = 256       # read-only: one set for every program


@pytest.mark.parametrize("batch", [1, 3])
def test_forward_bit_identical_with_and_without_options(net, batch):
    x, m = _inputs(batch), sample_mismatch(net, jax.random.PRNGKey(0))

    def run(xx, mm):
        s, final, rec = simulate(net, xx, mm, record=True)
        return s, final.I_mem, rec["I_mem"], rec["I_ampa"]
    plain, tuned = jax.jit(run)(x, m), jit(run, batch=batch)(x, m)
    assert float(plain[0].sum()) > 0.02 * plain[0].size                # an active network
    for a, b in zip(plain, tuned):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    alone = simulate(net, x, m, record=True)                # the engine's own compiled program (options of the batch)
    np.testing.assert_array_equal(np.asarray(alone[0]), np.asarray(plain[0]))
    np.testing.assert_array_equal(np.asarray(alone[2]["I_mem"]), np.asarray(plain[2]))


def test_gradient_bit_identical_with_and_without_options(net):
    x = _inputs(2)

    def loss(w):
        s, _, _ = simulate(net.replace(weight=w), x)
        return jnp.mean((s.mean(axis=1) - 0.02) ** 2)
    grad = jax.value_and_grad(loss)
    (v0, g0), (v1, g1) = jax.jit(grad)(net.weight), jit(grad)(net.weight)
    assert float(jnp.abs(g0).max()) > 0
    assert float(v0) == float(v1)
    np.testing.assert_array_equal(np.asarray(g0), np.asarray(g1))
