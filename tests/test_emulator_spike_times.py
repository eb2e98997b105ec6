"""Output spikes at their own times with precise timing: the simulator records each spike's lateness
(``record="lateness"``) and the emulator's events report a spike of bin t at (t + 1)·dt − a (µs), eq. (O1) of
:mod:`neurodeploy.backends.events`; without precise timing every event stays at its bin's start."""

import numpy as np
import pytest

from neurodeploy.backends.emulator import Emulator
from neurodeploy.backends.events import spike_events
from neurodeploy.sim import RECORDED, SimError, simulate
from neurodeploy.sim import reference
from test_emulator import _cfg, _input
from test_sim_precise_timing import _pairs, _volley

HOST = {"tag": 0, "core": [True] * 4, "x_hop": -7}
ENTRIES = (16, 20, 32, 48)              # AMPA CAM entries of each neuron: from a late first spike to an early one
VOLLEYS = (5, 30)                       # ms: one input event each, the neurons back near rest in between
FINE = 5e-5                             # s


def _config():
    neurons = [{"neuron": i, "synapses": [[1, "ampa", "1111"]] * k, "destinations": [HOST]} for i, k in enumerate(ENTRIES)]
    return _cfg({0: neurons}, [_input(0, 1)],
                outputs=[{"name": f"out[{i}]", "chip": 0, "core": 0, "neuron": i} for i in range(len(ENTRIES))])


def _raster(dt, duration=0.055):
    x = np.zeros((1, int(round(duration / dt)), 1), np.float32)
    x[0, [int(round(v * 1e-3 / dt)) for v in VOLLEYS], 0] = 1.0
    return x


def _bin_starts(spikes, sites, dt):
    """The events as reported without precise timing, computed here: a spike of bin t at t·dt (µs)."""
    b, t, m = np.nonzero(spikes)
    order = np.lexsort((m, t, b))
    b, t, m = b[order], t[order], m[order]
    return np.stack([b, np.rint(t * dt * 1e6), *sites[m].T], 1).astype(np.int64)


def _first_after_volleys(events, neuron):
    """The neuron's first spike time (µs) after each volley."""
    ts = events[events[:, 4] == neuron, 1]
    return [int(ts[ts >= v * 1000][0]) for v in VOLLEYS]


def test_sim_records_the_spikes_lateness(profile):
    """``record="lateness"``: each step's a = dt − t_s (s) where a neuron fired, 0 elsewhere, the values the state
    carries (the reference loop's too); recording it leaves the spikes as they are, and ``record=True`` stays the
    currents of RECORDED."""
    net, x = _pairs(profile, 1e-3, True), _volley(1e-3, 0.02)
    plain, final, _ = simulate(net, x)
    spikes, final_rec, rec = simulate(net, x, record=("I_ampa", "lateness"))
    np.testing.assert_array_equal(np.asarray(spikes), np.asarray(plain))
    late, s = np.asarray(rec["lateness"]), np.asarray(spikes)
    assert late.shape == s.shape and s.sum() >= 10
    assert np.all(late[s == 0] == 0) and np.all(late[s > 0] > 0) and np.all(late <= 2e-3)
    np.testing.assert_array_equal(late[-1], np.asarray(final.lateness))
    _, _, ref = reference.simulate(net, x, record="lateness")
    np.testing.assert_allclose(late, np.asarray(ref["lateness"]), atol=1e-7)
    assert set(simulate(net, x, record=True)[2]) == set(RECORDED)


def test_lateness_needs_precise_timing(profile):
    with pytest.raises(SimError, match=r"'lateness'.*precise_timing=True.*drop 'lateness' from record"):
        simulate(_pairs(profile, 1e-3, False), _volley(1e-3), record="lateness")


def test_events_carry_the_spike_times(profile):
    """At dt = 1 ms with precise timing the first spike after each volley is reported within 0.1 ms of where the
    dt = 0.05 ms run has it (that run's spike of fine bin j lies in (j, j + 1]·0.05 ms); at the bins' starts (without
    precise timing) some are 0.3 ms off or more. Every event stays inside its spike's bin."""
    cfg, dt = _config(), 1e-3
    fine = Emulator(cfg, profile, dt=FINE).run(_raster(FINE), FINE)
    coarse = Emulator(cfg, profile, dt=dt, precise_timing=True).run(_raster(dt), dt)
    plain = Emulator(cfg, profile, dt=dt).run(_raster(dt), dt)
    assert fine.lateness is None and plain.lateness is None
    assert coarse.lateness.shape == coarse.spikes.shape and np.all(coarse.lateness[coarse.spikes == 0] == 0)
    ev, ev_fine, ev_plain = coarse.events(), fine.events(), plain.events()
    np.testing.assert_array_equal(ev_plain, _bin_starts(plain.spikes, plain.sites, dt))      # as before
    off = []
    for n in range(len(ENTRIES)):
        for t, t_fine, t_plain in zip(*(_first_after_volleys(e, n) for e in (ev, ev_fine, ev_plain))):
            assert t_fine - 100 <= t <= t_fine + 50 + 100, (n, t, t_fine)
            off.append(min(abs(t_plain - t_fine), abs(t_plain - t_fine - 50)))
    assert max(off) > 300
    assert np.unique(ev[:, 1] % 1000).size >= 4                       # times spread inside the bins
    assert np.all(np.diff(ev[:, 1]) >= 0) and len(ev) == coarse.spikes.sum()
    for n in range(len(ENTRIES)):                                       # the k-th event of a neuron is its k-th spike
        bins = np.nonzero(coarse.spikes[0, :, n])[0]
        ts = ev[ev[:, 4] == n, 1]
        assert np.all((ts >= bins * 1000) & (ts <= (bins + 1) * 1000))


def test_trials_carry_each_boards_spike_times(profile):
    """The vmapped boards (``trials``) keep every board's lateness; ``events()`` is the first board's."""
    dt = 1e-3
    em = Emulator(_config(), profile, dt=dt, precise_timing=True)
    res = em.run(_raster(dt), dt, mismatch=0.1, seed=2, trials=2)
    assert res.lateness.shape == res.spikes.shape == (2, 1, 55, len(ENTRIES))
    np.testing.assert_array_equal(res.events(), spike_events(res.spikes[0], res.sites, dt, res.lateness[0]))
    assert np.any(res.events()[:, 1] % 1000 != 0)


def test_trials_are_each_boards_own_run(profile):
    """The boards of ``trials`` (one compiled program, :func:`neurodeploy.sim.simulate_draws`) are the single-board
    runs of their draws: the nominal board first with ``with_nominal``, then each mismatched board, spikes and
    lateness alike."""
    dt = 1e-3
    em = Emulator(_config(), profile, dt=dt, precise_timing=True)
    x = _raster(dt)
    res = em.run(x, dt, mismatch=0.2, seed=4, trials=2, with_nominal=True)
    nominal = em.run(x, dt)
    draws = em.mismatch(4, 0.2, 2)
    assert res.spikes.shape == (3, 1, 55, len(ENTRIES)) and res.spikes.sum() > 0
    np.testing.assert_array_equal(res.spikes[0], nominal.spikes)
    np.testing.assert_array_equal(res.lateness[0], nominal.lateness)
    for i in range(2):
        s, _, rec = simulate(em.net, x, {k: (v[i] if not isinstance(v, dict) else {q: a[i] for q, a in v.items()})
                                         for k, v in draws.items()}, dt=dt, record="lateness")
        np.testing.assert_array_equal(res.spikes[1 + i], np.asarray(s))
        np.testing.assert_array_equal(res.lateness[1 + i], np.asarray(rec["lateness"]))
    assert not np.array_equal(res.lateness[1], res.lateness[2])          # two boards, two sets of spike times


def test_a_measured_chip_reports_the_spike_times(profile):
    """``EmulatorBackend(chip_profile=...)`` records the lateness too: neurons whose measured factors are 1 report
    the nominal board's times, those with another τ_mem other times."""
    from neurodeploy.backends.emulator import EmulatorBackend
    from neurodeploy.device.chip_profile import (ChipProfile, CoreCalibration, DeviceProfileRef, Estimate, ProbeData,
                                                 Provenance)

    tau = [1.0, 1.1, 0.9, 1.0]
    core = CoreCalibration(chip=0, core=0, neurons=[0, 1, 2, 3], sigma={},
                           constants={k: Estimate(value=getattr(profile.analog, k), sigma=0.01)
                                      for k in ("C_mem", "C_ref", "C_pulse")},
                           factors={"tau_mem": tau, "t_ref": [1.0] * 4, "dc_drive": [1.0] * 4, "ampa_drive": [1.0] * 4})
    cp = ChipProfile(device_profile=DeviceProfileRef(name=profile.name, sha256="0" * 64),
                     provenance=Provenance(backend="emulator", probe_set="test", neurodeploy_version="0", board_time=0.0),
                     probe_data=ProbeData(file="chip.probes.npz", sha256="0" * 64), cores=[core])
    ev = {}
    for name, opts in (("measured", {"chip_profile": cp}), ("nominal", {})):
        b = EmulatorBackend(profile, precise_timing=True, **opts)
        b.load(_config())
        res = b.run({"spikes": _raster(1e-3), "dt": 1e-3})
        assert res.lateness.shape == res.spikes.shape
        ev[name] = res.events()
        assert np.any(ev[name][:, 1] % 1000 != 0)
    for n, f in enumerate(tau):
        same = np.array_equal(*(e[e[:, 4] == n] for e in ev.values()))
        assert same == (f == 1.0), n


def test_cli_writes_the_spike_times(run_cli, tmp_path):
    """``emulate --precise-timing`` (and ``run --backend emulator --precise-timing``, the same file) write events at
    the spikes' times, not at multiples of dt; without the flag every event is at its bin's start."""
    _config().save(tmp_path / "c.json")
    np.savez(tmp_path / "in.npz", spikes=_raster(1e-3)[0], dt=1e-3)

    def out(name, *args):
        code, _, err = run_cli(*args, tmp_path / "c.json", "--input", tmp_path / "in.npz", "-o", tmp_path / name)
        assert code == 0, err
        return np.load(tmp_path / name)

    timed, plain = out("timed.npz", "emulate", "--precise-timing"), out("plain.npz", "emulate")
    assert np.any(timed["events"][:, 1] % 1000 != 0) and len(timed["events"]) == timed["spikes"].sum()
    np.testing.assert_array_equal(plain["events"], _bin_starts(plain["spikes"], plain["sites"], 1e-3))
    again = out("run.npz", "run", "--backend", "emulator", "--precise-timing")
    assert (tmp_path / "run.npz").read_bytes() == (tmp_path / "timed.npz").read_bytes()
    np.testing.assert_array_equal(again["events"], timed["events"])
