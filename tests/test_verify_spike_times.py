"""verify on input spikes given by their times: with --precise-timing the float network and every emulated board run
each spike at its own time (the simulator's and the emulator's runs with the inputs' lateness), without it at its
step's start (the same report as on the counts); the report says which; the lateness reaches the units of either
engine; the CLI prints it and repeats its bytes."""

import json

import numpy as np
import pytest

from networks import EX, two_layer

DT = 1e-3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The two-layer network and its config; 4 of the example's samples (300 steps) as counts and as spike times
    (each count at a random time inside its bin), in files too."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.inputs import load_input

    d = tmp_path_factory.mktemp("verify_st")
    prof, network = load_profile(), two_layer()
    network.save(d / "model.json")
    cfg = deploy(network, prof).config
    cfg.save(d / "config.json")
    x = np.asarray(np.load(EX / "inputs.npz")["spikes"][:4, :300], np.float32)
    b, t, i = np.nonzero(x)
    n = x[b, t, i].astype(int)
    b, t, i = np.repeat(b, n), np.repeat(t, n), np.repeat(i, n)
    times = (t + np.random.default_rng(0).uniform(0.05, 0.95, t.size)) * DT
    np.savez(d / "times.npz", times=times, channels=i, samples=b, duration=0.3, dt=DT)
    np.savez(d / "counts.npz", spikes=x, dt=DT)
    st = load_input(d / "times.npz", 60, dt=DT, events=False)["spike_times"]
    np.testing.assert_array_equal(st.counts, x)
    return d, network, cfg, prof, x, st


def test_precise_timing_runs_both_sides_on_the_spikes_own_times(setup):
    import jax

    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.sim import build_from_network, no_mismatch, simulate
    from neurodeploy.verification import verify

    _, network, cfg, prof, x, st = setup
    got, on_counts = {}, {}
    report = verify(network, cfg, prof, st, DT, trials=0, precise_timing=True, pictures=got)
    verify(network, cfg, prof, x, DT, trials=0, precise_timing=True, pictures=on_counts)
    xc, late = st.timed()
    net, _ = build_from_network(network, prof, precise_timing=True)
    draw = jax.tree_util.tree_map(lambda a: a[None], no_mismatch(net))
    spikes = jax.vmap(lambda m: simulate(net, xc, m, dt=DT, input_lateness=late)[0])(draw)[0]
    np.testing.assert_array_equal(got["reference_counts"], np.asarray(spikes)[..., network.output_indices()].sum(axis=1))
    want = Emulator(cfg, prof, dt=DT, precise_timing=True).run(xc, DT, lateness=late).outputs.sum(axis=1)
    np.testing.assert_array_equal(got["deployed_counts"], want)
    # the spikes' times matter here: on the counts (each at its step's start) both sides count otherwise
    assert not (np.array_equal(got["reference_counts"], on_counts["reference_counts"])
                and np.array_equal(got["deployed_counts"], on_counts["deployed_counts"]))
    assert report["input"] == {"form": "spike times", "spikes": int(st.times.size),
                               "timing": "each spike at its own time (precise timing)",
                               "spikes_after_end": int((st.times >= 0.299).sum())}


def test_without_precise_timing_spike_times_are_their_counts(setup):
    from neurodeploy.verification import verify

    _, network, cfg, prof, x, st = setup
    a = verify(network, cfg, prof, st, DT, trials=2)
    b = verify(network, cfg, prof, x, DT, trials=2)
    assert a.pop("input")["form"] == "spike times" and b.pop("input") == {"form": "counts per step"}
    assert a == b


def test_each_board_runs_the_spikes_at_their_times(setup):
    """A board of a verification (board_counts, as verify's units compute it) is `emulate --precise-timing --seed S`
    on the spike times."""
    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.study.engines import LocalEngine, board_counts

    _, network, cfg, prof, x, st = setup
    xc, late = st.timed()
    got = board_counts(LocalEngine(), cfg, prof, xc, DT, (0, xc.shape[1]), 0.1, [4, 5], progress=lambda u: None,
                       precise_timing=True, lateness=late)
    emu = Emulator(cfg, prof, dt=DT, precise_timing=True)
    for k, seed in enumerate((4, 5)):
        np.testing.assert_array_equal(got[k], emu.run(xc, DT, mismatch=0.1, seed=seed, lateness=late).outputs.sum(axis=1))
    assert not np.array_equal(got[0], emu.run(xc, DT, mismatch=0.1, seed=4).outputs.sum(axis=1))


def test_verify_passes_the_lateness_to_every_board(setup, monkeypatch):
    import neurodeploy.study.engines as engines
    import neurodeploy.verification.stages as stages
    from neurodeploy.verification import verify

    _, network, cfg, prof, x, st = setup
    calls = []
    for mod, name in ((engines, "run_unit"), (stages, "boards_nominal_delays")):
        real = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda *a, _real=real, **kw: calls.append(kw.get("lateness")) or _real(*a, **kw))
    verify(network, cfg, prof, st, DT, trials=2, precise_timing=True)
    assert len(calls) >= 1 and all(c is not None and c.shape == x.shape for c in calls)


def test_the_lateness_travels_into_the_units_of_either_engine(setup, monkeypatch):
    import neurodeploy.study.engines as engines
    import neurodeploy.verification.float_draws as float_draws
    from test_verify_precise_timing import _FakeRay

    _, network, cfg, prof, x, st = setup
    xc, late = st.timed()
    seen, seen_float = [], []
    monkeypatch.setattr(engines, "run_unit", lambda *a, **kw: seen.append(kw) or np.zeros((len(a[6]), 4, 2)))
    monkeypatch.setattr(float_draws, "run_float_unit", lambda *a, **kw: seen_float.append(kw) or a[5])
    monkeypatch.setattr(engines, "require_ray", lambda: _FakeRay())
    for engine in (engines.LocalEngine(), engines.RayEngine()):
        engines.board_counts(engine, cfg, prof, xc, DT, (0, 300), 0.1, [0, 1, 2], unit_size=2, progress=lambda u: None,
                             precise_timing=True, lateness=late)
        dict(engine.map_float_units(network, prof, xc, DT, (0, 300), {0: "u"}, precise_timing=True, lateness=late))
    assert len(seen) == 4 and all(kw["lateness"] is late for kw in seen)
    assert len(seen_float) == 2 and all(kw["lateness"] is late for kw in seen_float)


def test_verify_cli_on_spike_times_says_how_they_ran_and_repeats_its_bytes(run_cli, setup, tmp_path):
    d = setup[0]
    args = ["verify", d / "model.json", d / "config.json", "--input", d / "times.npz", "--trials", "2"]
    code, out, err = run_cli(*args, "--precise-timing", "--json", tmp_path / "a.json")
    assert code in (0, 1), err
    assert f"input: {setup[5].times.size} spike times, each spike at its own time (precise timing)" in out
    assert run_cli(*args, "--precise-timing", "--json", tmp_path / "b.json")[1] == out
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    code, out, err = run_cli(*args, "--json", tmp_path / "c.json")
    assert code in (0, 1), err
    assert "each spike at the start of its step" in out
    on_counts = run_cli("verify", d / "model.json", d / "config.json", "--input", d / "counts.npz", "--trials", "2",
                        "--json", tmp_path / "d.json")
    c, e = json.loads((tmp_path / "c.json").read_text()), json.loads((tmp_path / "d.json").read_text())
    assert c.pop("input")["form"] == "spike times" and e.pop("input")["form"] == "counts per step"
    assert c == e and on_counts[0] == code
