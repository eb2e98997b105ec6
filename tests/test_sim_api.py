"""Simulator API: builders, shapes, state continuation, determinism, and the `simulate` command."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.device.profile import NEURON_QUANTITIES
from neurodeploy.sim import (RECORDED, SimError, build_from_arrays, build_from_network, default_params, initial_state,
                             sample_mismatch, simulate)
from neurodeploy.network import network_from_dict

NETWORK = {
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


def test_build_from_network_maps_weights_dendrites_and_flags(profile):
    network = network_from_dict(NETWORK)
    net, index = build_from_network(network, profile)
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
    net2, index2 = build_from_network(network, profile, sign_pairs=True)
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
    net, _ = build_from_network(network_from_dict(NETWORK), profile)
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
    model.write_text(json.dumps(NETWORK))
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


def test_event_charge_function_equals_the_gather(profile):
    """The batch-1 event-driven charge (only the synapses of sources that fired) equals the dense gather's,
    and so do its gradients (custom VJP) — in each branch and beyond the largest, in chunks of it. (Whole runs of
    every path against the reference simulator: tests/test_sim_reference.py.)"""
    from neurodeploy.sim.charge import CHUNKED_MIN, dense_charge, event_capacities, event_charge_fn, stack4
    from neurodeploy.sim.engine import derive

    rng = np.random.default_rng(4)
    n, n_in, k = 230, 40, 16          # 270 sources: branches of 16, 32 and 64, chunks of 64 beyond
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst = np.repeat(np.arange(n), k)
    dend = rng.choice([0, 1, 2, 3], n * k, p=[0.6, 0.1, 0.25, 0.05])
    w = rng.uniform(0.5, 1.5, n * k) * np.where(dend == 3, 3e-10, np.where(src < n_in, 2e-7, 8e-8))
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, w, profile)
    assert event_capacities(net) == (16, 32, 64) and CHUNKED_MIN <= 64
    d = derive(net, None, net.dt).weights
    charge = event_charge_fn(net)

    @jax.jit
    def both(ev, ct):
        out = []
        for f in (lambda e, w: charge(e, w, d.w_nk, d.w_fan, net.slot_src, net.fan_target),
                  lambda e, w: stack4(net, dense_charge(net, w, net.slot_src, e), 1)):
            q, vjp = jax.vjp(f, ev, d.w_slot)
            out.append((q, vjp(ct)))
        return out

    for p_fire, fired in ((0.02, (1, 16)), (0.15, (33, 64)), (0.6, (129, 270))):   # capacity 16, 64; 3+ chunks
        ev = jnp.asarray((rng.random((1, n_in + n)) < p_fire) * rng.integers(1, 3, (1, n_in + n)), jnp.float32)
        assert fired[0] <= int((ev > 0).sum()) <= fired[1]
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

    net, _ = build_from_network(network_from_dict(NETWORK), profile)
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
    net, _ = build_from_network(network_from_dict(NETWORK), profile)
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


def test_the_path_of_a_run(profile):
    """Which charge path a run takes (every path's numbers: tests/test_sim_reference.py)."""
    from neurodeploy.sim.charge import REC_MATRIX_MAX, precompute_fits, use_matrix
    from neurodeploy.sim.engine import choose_path

    rng = np.random.default_rng(11)
    n, n_in, k = 6, 10, 5
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst, dend = np.repeat(np.arange(n), k), rng.choice([0, 2], n * k, p=[0.75, 0.25])
    w = rng.uniform(0.5, 1.5, n * k) * 1e-7
    net = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, w, profile)
    assert precompute_fits(net, 200, 3) and not precompute_fits(net, 200, 200)
    assert [choose_path(net, 1, 200, None), choose_path(net, 3, 200, None), choose_path(net, 200, 200, None)] == \
        ["rec-matrix", "matrix-pre", "matrix"]
    wide = build_from_arrays(200, default_params(profile, n), {}, src, dst, dend, w, profile)   # sparse: 200 inputs
    assert [choose_path(wide, 1, 200, None), choose_path(wide, 3, 200, None)] == ["event-pre", "gather"]
    m = 600                         # dense enough for the matrix, but W_rec [m, m] beyond REC_MATRIX_MAX at batch 1
    src_m = np.concatenate([rng.choice(n_in + m, 40, replace=False) for _ in range(m)])
    big = build_from_arrays(n_in, default_params(profile, m), {}, src_m, np.repeat(np.arange(m), 40),
                            np.zeros(40 * m, int), np.full(40 * m, 1e-8), profile)
    assert m * m > REC_MATRIX_MAX and use_matrix(big)
    assert [choose_path(big, 1, 200, None), choose_path(big, 3, 200, None)] == ["event-pre", "matrix-pre"]
    assert [choose_path(net, 1, 200, True), choose_path(net, 3, 200, False)] == ["event", "gather"]
    delayed = build_from_arrays(n_in, default_params(profile, n), {}, src, dst, dend, w, profile, delay=1e-3)
    assert [choose_path(delayed, 1, 200, None), choose_path(delayed, 3, 200, None)] == ["event", "gather"]
    with pytest.raises(SimError, match="batch 1"):
        choose_path(net, 2, 200, True)
