"""load_data_file: a user's --data npz is validated strictly; every bad case is one line naming the field."""

import numpy as np
import pytest

from neurodeploy.train.task import TrainError
from neurodeploy.train.tasks import get_task, load_data_file


def _good(n=10, T=20, n_in=4):
    rng = np.random.default_rng(0)
    return {"spikes": rng.integers(0, 3, (n, T, n_in)).astype(np.uint8), "labels": np.arange(n) % 2, "dt": 1e-3}


def _write(tmp_path, **fields):
    path = tmp_path / "train.npz"
    np.savez(path, **fields)
    return path


def test_good_file_loads_with_deterministic_stratified_split(tmp_path):
    path = _write(tmp_path, **_good())
    task = load_data_file(path)
    assert (task.name, task.n_inputs, task.n_classes, task.dt) == ("data", 4, 2, 1e-3)
    tr, va, te = task.data("train"), task.data("val"), task.data("test")
    assert tr.n + va.n + te.n == 10 and va.n == 2 and te.n == 2 and sorted(va.labels.tolist()) == [0, 1]
    assert sorted(te.labels.tolist()) == [0, 1]
    idx = task.index                                         # three disjoint splits: test held out
    assert not (set(idx["test"]) & set(idx["train"])) and not (set(idx["test"]) & set(idx["val"]))
    assert not (set(idx["train"]) & set(idx["val"]))
    assert "held-out split: 2 of the 10 trials" in task.test_description
    assert tr.spikes.dtype == np.float32 and tr.labels.dtype == np.int64
    assert np.array_equal(load_data_file(path).data("val").spikes, va.spikes)
    assert load_data_file(path, n_classes=3).n_classes == 3


def test_a_separate_test_file_replaces_the_held_out_split(tmp_path):
    path = _write(tmp_path, **_good())
    other = tmp_path / "test.npz"
    g = _good(n=6)
    np.savez(other, **{**g, "spikes": g["spikes"][::-1].copy()})
    task = load_data_file(path, test=other)
    assert task.data("train").n + task.data("val").n == 10                  # the whole file trains
    assert task.data("test").n == 6 and np.array_equal(task.data("test").spikes, g["spikes"][::-1])
    assert "separate file" in task.test_description and str(other) in task.test_description
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**_good(n_in=5)})
    with pytest.raises(TrainError, match="bad.npz.*5 inputs.*must match"):
        load_data_file(path, test=bad)


def test_own_data_defaults_are_the_built_in_tasks_margin_and_population_read_out(tmp_path):
    arch = load_data_file(_write(tmp_path, **_good())).architecture()
    digits = get_task("digits").architecture()
    assert arch["beta"] == digits["beta"] < 1 and arch["outputs_per_class"] == digits["outputs_per_class"] > 1
    assert arch["init_rate"] == digits["init_rate"]


def test_task_data_output_round_trips_as_data_file(tmp_path):
    d = get_task("frozen-noise", n_noise=3).data("test")
    path = _write(tmp_path, **d.arrays())
    task = load_data_file(path)
    assert task.n_classes == 2 and task.all.negative.sum() == 3
    assert np.array_equal(task.all.spikes, d.spikes) and np.array_equal(task.all.target_rates, d.target_rates)


def _bad_cases():
    g = _good()
    yield "missing labels", {k: v for k, v in g.items() if k != "labels"}, "missing field 'labels'"
    yield "unknown key", {**g, "lables": g["labels"]}, "unknown field 'lables'"
    yield "spikes 2-D", {**g, "spikes": g["spikes"][0]}, "'spikes' must be 3-D"
    yield "spikes 4-D", {**g, "spikes": g["spikes"][..., None]}, "'spikes' must be 3-D"
    yield "no trials", {**g, "spikes": g["spikes"][:0], "labels": g["labels"][:0]}, "n_trials = 0"
    yield "no time bins", {**g, "spikes": g["spikes"][:, :0]}, "T (time bins) = 0"
    yield "string spikes", {**g, "spikes": np.full((2, 3, 4), "a")}, "'spikes' has dtype <U1"
    yield "complex spikes", {**g, "spikes": g["spikes"].astype(complex)}, "'spikes' has dtype complex128"
    yield "NaN spikes", {**g, "spikes": np.where(g["spikes"] == 2, np.nan, g["spikes"])}, "'spikes' holds NaN"
    yield "inf spikes", {**g, "spikes": np.where(g["spikes"] == 2, np.inf, g["spikes"])}, "'spikes' holds NaN or infinite"
    yield "negative spikes", {**g, "spikes": g["spikes"].astype(int) - 1}, "'spikes' holds negative"
    yield "rates not counts", {**g, "spikes": g["spikes"] * 0.3}, "'spikes' holds non-integer"
    yield "float labels", {**g, "labels": g["labels"].astype(float)}, "'labels' has dtype float64"
    yield "bool labels", {**g, "labels": g["labels"].astype(bool)}, "'labels' has dtype bool"
    yield "labels 2-D", {**g, "labels": g["labels"][:, None]}, "'labels' must be 1-D"
    yield "labels short", {**g, "labels": g["labels"][:5]}, "'labels' must be 1-D with one class index per trial ([10])"
    yield "negative label", {**g, "labels": g["labels"] - 1}, "'labels' holds negative"
    yield "one class", {**g, "labels": np.zeros(10, int)}, "'labels' has a single class"
    yield "dt zero", {**g, "dt": 0.0}, "'dt' must be a positive finite"
    yield "dt negative", {**g, "dt": -1e-3}, "'dt' must be a positive finite"
    yield "dt NaN", {**g, "dt": np.nan}, "'dt' must be a positive finite"
    yield "dt inf", {**g, "dt": np.inf}, "'dt' must be a positive finite"
    yield "dt array", {**g, "dt": [1e-3, 1e-3]}, "'dt' must be one number"
    yield "dt string", {**g, "dt": "1ms"}, "'dt' must be one number"
    yield "object labels", {**g, "labels": np.array([1, "a"] * 5, dtype=object)}, "'labels' is an object array"
    yield "bad readout", {**g, "readout": np.array([5, 50])}, "'readout' must be two integer bins"
    yield "bad target_rates", {**g, "target_rates": np.ones((10, 3))}, "'target_rates' must be [n_trials, n_classes]"
    yield "bad negative", {**g, "negative": np.zeros(10, int)}, "'negative' must be a bool array"


@pytest.mark.parametrize("case,fields,msg", list(_bad_cases()), ids=[c[0] for c in _bad_cases()])
def test_bad_file_one_line_naming_file_and_field(tmp_path, case, fields, msg):
    path = tmp_path / "train.npz"
    if case == "object labels":
        np.savez(path, **fields)                 # numpy pickles object arrays on save; load must refuse
    else:
        _write(tmp_path, **fields)
    with pytest.raises(TrainError) as e:
        load_data_file(path)
    text = str(e.value)
    assert msg in text and str(path) in text and "\n" not in text


def test_labels_out_of_range_for_given_classes(tmp_path):
    path = _write(tmp_path, **{**_good(), "labels": np.arange(10) % 4})
    with pytest.raises(TrainError, match=r"'labels' holds 3, out of range for 3 classes \(0..2\)"):
        load_data_file(path, n_classes=3)


@pytest.mark.parametrize("content,msg", [(None, "data file not found"), (b"not a zip", "cannot read as .npz"),
                                         ("npy", "single .npy array")])
def test_unreadable_files(tmp_path, content, msg):
    path = tmp_path / "train.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(TrainError, match=msg):
        load_data_file(path)


def test_cli_reports_the_held_out_split_and_refuses_test_without_data(run_cli, tmp_path):
    pytest.importorskip("jax")
    import json

    path = _write(tmp_path, **_good(n=12, T=15))
    args = ("--hidden", "0", "--outputs-per-class", "1", "--epochs", "1", "--no-mismatch", "--no-qat", "--quiet",
            "--no-report")
    code, out, err = run_cli("train", "--data", path, "-o", tmp_path / "m.json", *args)
    assert code == 0, err
    assert "test: held-out split: 2 of the 12 trials" in out and "never used for training" in out
    meta = json.loads((tmp_path / "m.json").read_text())["metadata"]
    assert meta["test_split"].startswith("held-out split")
    code, out, err = run_cli("train", "coincidence", "--test", path, "-o", tmp_path / "x.json")
    assert code == 2 and "--test FILE goes with --data" in err and "Traceback" not in err


def _as_times(x: np.ndarray, seed: int = 0) -> dict:
    """Counts [n, T, n_in] → spike times (each count at a random time inside its bin), channels and samples."""
    b, t, c = np.nonzero(x)
    n = x[b, t, c].astype(int)
    b, t, c = np.repeat(b, n), np.repeat(t, n), np.repeat(c, n)
    times = (t + np.random.default_rng(seed).uniform(0.05, 0.95, t.size)) * 1e-3
    return {"times": times, "channels": c, "samples": b, "duration": x.shape[1] * 1e-3}


def test_spike_times_load_as_their_counts_and_keep_their_times_through_the_splits(tmp_path):
    g = _good()
    g["spikes"][-1] = 0                                      # the last trial has no spike: it keeps its place
    path = _write(tmp_path, **_as_times(g["spikes"]), labels=g["labels"], dt=1e-3)
    task = load_data_file(path)
    raster = load_data_file(_counts_file(tmp_path, g))
    for split in ("train", "val", "test"):
        a, b = task.data(split), raster.data(split)
        np.testing.assert_array_equal(a.spikes, b.spikes)
        counts, late = a.timed
        assert counts.shape == a.spikes.shape == late.shape and b.timed is None
        assert np.all((late >= 0) & (late <= counts * 1e-3))
        assert a.inputs(precise_timing=True) is a.timed and a.inputs() is a.spikes and b.inputs(True) is b.spikes
    assert task.all.n == 10 and task.all.spikes[-1].sum() == 0


def _counts_file(tmp_path, g):
    path = tmp_path / "counts.npz"
    np.savez(path, **g)
    return path


@pytest.mark.parametrize("fields, msg", [
    (dict(times=np.array([0.001]), channels=np.array([0]), labels=np.arange(2), dt=1e-3), "missing field 'samples'"),
    (dict(times=np.array([0.001]), channels=np.array([0]), samples=np.array([2]), labels=np.arange(2), dt=1e-3),
     "$.samples: trial 2 has no label; 'labels' holds 2 trials (0..1)"),
    (dict(times=np.array([0.001]), channels=np.array([-1]), samples=np.array([0]), labels=np.arange(2), dt=1e-3),
     "$.channels[0]: input channel -1 out of range"),
    (dict(times=np.array([0.001]), channels=np.array([0]), samples=np.array([0]), labels=np.arange(2), dt=1e-3,
          batch=2), "unknown field 'batch'"),
])
def test_bad_spike_times_file_one_line(tmp_path, fields, msg):
    path = _write(tmp_path, **fields)
    with pytest.raises(TrainError) as e:
        load_data_file(path)
    assert str(e.value).startswith(str(path)) and msg in str(e.value)
