"""Input spikes by their times (an input npz with 'times' and 'channels'): read and checked with errors that name the
array and the spike, binned at ⌊t/dt⌋ as counts and at ⌈t/dt⌉ with their lateness for precise timing, run at their
times by the emulator with precise timing, and sent at their own µs by a board (the virtual board's answer is the
emulator's)."""

import numpy as np
import pytest

from neurodeploy.inputs import InputError, load_input

DT = 1e-3


def _write(path, **arrays):
    np.savez(path, dt=DT, **arrays)
    return path


def test_counts_floor_and_precise_bins_ceil_with_the_lateness(tmp_path):
    from neurodeploy.sim.timed_inputs import bin_events

    times = np.array([0.0, 0.0004, 0.001, 0.0025, 0.0025, 0.0031, 0.0019])
    channels = np.array([0, 1, 1, 2, 2, 0, 1])
    samples = np.array([0, 0, 0, 0, 0, 0, 1])
    data = load_input(_write(tmp_path / "st.npz", times=times, channels=channels, samples=samples, duration=0.005), 3,
                      dt=DT, events=False)
    st = data["spike_times"]
    assert (st.batch, st.steps, st.n_inputs) == (2, 5, 3) and data["batched"]
    want = np.zeros((2, 5, 3), np.float32)
    for t, c, b in zip(times, channels, samples):
        want[b, int(np.floor(t / DT + 1e-9)), c] += 1
    np.testing.assert_array_equal(data["spikes"], want)          # on a boundary (0, 1 ms) a spike counts in that bin
    counts, late = st.timed()
    assert counts.sum() == len(times) and st.late_spikes == 0
    for b in range(2):
        c, a = bin_events(times[samples == b], channels[samples == b], 3, DT, 5)
        np.testing.assert_array_equal(counts[b], c)
        np.testing.assert_array_equal(late[b], a)
    assert counts[0, 1, 1] == 2 and late[0, 1, 1] == pytest.approx(0.0006)     # 0.4 ms → step 1, 0.6 ms late; 1 ms on time
    assert counts[0, 3, 2] == 2 and late[0, 3, 2] == pytest.approx(0.001)      # two at 2.5 ms, each 0.5 ms late


def test_without_samples_or_duration_one_sample_up_to_the_last_spike(tmp_path):
    data = load_input(_write(tmp_path / "st.npz", times=np.array([0.0021, 0.0093]), channels=np.array([1, 0])), 2,
                      dt=DT, events=False)
    st = data["spike_times"]
    assert (st.batch, st.steps) == (1, 10) and not data["batched"]
    assert st.late_spikes == 1                   # 9.3 ms is in the last step: precise timing delivers it after the end
    assert st.timed()[0].sum() == 1 and data["spikes"].sum() == 2


@pytest.mark.parametrize("arrays, fragment", [
    (dict(times=np.array([0.001, -0.002]), channels=np.array([0, 1])), "$.times[1]: spike times must be finite and >= 0"),
    (dict(times=np.array([0.001, np.nan]), channels=np.array([0, 1])), "$.times[1]"),
    (dict(times=np.array([0.001, 0.002]), channels=np.array([0, 3])), "$.channels[1]: input channel 3 out of range; "
                                                                      "expected 0..2 (n_inputs = 3)"),
    (dict(times=np.array([0.001, 0.002]), channels=np.array([0])), "$.channels: expected 2 integers"),
    (dict(times=np.array([0.001, 0.002]), channels=np.array([0.0, 1.0])), "$.channels: expected 2 integers"),
    (dict(times=np.array([0.001])), "has 'times' but no 'channels'"),
    (dict(times=np.array([[0.001]]), channels=np.array([0])), "$.times: expected a 1-D array"),
    (dict(times=np.array([0.001]), channels=np.array([0]), samples=np.array([-1])), "$.samples[0]: sample index -1"),
    (dict(times=np.array([0.001]), channels=np.array([0]), samples=np.array([2]), batch=2), "$.batch: expected one integer >= 3"),
    (dict(times=np.array([0.001, 0.0123]), channels=np.array([0, 1]), duration=0.01),
     "$.times[1]: spike at 0.0123 s is after the end of the run ($.duration = 0.01 s"),
    (dict(times=np.array([0.001]), channels=np.array([0]), duration=0.0001), "$.duration: must be at least one step"),
    (dict(times=np.array([1e9]), channels=np.array([0])), "exceed the limit"),
    (dict(times=np.array([0.001]), channels=np.array([0]), spikes=np.zeros((3, 3))), "has both 'spikes'"),
])
def test_bad_spike_times_name_the_file_the_array_and_the_spike(tmp_path, arrays, fragment):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError) as e:
        load_input(path, 3, dt=DT, events=False)
    assert str(e.value).startswith(f"{path}: ") and fragment in str(e.value)


def test_the_emulator_runs_spike_times_at_their_times_only_with_precise_timing(tmp_path):
    from neurodeploy.backends.emulator import Emulator, EmulatorBackend
    from samna_helpers import example_config

    from neurodeploy.device.profile import load_profile

    prof, cfg = load_profile(), example_config()
    st = _spike_times(len(cfg.inputs), 300, seed=1)
    data = {"spikes": st.counts, "dt": DT, "spike_times": st}
    runs = {}
    for timed in (False, True):
        b = EmulatorBackend(prof, precise_timing=timed)
        b.load(cfg)
        runs[timed] = np.asarray(b.run(data).outputs)
    np.testing.assert_array_equal(runs[False], Emulator(cfg, prof, dt=DT).run(st.counts, DT).outputs)
    x, late = st.timed()
    np.testing.assert_array_equal(runs[True], Emulator(cfg, prof, dt=DT, precise_timing=True).run(x, DT, lateness=late).outputs)
    assert runs[True].sum() >= 5 and not np.array_equal(runs[True], runs[False])


def _spike_times(n_inputs: int, steps: int, seed: int):
    """The frozen-noise example's first sample (its first ``n_inputs`` channels) with each count at a random time
    inside its bin, on whole µs."""
    from networks import EX

    from neurodeploy.input_times import SpikeTimes

    x = np.load(EX / "inputs.npz")["spikes"][0, :steps, :n_inputs].astype(int)
    t, c = np.nonzero(x)
    t, c = np.repeat(t, x[t, c]), np.repeat(c, x[t, c])
    us = t * 1000 + np.random.default_rng(seed).integers(1, 1000, t.size)
    return SpikeTimes(us * 1e-6, c, np.zeros(t.size, np.int64), 1, steps, n_inputs, DT)


def test_a_board_sends_each_spike_at_its_own_microsecond(tmp_path, monkeypatch):
    import fake_samna
    from fake_samna.virtual import VirtualBoard, VirtualClock
    from samna_helpers import example_config

    from neurodeploy.backends.emulator import EmulatorBackend
    from neurodeploy.backends.fpga import raster_events, time_events
    from neurodeploy.backends.samna_board import SamnaBackend
    from neurodeploy.device.profile import load_profile

    cfg = example_config()
    st = _spike_times(len(cfg.inputs), 300, seed=2)
    ev = time_events(st.times, st.channels, cfg)
    per_channel = np.array([len(ch.destinations) for ch in cfg.inputs])
    assert len(ev) == per_channel[st.channels].sum()
    routed = per_channel[st.channels] > 0
    assert set(ev[:, 0].tolist()) == set(np.rint(st.times[routed] * 1e6).astype(int).tolist())
    binned = raster_events(st.counts[0], DT, cfg)                  # the same rows, each at its bin's start
    np.testing.assert_array_equal(np.sort(ev[:, 0] // 1000 * 1000), np.sort(binned[:, 0]))
    np.testing.assert_array_equal(np.unique(ev[:, 1:], axis=0), np.unique(binned[:, 1:], axis=0))

    bit = tmp_path / "Dynapse2Stack.bit"
    bit.write_bytes(b"bitstream")
    monkeypatch.setenv("NEURODEPLOY_BITFILE", str(bit))
    clock = VirtualClock()
    board = VirtualBoard("VB-1", n_chips=1, clock=clock, read_cost=1e-4)
    fake_samna.install(monkeypatch, [board], n_chips=1)
    backend = SamnaBackend(clock=clock, sleep=clock.sleep)
    backend.load(cfg)
    res = backend.run({"spikes": st.counts, "dt": DT, "spike_times": st})
    backend.close()
    ref = EmulatorBackend(load_profile())          # the virtual board runs in steps of dt: a spike counts in its bin
    ref.load(cfg)
    np.testing.assert_array_equal(res.outputs, np.asarray(ref.run({"spikes": st.counts, "dt": DT}).outputs))
    assert board.runs[-1]["input_events"] == len(ev) and res.outputs.sum() >= 5


def test_simulate_with_precise_timing_runs_spike_times_at_their_times_and_writes_the_lateness(run_cli, tmp_path):
    import jax.numpy as jnp

    from networks import EX

    from neurodeploy.api import simulate
    from neurodeploy.importers import load_network
    from neurodeploy.device.profile import load_profile
    from neurodeploy.sim import build_from_network
    from neurodeploy.sim import simulate as sim

    st = _spike_times(60, 200, seed=3)
    np.savez(tmp_path / "t.npz", dt=DT, times=st.times, channels=st.channels, duration=0.2)
    code, out, err = run_cli("simulate", EX / "model.json", "--input", tmp_path / "t.npz", "-o", tmp_path / "pt.npz",
                             "--precise-timing")
    assert code == 0, err
    assert out.splitlines()[0].endswith("precise spike timing")
    got = np.load(tmp_path / "pt.npz")
    assert got["spikes"].shape == got["lateness"].shape == (200, 2)          # one sample: [T, N] as the input
    network = load_network(EX / "model.json", profile=load_profile())
    net, _ = build_from_network(network, load_profile(), precise_timing=True)
    x, late = st.timed()
    spikes, _, rec = sim(net, jnp.asarray(x), dt=DT, input_lateness=jnp.asarray(late), record="lateness")
    np.testing.assert_array_equal(got["spikes"], np.asarray(spikes)[0].round().astype(np.uint8))
    np.testing.assert_array_equal(got["lateness"], np.asarray(rec["lateness"])[0])
    fired = got["spikes"] > 0
    assert fired.sum() >= 5 and (got["lateness"][fired] > 0).all() and (got["lateness"][~fired] == 0).all()
    plain = simulate(EX / "model.json", tmp_path / "t.npz")                 # without it: counted in their steps
    assert "lateness" not in plain
    np.testing.assert_array_equal(plain["spikes"], simulate(EX / "model.json", st.counts, DT)["spikes"])
    assert not np.array_equal(plain["spikes"][0], got["spikes"])


def test_a_sample_without_spikes_keeps_its_place(tmp_path):
    data = load_input(_write(tmp_path / "st.npz", times=np.array([0.0031, 0.0012, 0.0005]), channels=np.array([1, 0, 2]),
                             samples=np.array([2, 0, 2]), batch=4), 3, dt=DT, events=False)
    st = data["spike_times"]
    assert [t.tolist() for t, _ in st.per_sample()] == [[0.0012], [], [0.0031, 0.0005], []]
    counts, late = st.timed()
    assert counts.shape == (4, 4, 3) and counts[[1, 3]].sum() == 0
    assert counts[2, 1, 2] == 1 and late[2, 1, 2] == pytest.approx(0.0005) and counts[0, 2, 0] == 1
    assert counts.sum() == 2 and st.late_spikes == 1           # 3.1 ms, in the last of 4 steps, arrives after the end
