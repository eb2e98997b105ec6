"""Training sees the delay mismatch the emulator draws: each delay stage's own σ (DLY2's 3×), per entry."""

import numpy as np

from neurodeploy.train.tasks import get_task

SMALL = dict(n_train=16, n_val=8, n_test=8)


def _setup(profile):
    from neurodeploy.train.architecture import default_network
    from neurodeploy.train.loop import TrainConfig, Trainer
    from neurodeploy.train.run import settle_delays
    from neurodeploy.train.structure import Structure

    task = get_task("coincidence", **SMALL)
    arch = task.architecture()
    st = Structure(default_network(task, arch, profile), profile, learn_delays=True, max_delay=arch["max_delay"], seed=0)
    cfg = TrainConfig(epochs=2, batch_size=8, draws=1, eval_draws=1, progress=False, learn_delays=True)
    tr = Trainer(st, task.data("train"), task.data("val"), cfg, profile)
    theta = st.init_theta()
    w = np.asarray(theta["weights"], np.float32)
    theta = settle_delays(st, theta, w, profile)        # on the levels map gives them
    return st, tr, theta, w


def _relative_spread(delays):
    """[n] std/mean of each entry's delay over the draws (axis 0); nan for a zero delay."""
    d = np.asarray(delays, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return d.std(0) / d.mean(0)


def test_training_draws_delays_with_the_emulators_per_level_spread(profile):
    import jax

    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.deployment import deploy
    from neurodeploy.sim.mismatch import mismatched_delay, sample_mismatch_stack
    from neurodeploy.train.delay_mismatch import slot_spreads, with_spread

    st, tr, theta, w = _setup(profile)
    assert np.all(slot_spreads(st, tr.dquant, theta) == 1.0)     # before any fit: no levels known yet
    tr.dquant.refit(theta, w)                                    # the levels map gives this model
    net = with_spread(st.apply({**theta, "weights": w}), slot_spreads(st, tr.dquant, theta), st.entry_syn)
    d_train = np.asarray(mismatched_delay(net, sample_mismatch_stack(net, jax.random.PRNGKey(3), 600, sigma=0.1)))
    emu = Emulator(deploy(st.to_network(theta, w), profile).config, profile)
    dec = emu.decoded
    d_emu = np.asarray(mismatched_delay(emu.net, emu.mismatch(5, 0.1, trials=600)))
    lv_train = np.round(np.asarray(net.delay, np.float64), 7)
    lv_emu = np.round(dec.delay, 7)
    levels = np.unique(lv_emu[lv_emu > 0])
    assert levels.size >= 2 and set(levels) <= set(np.unique(lv_train))
    r_train, r_emu = _relative_spread(d_train), _relative_spread(d_emu)
    spreads = []
    for lv in levels:
        a, b = r_train[lv_train == lv].mean(), r_emu[lv_emu == lv].mean()
        spreads.append(b / 0.1)
        assert abs(a - b) <= 0.1 * b, (lv, a, b)          # the same σ per level, within sampling error
        # the spread assigned to the level is the emulator's, exactly (eq. (10) of device.delays)
        np.testing.assert_allclose(np.unique(np.asarray(net.delay_spread)[lv_train == lv]),
                                   np.unique(dec.delay_spread[lv_emu == lv]), rtol=1e-5)
    assert max(spreads) > 1.3                             # a level through DLY2 spreads more than the chip's σ


def test_level_spreads_follow_the_stages_used(profile):
    from neurodeploy.device.delays import entry_spread, level_spreads

    t = np.array([1e-3, 10e-3, 10e-3])
    s = level_spreads(t, (1.0, 1.0, 3.0))
    np.testing.assert_allclose(s, [1.0, np.hypot(1e-3, 10e-3) / 11e-3, np.hypot(1e-3, 30e-3) / 11e-3,
                                   np.sqrt(1e-6 + 1e-4 + 9e-4) / 21e-3])
    assert s[2] > 2.5 * s[1]                               # DLY2's 3×
    np.testing.assert_allclose(entry_spread(t[0], t[1], t[2], [0, 1], [0, 1], (1, 1, 1)),
                               [1.0, np.sqrt(1e-6 + 2e-4) / 21e-3])
