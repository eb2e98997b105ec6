"""The noise term: on trials without a class the most active read-out channel is pushed down."""

import numpy as np
import pytest


def test_noise_top_counts_only_trials_without_a_class():
    jnp = pytest.importorskip("jax.numpy")
    from neurodeploy.train.losses import noise_top

    counts = jnp.asarray([[9.0, 0.0], [0.0, 3.0], [1.0, 7.0]])
    valid = jnp.asarray([1.0, 0.0, 0.0])                   # trial 0 has a class: not counted
    assert float(noise_top(counts, valid)) == pytest.approx((np.log(4.0) + np.log(8.0)) / 2)
    assert float(noise_top(counts, jnp.ones(3))) == 0.0      # no noise trials: no term


def test_noise_top_gradient_lowers_only_the_top_channel_of_noise_trials():
    jax = pytest.importorskip("jax")
    from neurodeploy.train.losses import noise_top

    counts = jax.numpy.asarray([[2.0, 5.0], [4.0, 1.0]])
    g = np.asarray(jax.grad(noise_top)(counts, jax.numpy.asarray([0.0, 1.0])))
    assert g[0, 1] > 0 and g[0, 0] == 0 and np.all(g[1] == 0)


def test_frozen_noise_trains_with_the_noise_term():
    from neurodeploy.train.loop import TrainConfig
    from neurodeploy.train.tasks import get_task

    arch = get_task("frozen-noise").architecture()
    assert arch["noise_weight"] > 0
    assert TrainConfig().noise_weight == 0.0                 # off unless a task (or --noise-loss) asks for it
