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
