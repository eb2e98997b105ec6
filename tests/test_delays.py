"""Synaptic delays: the simulator's per-entry delays, the model format's ``delay``,
the delay circuit model and the config's delay bits decoded by the emulator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.backends.emulator import Emulator
from neurodeploy.config.decode import decode
from neurodeploy.config.state import board_state, encode_state
from neurodeploy.errors import NetworkError
from neurodeploy.sim import build_from_arrays, build_from_network, default_params, sample_mismatch, simulate
from neurodeploy.device import physics
from neurodeploy.sim.errors import SimError
from neurodeploy.network import MAX_DELAY, network_from_dict

from test_emulator import _cfg, _input

DT = 1e-3


def _one(profile, delay, weight=1e-7, T=30):
    """input 0 → neuron 0 (AMPA), one event at step 5: (spikes [T], I_ampa [T])."""
    more = {} if delay is None else {"max_delay": 10 * DT}       # one history depth: one compilation for all delays
    net = build_from_arrays(1, default_params(profile, 1), {}, [0], [0], [0], [weight], profile, dt=DT, delay=delay, **more)
    x = np.zeros((T, 1), np.float32)
    x[5, 0] = 1
    s, _, rec = simulate(net, x, record=("I_ampa",))
    return np.asarray(s[:, 0]), np.asarray(rec["I_ampa"][:, 0])


def test_whole_step_delays_shift_the_arrival_exactly(profile):
    _, ref = _one(profile, None)
    assert np.argmax(ref > 2 * profile.analog.I_0) == 5
    for k in (0, 1, 3, 7):
        _, a = _one(profile, k * DT)
        np.testing.assert_array_equal(a[5 + k:], ref[5:ref.size - k])      # the same trace, k steps later
        assert np.all(a[:5 + k] == ref[0])                                 # nothing before it


def test_fractional_delays_interpolate_between_neighbouring_steps(profile):
    _, a3 = _one(profile, 3 * DT)
    _, a4 = _one(profile, 4 * DT)
    _, a = _one(profile, 3.25 * DT)
    I0 = profile.analog.I_0
    # the synapse is linear in its charge above I_0: 3/4 of the event arrives after 3 steps, 1/4 after 4
    np.testing.assert_allclose(a - I0, 0.75 * (a3 - I0) + 0.25 * (a4 - I0), rtol=1e-5, atol=1e-18)


def test_delay_free_networks_are_unchanged(profile):
    """A network without delays runs the delay-free step; with all delays 0 the delayed step gives the same spikes."""
    rng = np.random.default_rng(0)
    n, n_in, S = 12, 5, 60
    src, dst = rng.integers(0, n_in + n, S), rng.integers(0, n, S)
    dend, w = rng.integers(0, 4, S), rng.uniform(0, 4e-8, S)
    args = (n_in, default_params(profile, n), {}, src, dst, dend, w, profile)
    plain, zero = build_from_arrays(*args, dt=DT), build_from_arrays(*args, dt=DT, delay=0.0)
    assert plain.delay is None and plain.delay_slots == 0 and zero.delay_slots == 2
    x = (rng.random((2, 80, n_in)) < 0.3).astype(np.float32)
    s0, st0, r0 = simulate(plain, x, record=True)
    s1, st1, r1 = simulate(zero, x, record=True)
    np.testing.assert_array_equal(s0, s1)
    np.testing.assert_allclose(r0["I_mem"], r1["I_mem"], rtol=1e-5)
    assert st0.delayed is None and st1.delayed.shape == (2, 2, n_in + n)
    # mismatch: a delay-free network's draws are those of before; delays get a stream of their own
    m0, m1 = sample_mismatch(plain, 3, sigma=0.1), sample_mismatch(zero, 3, sigma=0.1)
    assert "delay" not in m0 and m1["delay"].shape == (S,)
    for a, b in zip(jax.tree_util.tree_leaves(m0), jax.tree_util.tree_leaves({k: m1[k] for k in m0})):
        np.testing.assert_array_equal(a, b)


def test_mismatch_moves_delays(profile):
    net = build_from_arrays(1, default_params(profile, 4), {}, [0] * 4, [0, 1, 2, 3], [0] * 4, [1e-7] * 4, profile,
                            dt=DT, delay=5 * DT, delay_spread=[0, 1, 1, 3])
    x = np.zeros((40, 1), np.float32)
    x[2, 0] = 1
    _, _, rec = simulate(net, x, sample_mismatch(net, 1, sigma=0.2), record=("I_ampa",))
    arrival = np.argmax(np.asarray(rec["I_ampa"]) > 2 * profile.analog.I_0, axis=0)
    assert arrival[0] == 7                                    # spread 0: the nominal delay
    assert len(set(arrival.tolist())) > 1                     # the others moved


def test_gradient_with_respect_to_a_delay_is_finite_and_moves_the_spike(profile):
    params = default_params(profile, 1)
    x = np.zeros((1, 40, 1), np.float32)
    x[0, 5, 0] = 1
    base = build_from_arrays(1, params, {}, [0], [0], [0], [1e-6], profile, dt=DT, delay=4.5 * DT, max_delay=20 * DT)
    t = jnp.arange(40, dtype=jnp.float32)

    def spike_time(d):
        s, _, _ = simulate(base.replace(delay=d), x)
        return jnp.sum(s[0, :, 0] * t)

    d0 = base.delay
    s, _, _ = simulate(base, x)
    t0 = int(np.argmax(np.asarray(s[0, :, 0])))
    assert np.asarray(s).sum() == 1 and t0 >= 10
    g = jax.grad(spike_time)(d0)
    assert np.all(np.isfinite(g)) and float(g[0]) > 0          # a later delivery → a later spike
    later, _, _ = simulate(base.replace(delay=d0 + 2 * DT), x)
    earlier, _, _ = simulate(base.replace(delay=d0 - 2 * DT), x)
    assert int(np.argmax(np.asarray(later[0, :, 0]))) > t0 > int(np.argmax(np.asarray(earlier[0, :, 0])))


def test_bad_delays_are_named(profile):
    args = (1, default_params(profile, 1), {}, [0], [0], [0], [1e-7], profile)
    with pytest.raises(SimError, match=r"delay\[0\]: delays must be finite and >= 0 s"):
        build_from_arrays(*args, delay=-1e-3)
    with pytest.raises(SimError, match="max_delay"):
        build_from_arrays(*args, delay=5e-3, max_delay=1e-3)


# ---- model format ---------------------------------------------------------------------------------------
def _make_network(delay, **proj):
    proj = proj or {"pre": [0, 1], "post": [0, 1], "w": [3.0, 3.0]}
    return network_from_dict({"n_inputs": 2, "populations": [{"name": "p", "size": 2}], "outputs": [{"population": "p"}],
                           "projections": [{"source": "input", "target": "p", "weight_scale": 1e-7, **proj, "delay": delay}]})


def test_network_delays_are_simulated(profile):
    net, index = build_from_network(_make_network([0.002, 0.006]), profile)
    np.testing.assert_allclose(np.asarray(net.delay), [0.002, 0.006])
    np.testing.assert_allclose(index.synapse_delay, [0.002, 0.006])
    dense, _ = build_from_network(_make_network([[0.0, 0.001], [0.003, 0.0]], weight=[[0.0, 3.0], [3.0, 0.0]]), profile)
    np.testing.assert_allclose(np.asarray(dense.delay), [0.001, 0.003])      # COO order: (0,1), (1,0)
    x = np.zeros((1, 30, 2), np.float32)
    x[0, 5] = 1
    _, _, rec = simulate(net, x, record=("I_ampa",))
    arrival = np.argmax(np.asarray(rec["I_ampa"][0]) > 2 * profile.analog.I_0, axis=0)
    assert arrival.tolist() == [7, 11]
    plain = network_from_dict({"n_inputs": 2, "populations": [{"name": "p", "size": 2}],
                            "projections": [{"source": "input", "target": "p", "pre": [0], "post": [0], "w": [1.0]}]})
    assert build_from_network(plain, profile)[0].delay is None and "delay" not in plain.dumps()


@pytest.mark.parametrize("delay, proj, message", [
    (-0.001, {}, r"\$\.projections\[0\]\.delay: delays must be finite, in seconds, 0\.\.0\.1, got -0\.001"),
    ([0.0, 0.2], {}, r"\$\.projections\[0\]\.delay\[1\]: delays must be finite"),
    ([0.001], {}, r"\$\.projections\[0\]\.delay: expected one number or shape \[2\]"),
    ([[0.0, 0.001]], {"weight": [[1.0, 0.0], [0.0, 1.0]]}, r"expected one number or shape \[2, 2\]"),
])
def test_bad_network_delays_are_named(delay, proj, message):
    with pytest.raises(NetworkError, match=message):
        _make_network(delay, **proj)
    assert MAX_DELAY == 0.1


# ---- the delay circuit model, the config's bits and the emulator --------------------------------------
BITS = {(): 0, ("precise_delay",): 1, ("mismatched_delay",): 2, ("precise_delay", "mismatched_delay"): 3}
DLY = {"SYPD_DLY0_P": {"coarse": 2, "fine": 100}, "SYPD_DLY1_P": {"coarse": 2, "fine": 200},
       "SYPD_DLY2_P": {"coarse": 1, "fine": 150}}


def _delay_config(params=DLY):
    """input 0 → neurons 0..3 on one tag, neuron i's entry with bit combination i (neuron 4: stp only)."""
    neurons = [{"neuron": i, "synapses": [[1, "ampa", "1111"]],
                "synapse_flags": {0: list(flags)} if flags else {}} for flags, i in BITS.items()]
    return _cfg({0: neurons}, [_input(0, 1)], params=params)


def test_delay_model_in_the_profile(profile):
    assert profile.models_delays and profile.analog.delay_calibrated is False
    assert profile.analog.dly_mismatch[2] > profile.analog.dly_mismatch[0]        # DLY2: minimum-size transistor
    cur = [float(profile.bias.to_current(profile.quantity_to_parameter[q], c, f))
           for q, (c, f) in zip(("Idly_0", "Idly_1", "Idly_2"), ((2, 100), (2, 200), (1, 150)))]
    t = profile.delay_times(cur)
    a = profile.analog
    assert t[0] == pytest.approx(a.V_th * a.C_dly0 / cur[0]) and t[2] == pytest.approx(a.V_th * a.C_dly2 / cur[2])
    assert physics.delay_current(t[1], a.C_dly1, a.V_th) == pytest.approx(cur[1])
    np.testing.assert_allclose(physics.entry_delay(*t, [0, 1, 0, 1], [0, 0, 1, 1]),
                               [0, t[0] + t[1], t[0] + t[2], sum(t)])


def test_each_bit_combination_arrives_after_the_decoded_delay(profile):
    cfg = _delay_config()
    assert encode_state(board_state(cfg)).dumps() == cfg.dumps()               # decode(encode) identical with delays
    d = decode(cfg, profile)
    cur = [float(profile.bias.to_current(p, c["coarse"], c["fine"])) for p, c in DLY.items()]
    t = profile.delay_times(cur)
    expect = physics.entry_delay(*t, [0, 1, 0, 1], [0, 0, 1, 1])
    np.testing.assert_allclose(d.delay[np.argsort(d.dst)], expect, rtol=1e-12)
    assert d.delay_spread[d.dst == 2][0] > d.delay_spread[d.dst == 1][0]      # the DLY2 path is the less precise
    x = np.zeros((1, 60, 1), np.float32)
    x[0, 5, 0] = 1
    emu = Emulator(cfg, profile, dt=DT)
    I = np.asarray(simulate(emu.net, x, record=("I_ampa",))[2]["I_ampa"][0], np.float64) - profile.analog.I_0
    ref = I[:, 0]                             # neither bit: no delay, the event's charge lands at step 5
    assert np.argmax(ref > 0) == 5
    for i in (1, 2, 3):                       # d = (k + f)·dt: (1 − f) of the charge k steps later, f at k + 1
        k, f = int(expect[i] // DT), expect[i] / DT - expect[i] // DT
        assert np.argmax(I[:, i] > 0) == 5 + k
        want = (1 - f) * np.r_[np.zeros(k), ref[:60 - k]] + f * np.r_[np.zeros(k + 1), ref[:60 - k - 1]]
        np.testing.assert_allclose(I[:, i], want, rtol=2e-4, atol=1e-15)
    # the emulator's mismatch includes per-entry delay factors, from the entries' locations
    assert emu.mismatch(0, 0.1)["delay"].shape == (4,)


def test_configs_without_delay_bits_decode_without_delays(profile):
    cfg = _delay_config(params={})
    plain = _cfg({0: [{"neuron": 0, "synapses": [[1, "ampa", "1111"]], "synapse_flags": {0: ["stp"]}}]}, [_input(0, 1)])
    assert decode(plain, profile).delay is None and Emulator(plain, profile).net.delay is None
    d = decode(cfg, profile)                               # cores without DLY codes: the profile's defaults
    t = profile.delay_times([profile.default_currents()[q] for q in ("Idly_0", "Idly_1", "Idly_2")])
    assert d.delay[d.dst == 3][0] == pytest.approx(sum(t))


def test_cli_simulate_runs_delays(tmp_path, run_cli, profile):
    (tmp_path / "m.json").write_text(_make_network([0.002, 0.006]).dumps())
    x = np.zeros((30, 2), np.uint8)
    x[5] = 1
    np.savez(tmp_path / "in.npz", spikes=x, dt=DT)
    for mm in ("0", "0.1"):
        code, out, err = run_cli("simulate", tmp_path / "m.json", "--input", tmp_path / "in.npz", "-o",
                                 tmp_path / f"out{mm}.npz", "--record", "--mismatch", mm)
        assert code == 0, err
    I = np.load(tmp_path / "out0.npz")["I_ampa"]                     # unbatched input → [T, N]
    assert np.argmax(I > 2 * profile.analog.I_0, axis=0).tolist() == [7, 11]
    assert not np.array_equal(np.load(tmp_path / "out0.1.npz")["I_ampa"], I)


def test_stages_keep_delays_or_refuse_them_instead_of_dropping_them(profile, tmp_path):
    from neurodeploy.train.task import TrainError
    from neurodeploy.importers.nir.export import network_to_nir
    from neurodeploy.train.run import build_network

    network = _make_network([0.002, 0.006])
    assert "Delay" in {type(n).__name__ for n in network_to_nir(network, profile).nodes.values()}   # one per source channel
    crossed = _make_network([0.002, 0.006, 0.001], pre=[0, 1, 0], post=[0, 1, 1], w=[3.0, 3.0, 1.0])
    with pytest.raises(NetworkError, match="delays differ per synapse, but NIR's Delay node delays whole channels"):
        network_to_nir(crossed, profile)                               # neither per source nor per target: refused
    (tmp_path / "m.json").write_text(network.dumps())

    class Task:
        name, n_inputs, n_classes = "t", 2, 2
    # training continues a delayed network with its delays (fixed, or learned with --learn-delays)
    assert build_network(Task(), {}, profile, 0, init=tmp_path / "m.json").has_delays
    assert TrainError
