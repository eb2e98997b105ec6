"""``neurodeploy evaluate``: the task's own metric on emulated boards after mapping."""

import json
from pathlib import Path

import numpy as np

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def test_nominal_board_is_the_emulated_config_scored_by_the_task(run_cli, tmp_path):
    from neurodeploy.train.tasks import get_task

    code, out, err = run_cli("evaluate", EX / "model.json", "frozen-noise", "--boards", "2", "--split", "test",
                             "--json", tmp_path / "a.json")
    assert code == 0, err
    assert "frozen-noise: 2 emulated boards at σ = 10%" in out and "test.accuracy" in out
    rep = json.loads((tmp_path / "a.json").read_text())
    assert len(rep["per_board"]["test"]) == 3 and set(rep["per_board"]) == {"test"}
    # the same numbers from the command-line pieces: task-data → map → emulate → the task's metric
    assert run_cli("task-data", "frozen-noise", "--split", "test", "-o", tmp_path / "test.npz")[0] == 0
    assert run_cli("map", EX / "model.json", "-o", tmp_path / "config.json")[0] == 0
    assert run_cli("emulate", tmp_path / "config.json", "--input", tmp_path / "test.npz", "-o", tmp_path / "e.npz")[0] == 0
    task = get_task("frozen-noise")
    data = task.data("test", seed=0)
    from neurodeploy.importers import load_network

    R = load_network(EX / "model.json").readout_matrix()
    w0, w1 = data.window
    counts = np.load(tmp_path / "e.npz")["outputs"][:, w0:w1].sum(axis=1) @ R
    nominal = task.metrics(counts, data)
    assert rep["per_board"]["test"][0]["accuracy"] == nominal["accuracy"]
    assert rep["summary"]["test.accuracy"]["nominal"] == round(nominal["accuracy"], 4)
    # same seed, same bytes
    assert run_cli("evaluate", EX / "model.json", "frozen-noise", "--boards", "2", "--split", "test",
                   "--json", tmp_path / "b.json")[0] == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_precise_timing_emulates_every_board_with_it(run_cli, profile, tmp_path):
    """--precise-timing: the boards' counts are those of ``Emulator(precise_timing=True)`` (a two-layer network, whose
    outputs count spikes arriving from other neurons, so the timing changes them), and the summary says so."""
    from networks import two_layer

    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.deployment import deploy
    from neurodeploy.evaluate import board_counts
    from neurodeploy.train.tasks import get_task

    network = two_layer()
    cfg = deploy(network, profile).config
    data = get_task("frozen-noise").data("test", seed=0)
    R = network.readout_matrix()
    timed = board_counts(cfg, profile, data, 1, 0.1, 0, R, precise_timing=True)
    plain = board_counts(cfg, profile, data, 1, 0.1, 0, R)
    w0, w1 = data.window
    nominal = Emulator(cfg, profile, dt=data.dt, precise_timing=True).run(data.spikes, data.dt).outputs
    np.testing.assert_array_equal(timed[0], np.asarray(nominal)[:, w0:w1].sum(axis=1) @ R)
    assert not np.array_equal(timed, plain)
    network.save(tmp_path / "m.json")
    code, out, err = run_cli("evaluate", tmp_path / "m.json", "frozen-noise", "--boards", "1", "--split", "test",
                             "--precise-timing", "--json", tmp_path / "e.json")
    assert code == 0, err
    assert out.splitlines()[0].endswith("; precise spike timing")
    rep = json.loads((tmp_path / "e.json").read_text())
    assert rep["summary"]["precise_timing"] is True
    code, out, err = run_cli("evaluate", tmp_path / "m.json", "frozen-noise", "--boards", "1", "--split", "test",
                             "--json", tmp_path / "p.json")
    assert code == 0 and "precise" not in out and "precise_timing" not in json.loads((tmp_path / "p.json").read_text())["summary"]
