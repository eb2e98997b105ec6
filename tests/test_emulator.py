"""The emulator: decode/encode identity, hand-built configs with known behaviour, CLI."""

import numpy as np
import pytest

from neurodeploy.backends.emulator import Emulator
from neurodeploy.config.config_json import config_from_dict
from neurodeploy.config.state import board_state, encode_state
from neurodeploy.deployment import deploy
from networks import random_network

W_STRONG = {"SYAM_W0_P": {"coarse": 5, "fine": 40}, "SYAM_W1_P": {"coarse": 3, "fine": 72},
            "SYAM_W2_P": {"coarse": 3, "fine": 150}, "SYAM_W3_P": {"coarse": 4, "fine": 36}}


@pytest.mark.parametrize("n, fan, chips", [(100, 30, 1), (1200, 32, 2), pytest.param(4096, 64, 4, marks=pytest.mark.slow)])
def test_decode_encode_identity(profile, n, fan, chips):
    d = deploy(random_network(n, fan, seed=n, block=512 if n < 4096 else 1024), profile)
    assert d.report["placement"]["chips"] == chips
    text = d.config.dumps()
    assert encode_state(board_state(d.config)).dumps() == text


def _cfg(neurons_by_core, inputs, outputs=(), params=None):
    cores = [{"core": k, "parameters": dict(W_STRONG, **(params or {})), "neurons": nl} for k, nl in neurons_by_core.items()]
    return config_from_dict({"format": "neurodeploy.config/1", "profile": {"name": "dynapse2", "sha256": "x"},
                             "neurodeploy_version": "0", "chips": [{"chip": 0, "cores": cores}],
                             "inputs": inputs, "outputs": list(outputs)})


def _input(ch, tag, cores=(True, False, False, False)):
    return {"channel": ch, "destinations": [{"chip": 0, "tag": tag, "core": list(cores)}]}


def _drive(T=200, n_in=1, rate_every=5, channels=(0,)):
    x = np.zeros((1, T, n_in), np.float32)
    for c in channels:
        x[0, 10::rate_every, c] = 1.0
    return x


def test_chain_of_neurons(profile):
    """input → n0 → n1 → n2 (strong AMPA): each fires, and later than its predecessor; killing n1 silences n1 and n2."""
    def neurons(kill=False):
        return [{"neuron": 0, "synapses": [[1, "ampa", "1000"]] * 4, "destinations": [{"tag": 10, "core": [True, False, False, False]}]},
                {"neuron": 1, "synapses": [[10, "ampa", "1111"]] * 12, "latch_soif_kill": kill,
                 "destinations": [{"tag": 11, "core": [True, False, False, False]}]},
                {"neuron": 2, "synapses": [[11, "ampa", "1111"]] * 12}]
    x = _drive()
    res = Emulator(_cfg({0: neurons()}, [_input(0, 1)]), profile).run(x, 1e-3)
    s = res.spikes[0]
    counts = s.sum(0)
    assert np.all(counts > 0), counts
    first = [int(np.argmax(s[:, i] > 0)) for i in range(3)]
    assert first[0] < first[1] < first[2]
    res_k = Emulator(_cfg({0: neurons(kill=True)}, [_input(0, 1)]), profile).run(x, 1e-3)
    ck = res_k.spikes[0].sum(0)
    assert ck[0] == counts[0] and ck[1] == 0 and ck[2] == 0
    # events as the board reports them: (batch, µs, chip, core, neuron), time-ordered
    ev = res.events()
    assert ev.shape[1] == 5 and np.all(np.diff(ev[:, 1]) >= 0)
    assert set(ev[:, 4].tolist()) == {0, 1, 2}


def test_tag_collision_crosstalk(profile):
    """Input 1 is meant for neuron 1, but shares tag 3 with input 0 on core 0: neuron 0 hears it too."""
    neurons = [{"neuron": 0, "synapses": [[3, "ampa", "1000"]] * 4}, {"neuron": 1, "synapses": [[3, "ampa", "1000"]] * 4}]
    x = _drive(n_in=2, channels=(1,))
    collide = Emulator(_cfg({0: neurons}, [_input(0, 3), _input(1, 3)]), profile).run(x, 1e-3).spikes[0].sum(0)
    assert collide[0] > 0 and collide[1] > 0
    # with distinct tags (input 1 → tag 4, which neither neuron listens to) nobody fires
    clean = Emulator(_cfg({0: neurons}, [_input(0, 3), _input(1, 4)]), profile).run(x, 1e-3).spikes[0].sum(0)
    assert clean.tolist() == [0, 0]


def test_repeated_tag_doubles_weight(profile):
    """Two CAM entries with one tag act as one synapse of twice the weight (the emulator runs the ONE simulator)."""
    from neurodeploy.sim import build_from_arrays, simulate

    cfg = _cfg({0: [{"neuron": 0, "synapses": [[1, "ampa", "1000"], [1, "ampa", "1000"]]}]}, [_input(0, 1)])
    emu = Emulator(cfg, profile)
    x = _drive(T=300, rate_every=3)
    s_emu = emu.run(x, 1e-3).spikes[0]
    d = emu.decoded
    assert d.src.tolist() == [0, 0] and d.weight[0] == d.weight[1]
    single = build_from_arrays(1, d.params, d.flags, [0], [0], [0], [2 * d.weight[0]], profile)
    s_one = np.asarray(simulate(single, x)[0])[0]
    assert s_emu.sum() > 0
    np.testing.assert_array_equal(s_emu, s_one)
    # and one entry alone fires less
    cfg1 = _cfg({0: [{"neuron": 0, "synapses": [[1, "ampa", "1000"]]}]}, [_input(0, 1)])
    assert Emulator(cfg1, profile).run(x, 1e-3).spikes.sum() < s_emu.sum()


def test_mismatch_is_frozen_per_location(profile):
    neurons = [{"neuron": 5, "synapses": [[1, "ampa", "1000"]] * 3}]
    emu = Emulator(_cfg({0: neurons}, [_input(0, 1)]), profile)
    a = emu.mismatch(seed=3, sigma=0.1)
    b = emu.mismatch(seed=3, sigma=0.1)
    np.testing.assert_array_equal(np.asarray(a["weight"]), np.asarray(b["weight"]))
    # adding another neuron elsewhere does not change neuron 5's factors
    emu2 = Emulator(_cfg({0: neurons + [{"neuron": 9, "synapses": [[1, "gaba", "1000"]]}]}, [_input(0, 1)]), profile)
    c = emu2.mismatch(seed=3, sigma=0.1)
    m5 = emu2.decoded.index_of(0, 0, 5)
    assert float(c["currents"]["Itau_mem"][m5]) == float(a["currents"]["Itau_mem"][0])
    np.testing.assert_array_equal(np.asarray(c["weight"])[emu2.decoded.dst == m5], np.asarray(a["weight"]))
    # trials: stacked independent boards, one vmapped run
    res = emu.run(_drive(), 1e-3, mismatch=0.1, seed=1, trials=3)
    assert res.spikes.shape[:2] == (3, 1)


def test_emulate_cli_raster_and_events(run_cli, tmp_path, profile):
    host = {"tag": 0, "core": [True] * 4, "x_hop": -7}
    cfg = _cfg({0: [{"neuron": 0, "synapses": [[1, "ampa", "1000"]] * 4, "destinations": [host]}]}, [_input(0, 1)],
               outputs=[{"name": "out[0]", "chip": 0, "core": 0, "neuron": 0}])
    cpath = tmp_path / "c.json"
    cfg.save(cpath)
    x = _drive()
    np.savez(tmp_path / "in.npz", spikes=x[0], dt=1e-3)
    code, out, err = run_cli("emulate", cpath, "--input", tmp_path / "in.npz", "-o", tmp_path / "o.npz")
    assert code == 0, err
    z = np.load(tmp_path / "o.npz")
    assert z["outputs"].shape == (1, 200, 1) and z["outputs"].sum() > 0
    assert z["events"].shape[1] == 5
    # the same input as FPGA events (timestamp µs, tag, chip, core mask) gives the same spikes
    t = np.nonzero(x[0, :, 0])[0]
    ev = np.stack([t * 1000, np.full(t.size, 1), np.zeros(t.size, int), np.full(t.size, 1)], 1).astype(np.int64)
    np.savez(tmp_path / "ev.npz", events=ev, dt=1e-3, duration=0.2)
    code, out, err = run_cli("emulate", cpath, "--input", tmp_path / "ev.npz", "-o", tmp_path / "o2.npz")
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "o2.npz")["spikes"], z["spikes"])
    # wrong channel count: one line, exit 2
    np.savez(tmp_path / "bad.npz", spikes=np.zeros((10, 3)), dt=1e-3)
    code, out, err = run_cli("emulate", cpath, "--input", tmp_path / "bad.npz", "-o", tmp_path / "o3.npz")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "3 input channels" in err
    assert not (tmp_path / "o3.npz").exists()


def test_dc_latch(profile):
    """I_dc reaches only neurons whose latch_so_dc is set."""
    params = {"SOIF_DC_P": {"coarse": 4, "fine": 127}}     # ≈ 50 nA
    cfg = _cfg({0: [{"neuron": 0, "latch_so_dc": True}, {"neuron": 1}]}, [_input(0, 1)], params=params)
    counts = Emulator(cfg, profile).run(np.zeros((1, 300, 1), np.float32), 1e-3).spikes[0].sum(0)
    assert counts[0] > 0 and counts[1] == 0


@pytest.mark.parametrize("sigma", [0.1, 0.3])
def test_emulate_cli_applies_the_requested_sigma(run_cli, tmp_path, monkeypatch, sigma):
    """`emulate --mismatch σ` draws factors with standard deviation σ (a fraction), as simulate and verify do."""
    import neurodeploy.sim.mismatch as mm

    drawn = []
    real = mm.sample_located_mismatch

    def spy(*a, **kw):
        out = real(*a, **kw)
        drawn.append(out)
        return out

    monkeypatch.setattr(mm, "sample_located_mismatch", spy)
    neurons = [{"neuron": n, "synapses": [[1, "ampa", "1000"]]} for n in range(256)]
    cfg = _cfg({0: neurons}, [_input(0, 1)], outputs=[{"name": "out[0]", "chip": 0, "core": 0, "neuron": 0}])
    cfg.save(tmp_path / "c.json")
    np.savez(tmp_path / "in.npz", spikes=_drive()[0][:20], dt=1e-3)
    code, out, err = run_cli("emulate", tmp_path / "c.json", "--input", tmp_path / "in.npz", "-o", tmp_path / "o.npz",
                             "--mismatch", sigma, "--seed", 4)
    assert code == 0, err
    (m,) = drawn
    f = np.concatenate([np.asarray(v) for g in ("currents", "capacitances") for v in m[g].values()])
    assert f.size > 5000
    # (the clip at MIN_FACTOR = 0.05 lies beyond 3σ for σ ≤ 0.3): the std is σ within sampling error
    assert abs(float(np.std(f)) / sigma - 1) < 0.03, np.std(f)
    assert abs(float(np.mean(f)) - 1) < 0.01
