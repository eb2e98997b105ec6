"""Simulator API: builders, shapes, state continuation, determinism, and the `simulate` command."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.device.profile import NEURON_QUANTITIES
from neurodeploy.sim import (RECORDED, SimError, build_from_arrays, build_from_spec, default_params, initial_state,
                             sample_mismatch, simulate)
from neurodeploy.spec import spec_from_dict

SPEC = {
    "name": "tiny", "n_inputs": 3, "dt": 0.001,
    "populations": [
        {"name": "hid", "size": 2, "Idc": 2e-8, "adaptation": True},
        {"name": "out", "size": 2, "If_nmda": 1e-9, "Ispkthr": [1e-7, 1.2e-7]},
    ],
    "projections": [
        {"source": "input", "target": "hid", "weight_scale": 1e-7, "weight": [[1.0, 0.0], [0.0, -2.0], [0.5, 0.5]]},
        {"source": "hid", "target": "out", "synapse": "nmda", "weight_scale": 2e-7, "pre": [0, 1], "post": [1, 0], "w": [1.5, 0.5]},
        {"source": "out", "target": "hid", "synapse": "shunt", "weight_scale": 1e-10, "pre": [1], "post": [0], "w": [2.0]},
    ],
    "outputs": [{"population": "out", "indices": [1]}],
}


def test_build_from_spec_maps_weights_dendrites_and_flags(profile):
    spec = spec_from_dict(SPEC)
    net, index = build_from_spec(spec, profile)
    assert (net.n_inputs, net.n_neurons, net.dt) == (3, 4, 0.001)
    entries = sorted(zip(np.asarray(net.src).tolist(), np.asarray(net.dst).tolist(), np.asarray(net.dendrite).tolist(),
                         np.asarray(net.weight).round(20).tolist()))
    expected = sorted([
        (0, 0, 0, 1e-7), (1, 1, 2, 2e-7), (2, 0, 0, 5e-8), (2, 1, 0, 5e-8),           # auto: sign → AMPA / GABA
        (3, 3, 1, 3e-7), (4, 2, 1, 1e-7),                                             # hid → out (NMDA)
        (6, 0, 3, 2e-10),                                                             # out[1] → hid[0] (SHUNT)
    ])
    assert [e[:3] for e in entries] == [e[:3] for e in expected]
    np.testing.assert_allclose([e[3] for e in entries], [e[3] for e in expected], rtol=1e-6)
    assert np.asarray(net.adaptation).tolist() == [True, True, False, False]
    assert np.asarray(net.dc).tolist() == [True, True, False, False]
    assert np.asarray(net.nmda_gate).tolist() == [False, False, True, True]
    assert not np.asarray(net.kill).any()
    assert np.asarray(net.currents["Ispkthr"])[2:].tolist() == pytest.approx([1e-7, 1.2e-7])
    assert index.output_indices.tolist() == [3]
    # sign pairs: each auto synapse gets an AMPA and a GABA entry carrying its positive / negative part
    net2, index2 = build_from_spec(spec, profile, sign_pairs=True)
    assert net2.n_synapses == net.n_synapses + 4
    w = index2.synapse_w[index2.entry_synapse]
    np.testing.assert_allclose(np.asarray(net2.weight),
                               np.maximum(index2.entry_sign * w, 0) * index2.synapse_scale[index2.entry_synapse], rtol=1e-6)


def test_build_from_arrays_rejects_bad_arrays(profile):
    p = default_params(profile, 2)
    ok = dict(n_inputs=1, params=p, flags={}, src=[0], dst=[1], dendrite=[0], weight=[1e-8], profile=profile)
    build_from_arrays(**ok)
    bad = [
        (dict(params={k: v for k, v in p.items() if k != "Iref"}), "missing Iref"),
        (dict(params={**p, "Itau_mem": np.array([1e-12, -1e-12])}), "'Itau_mem'[1]"),
        (dict(src=[3]), "src[0]: 3 out of range 0..2"),
        (dict(dendrite=[4]), "dendrite[0]"),
        (dict(weight=[-1e-9]), "weight[0]"),
        (dict(flags={"latch": np.ones(2, bool)}), "unknown latch"),
        (dict(dst=[0, 1]), "equal lengths"),
    ]
    for change, needle in bad:
        with pytest.raises(SimError) as e:
            build_from_arrays(**{**ok, **change})
        assert needle in str(e.value) and "\n" not in str(e.value)


def test_shapes_state_continuation_and_determinism(profile):
    net, _ = build_from_spec(spec_from_dict(SPEC), profile)
    rng = np.random.default_rng(0)
    x = (rng.random((2, 60, 3)) < 0.2).astype(np.float32) * 2
    s, st, rec = simulate(net, x, record=True)
    assert s.shape == (2, 60, 4) and st.I_mem.shape == (2, 4) and st.I_gaba.shape == (2, 4)
    assert set(rec) == set(RECORDED) and all(v.shape == (2, 60, 4) for v in rec.values())
    assert float(s.sum()) > 0
    # same input → identical output; splitting the run and passing the state back gives the same spikes
    s2, _, _ = simulate(net, x, record=True)
    assert np.array_equal(np.asarray(s), np.asarray(s2))
    a, sa, _ = simulate(net, x[:, :30], record=True)
    b, sb, _ = simulate(net, x[:, 30:], state=sa, record=True)
    np.testing.assert_array_equal(np.concatenate([a, b], 1), np.asarray(s))
    np.testing.assert_allclose(np.asarray(sb.I_mem), np.asarray(st.I_mem), rtol=1e-5)
    # unbatched in → unbatched out; same numbers as batch row 0
    su, stu, _ = simulate(net, x[0])
    assert su.shape == (60, 4) and stu.I_mem.shape == (4,)
    np.testing.assert_array_equal(np.asarray(su), np.asarray(s[0]))
    # explicit dt overrides the network's (slower synapse decay per bin → different spikes)
    s3, _, _ = simulate(net, x[:, :30], dt=2e-3, record=True)
    assert s3.shape == (2, 30, 4) and not np.array_equal(np.asarray(s3), np.asarray(a))
    with pytest.raises(SimError, match=r"expected shape \[T, 3\]"):
        simulate(net, np.zeros((10, 4)))
    st0 = initial_state(net, None)
    assert float(st0.I_mem[0]) == pytest.approx(profile.analog.I_0)
    # a mismatch draw is an input like any other: same seed → same spikes
    m = sample_mismatch(net, jax.random.PRNGKey(5))
    x30 = x[:, :30]
    assert np.array_equal(np.asarray(simulate(net, x30, m, record=True)[0]),
                          np.asarray(simulate(net, x30, sample_mismatch(net, 5), record=True)[0]))


def _write_model(tmp_path):
    model = tmp_path / "model.json"
    model.write_text(json.dumps(SPEC))
    return model


def test_cli_simulate_round_trip(tmp_path, run_cli):
    model = _write_model(tmp_path)
    rng = np.random.default_rng(1)
    x = (rng.random((2, 80, 3)) < 0.2).astype(np.uint8)
    np.savez(tmp_path / "in.npz", spikes=x, dt=0.001)
    code, out, err = run_cli("simulate", model, "--input", tmp_path / "in.npz", "-o", tmp_path / "out.npz",
                             "--mismatch", "0.1", "--seed", "3", "--record")
    assert code == 0, err
    assert "wrote" in out and "mismatch σ = 0.1" in out
    z = np.load(tmp_path / "out.npz")
    assert z["spikes"].shape == (2, 80, 4) and z["spikes"].dtype == np.uint8
    assert z["output_indices"].tolist() == [3] and float(z["dt"]) == 0.001
    assert all(z[k].shape == (2, 80, 4) for k in RECORDED)
    # same seed → byte-identical output; unbatched input → unbatched output
    code, _, _ = run_cli("simulate", model, "--input", tmp_path / "in.npz", "-o", tmp_path / "again.npz",
                         "--mismatch", "0.1", "--seed", "3", "--record")
    assert code == 0
    assert (tmp_path / "out.npz").read_bytes() == (tmp_path / "again.npz").read_bytes()
    np.savez(tmp_path / "one.npz", spikes=x[0], dt=0.001)
    code, _, err = run_cli("simulate", model, "--input", tmp_path / "one.npz", "-o", tmp_path / "one_out.npz")
    assert code == 0, err
    assert np.load(tmp_path / "one_out.npz")["spikes"].shape == (80, 4)


@pytest.mark.parametrize("arrays, needle", [
    (dict(spikes=np.zeros((50, 4)), dt=0.001), "$.spikes: expected shape [T, 3] or [batch, T, 3]"),
    (dict(spikes=np.zeros((50, 3))), "no array 'dt'"),
    (dict(spikes=np.zeros((50, 3)), dt=0.0005), "$.dt: input dt = 0.0005 s differs from the network's dt = 0.001 s"),
    (dict(spikes=-np.ones((50, 3)), dt=0.001), "event counts must be finite non-negative integers"),
])
def test_cli_simulate_bad_input(tmp_path, run_cli, arrays, needle):
    model = _write_model(tmp_path)
    np.savez(tmp_path / "bad.npz", **arrays)
    code, out, err = run_cli("simulate", model, "--input", tmp_path / "bad.npz", "-o", tmp_path / "o.npz")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert str(tmp_path / "bad.npz") in lines[0] and needle in lines[0], lines[0]
    assert not (tmp_path / "o.npz").exists()


def test_cli_does_not_import_jax_until_simulate():
    code = "import sys, neurodeploy.cli; assert 'jax' not in sys.modules, 'jax imported by the CLI module'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_quantity_reaches_the_network(profile):
    p = {q: np.full(3, 1e-9 * (i + 1)) for i, q in enumerate(NEURON_QUANTITIES)}
    net = build_from_arrays(0, p, {}, [], [], [], [], profile)
    for i, q in enumerate(NEURON_QUANTITIES):
        assert float(net.currents[q][0]) == pytest.approx(1e-9 * (i + 1))
    assert net.n_synapses == 0
    s, _, _ = simulate(net, np.zeros((5, 0), np.float32))
    assert s.shape == (5, 3)


def test_event_driven_path_equals_dense(profile):
    """Batch 1 runs event-driven (only the synapses of sources that fired); it must give the dense
    gather's spikes, and the same gradients — also in steps where more sources fire than its
    smallest capacity (here: input volleys) and through recurrent spikes."""
    from neurodeploy.sim.simulate import event_capacities

    rng = np.random.default_rng(4)
    n, n_in, k = 130, 40, 16          # >= 128 neurons: the spikes alone get an event-driven branch too
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst = np.repeat(np.arange(n), k)
    dend = rng.choice([0, 1, 2, 3], n * k, p=[0.6, 0.1, 0.25, 0.05])
    w = rng.uniform(0.5, 1.5, n * k) * np.where(dend == 3, 3e-10, np.where(src < n_in, 2e-7, 8e-8))
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, w, profile)
    assert event_capacities(net) == (32,)
    x = (rng.random((1, 120, n_in)) < 0.1).astype(np.float32)
    x[0, 30] = 1.0                                  # all 40 inputs at once: more than the capacity
    se, _, re = simulate(net, x, record=True, event_driven=True)
    sd, _, rd = simulate(net, x, record=True, event_driven=False)
    assert float(se.sum()) > 20
    np.testing.assert_array_equal(np.asarray(se), np.asarray(sd))
    np.testing.assert_allclose(np.asarray(re["I_ampa"]), np.asarray(rd["I_ampa"]), rtol=1e-5)
    # the default at batch 1: the inputs' charge before the loop, the spikes' event-driven ("event-pre")
    assert 0 < net.fan_rec <= net.fan_target.shape[1]
    sa, _, ra = simulate(net, x, record=True)
    np.testing.assert_array_equal(np.asarray(sa), np.asarray(sd))
    np.testing.assert_allclose(np.asarray(ra["I_ampa"]), np.asarray(rd["I_ampa"]), rtol=1e-5)
    S = sys.modules["neurodeploy.sim.simulate"]
    st = S.initial_state(net, 1)
    loss = lambda p: lambda wt: jnp.sum(S._run(net.replace(weight=wt), jnp.asarray(x), None, st, record=(), dt=1e-3,  # noqa: E731
                                               path=p)[0] * jnp.linspace(0.0, 1.0, 120)[:, None])
    g_pre, g_ref = jax.grad(loss("event-pre"))(net.weight), jax.grad(loss("gather"))(net.weight)
    assert float(jnp.abs(g_ref).sum()) > 0
    np.testing.assert_allclose(np.asarray(g_pre), np.asarray(g_ref), rtol=1e-4, atol=1e-5 * float(jnp.abs(g_ref).max()))
    # the charge function itself: equal to the dense one, and so are its gradients (custom VJP)
    S = sys.modules["neurodeploy.sim.simulate"]
    d = S.derive(net, None, net.dt)
    charge = S._event_charge_fn(net)

    @jax.jit
    def both(ev, ct):
        out = []
        for f in (lambda e, w: charge(e, w, d.w_nk, d.w_fan, net.slot_src, net.fan_target),
                  lambda e, w: S._stack4(net, S._dense_charge(net, w, net.slot_src, e), 1)):
            q, vjp = jax.vjp(f, ev, d.w_slot)
            out.append((q, vjp(ct)))
        return out

    for p_fire in (0.02, 0.5):                      # below and above the capacity
        ev = jnp.asarray((rng.random((1, n_in + n)) < p_fire) * rng.integers(1, 3, (1, n_in + n)), jnp.float32)
        ct = jnp.asarray(rng.standard_normal((1, 4, n)), jnp.float32)
        (qe, ge), (qd, gd) = both(ev, ct)
        np.testing.assert_allclose(np.asarray(qe), np.asarray(qd), rtol=1e-5, atol=1e-20)
        for a, b in zip(jax.tree_util.tree_leaves(ge), jax.tree_util.tree_leaves(gd)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-20)
    with pytest.raises(SimError, match="batch 1"):
        simulate(net, np.zeros((2, 5, n_in)), event_driven=True)


def test_feedback_constants_come_from_the_profile(profile):
    from neurodeploy.sim import build_from_arrays, default_params

    net = build_from_arrays(0, default_params(profile, 1), {}, [], [], [], [], profile)
    a = profile.analog
    assert net.feedback == (a.feedback_gain, a.feedback_threshold, a.feedback_norm)
    other = profile.model_copy(update={"analog": a.model_copy(update={"feedback_threshold": 0.5})})
    assert build_from_arrays(0, default_params(profile, 1), {}, [], [], [], [], other).feedback[1] == 0.5


def test_nominal_chip_shares_the_compilation_of_a_draw(profile):
    """mismatch=None runs as the identity draw: nominal and mismatched calls compile once together
    (counted from jax's compile log, not timed)."""
    import logging

    class Count(logging.Handler):
        def __init__(self):
            super().__init__()
            self.n = 0

        def emit(self, record):
            self.n += "Finished XLA compilation of jit(_run)" in record.getMessage()

    net, _ = build_from_spec(spec_from_dict(SPEC), profile)
    x = np.zeros((1, 37, 3), np.float32)          # a shape no other test uses
    m = sample_mismatch(net, 1)
    h = Count()
    logging.getLogger("jax").addHandler(h)
    try:
        with jax.log_compiles(True):
            s0 = simulate(net, x)[0]
            s1 = simulate(net, x, m)[0]
            s2 = simulate(net, x)[0]
    finally:
        logging.getLogger("jax").removeHandler(h)
    assert h.n == 1
    assert s0.shape == s1.shape and np.array_equal(np.asarray(s0), np.asarray(s2))


def test_record_selected_variables(profile):
    net, _ = build_from_spec(spec_from_dict(SPEC), profile)
    x = (np.random.default_rng(2).random((2, 40, 3)) < 0.2).astype(np.float32)
    s_all, _, rec_all = simulate(net, x, record=True)
    s_one, _, rec = simulate(net, x, record=("I_ampa",))
    assert set(rec) == {"I_ampa"}
    np.testing.assert_array_equal(np.asarray(rec["I_ampa"]), np.asarray(rec_all["I_ampa"]))
    np.testing.assert_array_equal(np.asarray(s_one), np.asarray(s_all))
    assert set(simulate(net, x[0], record="I_mem")[2]) == {"I_mem"}
    assert simulate(net, x, record=False)[2] is None
    with pytest.raises(SimError, match="record: unknown state variable.*'V_mem'"):
        simulate(net, x, record=("V_mem",))


def test_batched_matrix_paths_equal_the_gather(profile):
    """Batches run the synaptic charge as matrix products ("matrix", or "matrix-pre" with the inputs'
    part computed before the time loop); both must give the ELL gather's spikes, final state and gradients.
    Their forward pass carries the charge (computed at the end of the step before, from the next bin's
    inputs); their gradient recomputes it per step."""
    S = sys.modules["neurodeploy.sim.simulate"]
    rng = np.random.default_rng(11)
    n, n_in, k = 6, 10, 5
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst, dend = np.repeat(np.arange(n), k), rng.choice([0, 2], n * k, p=[0.75, 0.25])
    w = rng.uniform(0.5, 1.5, n * k) * np.where(src < n_in, 3e-7, 1.5e-7)
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, w, profile)
    x = jnp.asarray((rng.random((3, 200, n_in)) < 0.1).astype(np.float32))
    state = S.initial_state(net, 3)
    from neurodeploy.sim.charge import precompute_fits
    assert precompute_fits(net, 200, 3)

    def run(path, weight):
        return S._run(net.replace(weight=weight), x, None, state, record=(), dt=1e-3, path=path)[0]

    ref = run("gather", net.weight)
    assert float(ref.sum()) > 20 and float(ref[:, :, 1:].sum()) > 0
    loss = lambda p: lambda wt: jnp.sum(run(p, wt) * jnp.linspace(0.0, 1.0, 200)[:, None])  # noqa: E731
    g_ref = jax.grad(loss("gather"))(net.weight)
    assert float(jnp.abs(g_ref).sum()) > 0
    final_ref = S._run(net, x, None, state, record=(), dt=1e-3, path="gather")[1]
    for path in ("matrix", "matrix-pre"):
        np.testing.assert_array_equal(np.asarray(run(path, net.weight)), np.asarray(ref))
        final = S._run(net, x, None, state, record=(), dt=1e-3, path=path)[1]
        for name in ("I_mem", "I_ampa", "I_gaba", "t_refr", "spikes"):
            np.testing.assert_allclose(np.asarray(getattr(final, name)), np.asarray(getattr(final_ref, name)),
                                       rtol=1e-5, atol=1e-15, err_msg=f"{path}: final {name}")
        np.testing.assert_allclose(np.asarray(jax.grad(loss(path))(net.weight)), np.asarray(g_ref), rtol=1e-4,
                                   atol=1e-5 * float(jnp.abs(g_ref).max()))
