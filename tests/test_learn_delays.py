"""Learned synaptic delays: ``train --learn-delays`` and the ``coincidence`` task."""

import json

import numpy as np
import pytest

from neurodeploy.network import network_from_dict
from neurodeploy.train.tasks import get_task
from neurodeploy.train.tasks.coincidence import _overlap, patterns

SMALL = dict(n_train=16, n_val=8, n_test=8)


def _cfg(**kw):
    from neurodeploy.train.loop import TrainConfig

    base = dict(epochs=2, batch_size=8, lr=0.05, seed=1, draws=1, eval_draws=1, qat_epochs=1, progress=False,
                learn_delays=True)
    base.update(kw)
    return TrainConfig(**base)


# ---- the task ---------------------------------------------------------------------------------------------
def test_coincidence_classes_differ_only_in_timing():
    task = get_task("coincidence", **SMALL)
    d = task.data("train", 3)
    assert d.spikes.shape == (16, task.n_steps, 16) and task.n_classes == 4
    assert np.array_equal(d.spikes, task.data("train", 3).spikes)
    assert not np.array_equal(d.spikes, task.data("train", 4).spikes)
    assert np.array_equal(d.labels, task.data("train", 4).labels)
    quiet = get_task("coincidence", background=0.0, jitter=0.0, **SMALL).data("val")
    per_channel = quiet.spikes.sum(1)
    assert np.all(per_channel == 1)                                 # one spike per channel in every class
    first = quiet.spikes.argmax(1)                                   # [n, channels] spike bin
    for i in range(quiet.n):                                         # volley times: start + o_k[group]·Δ
        slots = (first[i, ::4] - first[i, ::4].min()) // task.spacing
        assert np.array_equal(slots, task.offsets(int(quiet.labels[i])))


def test_patterns_align_at_most_one_group_of_another_class():
    p = patterns(4, 4)
    assert sorted(map(tuple, p)) == sorted({tuple(r) for r in p})
    assert all(_overlap(a, b) == 1 for i, a in enumerate(p) for b in p[i + 1:])
    assert np.array_equal(p, patterns(4, 4))


def test_architecture_bounds_the_delays_to_what_the_task_needs():
    task = get_task("coincidence", **SMALL)
    a = task.architecture()
    assert a["hidden"] == 0 and a["tau_mem"] < task.spacing * task.dt
    assert a["max_delay"] >= (task.n_groups - 1) * task.spacing * task.dt


# ---- structure and training ------------------------------------------------------------------------------
def _make_network(**proj):
    return network_from_dict({"n_inputs": 3, "populations": [{"name": "p", "size": 2}], "outputs": [{"population": "p"}],
                           "projections": [{"source": "input", "target": "p", "weight": [[0.5, 0.0], [0.25, 1.0], [1.0, 0.5]],
                                            "weight_scale": 1e-7, **proj}]})


def test_structure_learns_delays_inside_the_bound_and_writes_them_back(profile):
    import jax.numpy as jnp

    from neurodeploy.train.structure import Structure

    st = Structure(_make_network(), profile, learn_delays=True, max_delay=0.02, seed=0)
    th = st.init_theta()
    d0 = st.delays_of(th)
    assert d0.shape == (6,) and np.all((0 <= d0) & (d0 <= 0.02)) and np.ptp(d0) > 0     # seeded spread
    th["delays"] = jnp.asarray([-1.0, 0.5, 1.0, 1.5, 100.0, 0.0], jnp.float32)        # units of 10·dt
    net = st.apply(th)
    np.testing.assert_allclose(np.asarray(net.delay)[np.argsort(st.entry_syn, kind="stable")],
                               np.repeat([0.0, 0.005, 0.01, 0.015, 0.02, 0.0], 2), atol=1e-9)   # auto: 2 entries
    out = st.to_network(th)
    assert np.allclose(out.projections[0].delay, [[0.0, 0.005], [0.01, 0.015], [0.02, 0.0]])
    # a network with delays, not learned: the delays stay fixed and are written back unchanged
    fixed = Structure(_make_network(delay=0.004), profile)
    assert "delays" not in fixed.init_theta() and np.allclose(np.asarray(fixed.net.delay), 0.004)
    assert fixed.to_network(fixed.init_theta()).projections[0].delay == 0.004


def test_the_loss_gradient_reaches_the_delays(profile):
    import jax

    from neurodeploy.sim import simulate
    from neurodeploy.train.structure import Structure

    task = get_task("coincidence", **SMALL)
    from neurodeploy.train.architecture import default_network

    network = default_network(task, task.architecture(), profile)
    st = Structure(network, profile, learn_delays=True, max_delay=task.architecture()["max_delay"], seed=0)
    raw = network.to_json_dict()
    raw["projections"][0]["weight_scale"] = 3e-7
    st = Structure(network_from_dict(raw), profile, learn_delays=True, max_delay=task.architecture()["max_delay"], seed=0)
    x = task.data("train").spikes[:4]

    def loss(theta):
        s = simulate(st.apply(theta), x)[0]
        return -s[..., st.outputs].sum()

    g = jax.grad(loss)(st.init_theta())["delays"]
    assert np.all(np.isfinite(np.asarray(g))) and np.count_nonzero(np.asarray(g)) > 0


def test_train_learn_delays_writes_delays_that_map(tmp_path, profile):
    from neurodeploy.deployment import deploy
    from neurodeploy.importers import load_network
    from neurodeploy.train.run import train

    task = get_task("coincidence", **SMALL)
    s = train(task, tmp_path / "m.json", _cfg(), profile, report=False)
    c = s["constraints"]
    assert c["delays_learned"] and c["delays_in_range"] and c["delay_max_s"] <= task.architecture()["max_delay"] + 1e-9
    assert c["map_delay_rms_error_s"] <= 1e-6                      # QAT put the delays on their cores' levels
    network = load_network(tmp_path / "m.json")
    d = np.asarray(network.projections[0].delay)
    assert d.shape == (task.n_inputs, task.n_classes * task.architecture()["outputs_per_class"]) and np.all(d >= 0)
    meta = json.loads((tmp_path / "m.json").read_text())["metadata"]["training"]
    assert meta["learn_delays"] is True
    dep = deploy(network, profile)
    assert dep.report["delays"]["rms_error_s"] <= 1e-6
    # same seed → the same bytes
    train(task, tmp_path / "m2.json", _cfg(), profile, report=False)
    assert (tmp_path / "m.json").read_bytes() == (tmp_path / "m2.json").read_bytes()


def test_cli_learn_delays_option(run_cli, tmp_path):
    code, out, err = run_cli("train", "coincidence", "--learn-delays", "--max-delay", "-1", "-o", tmp_path / "m.json")
    assert code == 2 and "max-delay" in err and "Traceback" not in err
    code, out, err = run_cli("train", "--help")
    assert "--learn-delays" in out and "coincidence" in out
    pytest.importorskip("jax")
