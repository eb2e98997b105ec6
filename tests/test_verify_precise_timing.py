"""verify --precise-timing: the float network and every emulated board run with precise spike timing (the counts
verify compares are the simulator's and `emulate --precise-timing`'s), the report says so, and the flag reaches
the units of either engine; `run --backend emulator --precise-timing` is `emulate --precise-timing`."""

import json

import numpy as np
import pytest

from networks import EX, two_layer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A two-layer network (:func:`networks.two_layer`) and its config, and 4 of the example's samples (300 steps), as files
    too."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile

    d = tmp_path_factory.mktemp("verify_pt")
    prof = load_profile()
    network = two_layer()
    network.save(d / "model.json")
    cfg = deploy(network, prof).config
    cfg.save(d / "config.json")
    z = np.load(EX / "inputs.npz")
    x = np.asarray(z["spikes"][:4, :300], np.float32)
    np.savez(d / "in.npz", spikes=x, dt=z["dt"])
    return d, network, cfg, prof, x


def test_the_float_network_and_the_deployed_board_run_with_precise_timing(setup):
    import jax

    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.sim import build_from_network, no_mismatch, simulate
    from neurodeploy.verification import verify

    _, network, cfg, prof, x = setup
    dt = network.dt
    got, before = {}, {}
    report = verify(network, cfg, prof, x, dt, trials=0, precise_timing=True, pictures=got)
    plain = verify(network, cfg, prof, x, dt, trials=0, pictures=before)
    assert report["precise_timing"] is True and "precise_timing" not in plain
    net, _ = build_from_network(network, prof, precise_timing=True)
    draw = jax.tree_util.tree_map(lambda a: a[None], no_mismatch(net))
    spikes = jax.vmap(lambda m: simulate(net, x, m, dt=dt)[0])(draw)[0]
    want_ref = np.asarray(spikes)[..., network.output_indices()].sum(axis=1)
    want_dep = Emulator(cfg, prof, dt=dt, precise_timing=True).run(x, dt).outputs.sum(axis=1)
    np.testing.assert_array_equal(got["reference_counts"], want_ref)
    np.testing.assert_array_equal(got["deployed_counts"], want_dep)
    # the switch matters here: without it both sides count differently
    assert not (np.array_equal(before["reference_counts"], want_ref)
                and np.array_equal(before["deployed_counts"], want_dep))


def test_a_board_with_precise_timing_is_emulate_precise_timing_with_its_seed(setup):
    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.study.units import run_unit

    _, network, cfg, prof, x = setup
    dt = network.dt
    got = run_unit(cfg, prof, x, dt, (0, x.shape[1]), 0.1, [5], precise_timing=True)
    want = Emulator(cfg, prof, dt=dt, precise_timing=True).run(x, dt, mismatch=0.1, seed=5).outputs.sum(axis=1)
    np.testing.assert_array_equal(got[0], want)


class _FakeRay:
    """Just enough of Ray for RayEngine.map_units: a remote call runs the task here and keeps its arguments."""

    def __init__(self):
        self.calls, self.results = [], []

    def is_initialized(self):
        return True

    def remote(self, **_):
        def wrap(fn):
            class Remote:
                def remote(_, *args, **kwargs):
                    self.calls.append(kwargs)
                    self.results.append(fn(*args, **kwargs))
                    return len(self.results) - 1
            return Remote()
        return wrap

    def put(self, x):
        return x

    def wait(self, refs, num_returns=1):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return self.results[ref]


@pytest.mark.parametrize("precise", [False, True])
def test_the_flag_travels_into_the_units_of_either_engine(setup, monkeypatch, precise):
    import neurodeploy.study.engines as engines

    _, network, cfg, prof, x = setup
    seen = []
    monkeypatch.setattr(engines, "run_unit", lambda *a, **kw: seen.append(kw) or np.zeros((len(a[6]), 4, 2)))
    fake = _FakeRay()
    monkeypatch.setattr(engines, "require_ray", lambda: fake)
    args = (cfg, prof, x, network.dt, (0, 300), 0.1, [0, 1, 2])
    for engine in (engines.LocalEngine(), engines.RayEngine()):
        out = engines.board_counts(engine, *args, unit_size=2, progress=lambda u: None, precise_timing=precise)
        assert out.shape == (3, 4, 2)
    # Ray's task gets the flag only when it is set: a task taking positional arguments only still runs without it
    assert fake.calls == ([{"precise_timing": True}] * 2 if precise else [{}, {}])
    assert [kw.get("precise_timing", False) for kw in seen] == [precise] * 4


@pytest.mark.parametrize("precise", [False, True])
def test_the_flag_travels_into_the_float_units_of_either_engine(setup, monkeypatch, precise):
    import neurodeploy.study.engines as engines
    import neurodeploy.verification.float_draws as float_draws

    _, network, cfg, prof, x = setup
    seen = []
    monkeypatch.setattr(float_draws, "run_float_unit", lambda *a, **kw: seen.append(kw) or a[5])
    monkeypatch.setattr(engines, "require_ray", lambda: _FakeRay())
    units = {0: "unit 0", 1: "unit 1"}
    for engine in (engines.LocalEngine(), engines.RayEngine()):
        got = dict(engine.map_float_units(network, prof, x, network.dt, (0, 300), units, precise_timing=precise))
        assert got == units
    assert [kw["precise_timing"] for kw in seen] == [precise] * 4


def test_verify_cli_records_precise_timing_and_repeats_its_bytes(run_cli, setup, tmp_path):
    d = setup[0]
    args = ["verify", d / "model.json", d / "config.json", "--input", d / "in.npz", "--trials", "2",
            "--precise-timing"]
    code, out, err = run_cli(*args, "--json", tmp_path / "a.json")
    assert code in (0, 1), err
    assert "precise spike timing" in out.splitlines()[0]
    assert run_cli(*args, "--json", tmp_path / "b.json")[1] == out
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert json.loads((tmp_path / "a.json").read_text())["precise_timing"] is True


def test_run_on_the_emulator_takes_precise_timing_and_a_board_refuses_it(run_cli, setup, tmp_path):
    d = setup[0]
    common = [d / "config.json", "--input", d / "in.npz", "--mismatch", "0.1", "--seed", "2", "--precise-timing"]
    code, out, err = run_cli("run", *common, "-o", tmp_path / "run.npz", "--json", tmp_path / "run.json")
    assert code == 0, err
    assert json.loads((tmp_path / "run.json").read_text())["precise_timing"] is True
    assert run_cli("emulate", *common, "-o", tmp_path / "emu.npz")[0] == 0
    assert (tmp_path / "run.npz").read_bytes() == (tmp_path / "emu.npz").read_bytes()
    code, out, err = run_cli("run", *common, "--backend", "samna", "-o", tmp_path / "board.npz")
    assert code == 2 and "--precise-timing" in err and len(err.strip().splitlines()) == 1


def test_verify_notes_a_model_trained_with_precise_timing(run_cli, setup, tmp_path):
    d, network, *_ = setup
    data = json.loads((d / "model.json").read_text())
    data["metadata"] = {**data.get("metadata", {}), "training": {"precise_timing": True}}
    (tmp_path / "m.json").write_text(json.dumps(data))
    args = ["verify", tmp_path / "m.json", d / "config.json", "--input", d / "in.npz", "--trials", "0",
            "--allow-other-model"]
    code, out, err = run_cli(*args)
    assert code in (0, 1) and "was trained with precise spike timing" in err and "add --precise-timing" in err
    code, out, err = run_cli(*args, "--precise-timing")
    assert code in (0, 1) and "trained with precise" not in err
