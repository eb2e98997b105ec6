"""The read-out window: verify and emulate count output spikes in the input's ``readout`` steps [start, stop)
(or ``--window START:STOP``), as training and the task metric do; task-data writes it, train --data reads it."""

import json

import numpy as np
import pytest

T = 120
WINDOW = (60, 120)


def _two_group_model(path, n_inputs: int, w: float = 1.0):
    """Input group k (half the channels) excites output k; nothing else."""
    half = n_inputs // 2
    W = np.zeros((n_inputs, 2))
    W[:half, 0] = w
    W[half:, 1] = w
    path.write_text(json.dumps({
        "format": "neurodeploy.network/1", "name": "two_groups", "dt": 1e-3, "n_inputs": n_inputs,
        "populations": [{"name": "out", "size": 2, "tau_mem": 0.02, "tau_ampa": 0.01, "tau_gaba": 0.01}],
        "projections": [{"source": "input", "target": "out", "synapse": "auto", "weight_scale": 1e-7,
                         "weight": W.tolist()}],
        "outputs": [{"population": "out"}]}))
    return path


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """4 samples: a long burst for the WRONG class before the window, a shorter one for the right class inside it."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network

    d = tmp_path_factory.mktemp("window")
    model = _two_group_model(d / "m.json", 4)
    deploy(load_network(model), load_profile()).config.save(d / "c.json")
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 0, 1])
    x = np.zeros((4, T, 4), np.uint8)
    for i, y in enumerate(labels):
        x[i, 0:50, 2 * (1 - y):2 * (1 - y) + 2] = rng.random((50, 2)) < 0.6       # outside the window
        x[i, 70:95, 2 * y:2 * y + 2] = rng.random((25, 2)) < 0.6                   # inside
    np.savez(d / "win.npz", spikes=x, dt=1e-3, labels=labels, readout=np.array(WINDOW))
    return d


def test_verify_counts_only_the_window(run_cli, case):
    code, out, err = run_cli("verify", case / "m.json", case / "c.json", "--input", case / "win.npz", "--trials", "4",
                             "--json", case / "w.json")
    assert code == 0, out + err
    assert "read-out window: steps 60–120 of 120 (0.06–0.12 s), from the input's $.readout" in out
    r = json.loads((case / "w.json").read_text())
    assert r["window"]["start"] == 60 and r["window"]["stop"] == 120 and r["window"]["source"] == "$.readout"
    assert r["reference_accuracy"] == 1.0 and r["quantization_and_mismatch"]["accuracy"]["median"] == 1.0
    # --window overrides the file's: over the whole trial the early bursts win and every sample is wrong
    code, out, err = run_cli("verify", case / "m.json", case / "c.json", "--input", case / "win.npz", "--trials", "4",
                             "--window", "0:120", "--json", case / "all.json")
    assert code == 0, out + err
    assert "from --window" in out
    r_all = json.loads((case / "all.json").read_text())
    assert r_all["reference_accuracy"] == 0.0
    # rates are per second of the window: the whole trial's rates are not the window's
    assert r_all["reference_rates_hz"] != r["reference_rates_hz"]


def test_emulate_summary_counts_the_window(run_cli, case, tmp_path):
    code, out, err = run_cli("emulate", case / "c.json", "--input", case / "win.npz", "-o", tmp_path / "e.npz",
                             "--json", tmp_path / "e.json")
    assert code == 0, err
    outputs = np.load(tmp_path / "e.npz")["outputs"]                  # the npz keeps every step
    assert outputs.shape[1] == T
    in_window = outputs[:, WINDOW[0]:WINDOW[1]].sum(axis=(0, 1))
    assert in_window.sum() < outputs.sum()                            # spikes outside the window exist ...
    s = json.loads((tmp_path / "e.json").read_text())
    assert list(s["output_spike_counts"].values()) == in_window.tolist()      # ... and are not counted
    assert s["window"] == {"start": 60, "stop": 120, "source": "$.readout"}
    assert "in the read-out window (steps 60–120 of 120" in out
    code, out, err = run_cli("emulate", case / "c.json", "--input", case / "win.npz", "-o", tmp_path / "e2.npz",
                             "--window", "0:120", "--json", tmp_path / "e2.json")
    assert code == 0 and list(json.loads((tmp_path / "e2.json").read_text())["output_spike_counts"].values()) == \
        outputs.sum(axis=(0, 1)).tolist()


@pytest.mark.parametrize("readout, why", [
    (np.array([50.0, 120.0]), "got [50.0, 120.0]"), (np.array([100, 200]), "got [100, 200]"),
    (np.array([70, 70]), "got [70, 70]"), (np.array([1, 2, 3]), "got [1, 2, 3]"), (np.array(["a", "b"]), "got <U1"),
])
def test_a_bad_readout_is_one_line_naming_it(run_cli, case, tmp_path, readout, why):
    with np.load(case / "win.npz") as z:
        np.savez(tmp_path / "x.npz", **{**dict(z), "readout": readout})
    for cmd in (["verify", case / "m.json", case / "c.json", "--input", tmp_path / "x.npz"],
                ["emulate", case / "c.json", "--input", tmp_path / "x.npz", "-o", tmp_path / "e.npz"]):
        code, out, err = run_cli(*cmd)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "x.npz: $.readout: expected two integer steps [start, stop) with 0 <= start < stop <= T = 120" in err, err
        assert why in err, err
    assert not (tmp_path / "e.npz").exists()


@pytest.mark.parametrize("window, needle", [("5-7", "expected START:STOP"), ("9:3", "0 <= START < STOP"),
                                            ("0:500", "STOP = 500 is past the end of the input")])
def test_a_bad_window_option_is_one_line(run_cli, case, tmp_path, window, needle):
    code, out, err = run_cli("emulate", case / "c.json", "--input", case / "win.npz", "-o", tmp_path / "e.npz",
                             "--window", window)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "e.npz").exists()


def test_task_data_writes_the_window_train_reads_and_verify_uses(run_cli, tmp_path):
    """temporal-xor reads its outputs from the second stimulus on: task-data writes that window as 'readout',
    train --data reads the same key back, and verify counts in it."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network
    from neurodeploy.train.task import TASK_NAMES
    from neurodeploy.train.tasks import get_task
    from neurodeploy.train.tasks.datafile import read_data_file

    for name in TASK_NAMES:          # every task with a window writes it (arrays() is what task-data saves)
        t = get_task(name)
        d = t.data("val", 0)
        assert ("readout" in d.arrays()) == (d.readout is not None), name
    code, out, err = run_cli("task-data", "temporal-xor", "--option", "n_test=4", "-o", tmp_path / "tx.npz")
    assert code == 0, err
    task = get_task("temporal-xor", n_test=4)
    expect = task.data("test", 0).window
    assert tuple(np.load(tmp_path / "tx.npz")["readout"]) == expect == (task.t2, task.n_steps)
    assert read_data_file(tmp_path / "tx.npz")[0].readout == expect                     # train --data's reader
    model = _two_group_model(tmp_path / "m.json", task.n_inputs, w=0.5)
    deploy(load_network(model), load_profile()).config.save(tmp_path / "c.json")
    code, out, err = run_cli("verify", model, tmp_path / "c.json", "--input", tmp_path / "tx.npz", "--trials", "2",
                             "--json", tmp_path / "r.json")
    assert code in (0, 1), err
    r = json.loads((tmp_path / "r.json").read_text())
    assert (r["window"]["start"], r["window"]["stop"], r["window"]["source"]) == (*expect, "$.readout")
    assert f"steps {expect[0]}–{expect[1]} of {task.n_steps}" in out
