"""The emulator with precise timing (``emulate --precise-timing``): input events act at their µs timestamps."""

import json

import numpy as np

from neurodeploy.backends.events import raster_from_events
from test_emulator import _cfg, _drive, _input


def _events(steps, offset_us, tag=1):
    return np.stack([steps * 1000 + offset_us, np.full(steps.size, tag), np.zeros(steps.size, int),
                     np.full(steps.size, 1)], 1).astype(np.int64)


def test_timed_raster_bins_by_the_next_boundary():
    """Untimed: bin ⌊t/dt⌋. Timed: step ⌈t/dt⌉ with lateness ⌈t/dt⌉·dt − t (s); on a boundary both agree, a = 0."""
    ev = np.concatenate([_events(np.array([0, 3]), 0), _events(np.array([1]), 250, tag=2)])
    raster, routes = raster_from_events(ev, 1e-3, 0.006)
    timed, routes_t, late = raster_from_events(ev, 1e-3, 0.006, timed=True)
    assert routes_t == routes and timed.shape == late.shape == raster.shape == (1, 6, 2)
    assert raster[0, 1, 1] == 1 and timed[0, 2, 1] == 1 and timed[0, 1, 1] == 0      # 1.25 ms: bin 1, step 2
    np.testing.assert_allclose(late[0, 2, 1], 0.75e-3, rtol=1e-6)
    np.testing.assert_array_equal(timed[..., 0], raster[..., 0])
    assert late[..., 0].sum() == 0


def test_emulate_precise_timing_acts_at_the_event_times(run_cli, tmp_path):
    """Events 1 µs before a step boundary: with --precise-timing they act at their time, as the same events on the
    boundary one step later do (a 1 µs difference); without it they act at their bin's start, a step earlier."""
    host = {"tag": 0, "core": [True] * 4, "x_hop": -7}
    cfg = _cfg({0: [{"neuron": 0, "synapses": [[1, "ampa", "1000"]] * 4, "destinations": [host]}]}, [_input(0, 1)],
               outputs=[{"name": "out[0]", "chip": 0, "core": 0, "neuron": 0}])
    cfg.save(tmp_path / "c.json")
    steps = np.nonzero(_drive()[0, :, 0])[0]

    def spikes(name, events, *flags):
        np.savez(tmp_path / f"{name}.npz", events=events, dt=1e-3, duration=0.2)
        code, _, err = run_cli("emulate", tmp_path / "c.json", "--input", tmp_path / f"{name}.npz", "-o",
                               tmp_path / f"{name}-out.npz", "--json", tmp_path / f"{name}.json", *flags)
        assert code == 0, err
        assert json.loads((tmp_path / f"{name}.json").read_text()).get("precise_timing", False) == bool(flags)
        return np.load(tmp_path / f"{name}-out.npz")["spikes"][0, :, 0]

    before = spikes("before", _events(steps, 999), "--precise-timing")
    on_next = spikes("next", _events(steps + 1, 0), "--precise-timing")
    plain = spikes("plain", _events(steps, 999))
    assert before.sum() >= 5
    np.testing.assert_array_equal(before, on_next)
    np.testing.assert_array_equal(plain[:-1], on_next[1:])          # untimed: the same spikes, one step earlier
