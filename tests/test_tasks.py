"""Built-in training tasks: determinism, statistics, splits, metrics, and the task-data command."""

import numpy as np
import pytest

from neurodeploy.train.task import TaskData, TrainError
from neurodeploy.train.tasks import get_task

SMALL_XOR = dict(n_train=16, n_val=8, n_test=12)


def _same(a: TaskData, b: TaskData) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.arrays().values(), b.arrays().values()))


@pytest.mark.parametrize("name,opts", [("frozen-noise", {}), ("temporal-xor", SMALL_XOR), ("digits", {})])
def test_same_seed_same_arrays_other_seed_same_trials(name, opts):
    task = get_task(name, **opts)
    for split in ("train", "test"):
        a, b, c = task.data(split, 3), get_task(name, **opts).data(split, 3), task.data(split, 4)
        assert _same(a, b)
        assert a.spikes.dtype == np.float32 and a.labels.dtype == np.int64
        assert a.spikes.shape[1:] == (a.n_steps, task.n_inputs) and a.labels.shape == (a.n,)
        assert np.array_equal(a.labels, c.labels) and a.readout == c.readout
        assert np.all((a.spikes == 0) | (a.spikes == 1))
        assert a.labels.min() >= 0 and a.labels.max() < task.n_classes
    if name != "frozen-noise":   # frozen samples are frozen: only the noise of the test split is redrawn
        assert not np.array_equal(task.data("train", 3).spikes, task.data("train", 4).spikes)


def test_frozen_noise_rates_splits_and_frozen_samples():
    task = get_task("frozen-noise")
    train, test = task.data("train", 0), task.data("test", 0)
    assert train.spikes.shape == (2, 500, 60) and task.dt == 1e-3
    assert list(train.labels) == [0, 1] and train.negative is None
    # the frozen samples do not depend on data()'s seed, only on the task's sample_seed
    assert np.array_equal(train.spikes, task.data("train", 7).spikes)
    assert np.array_equal(test.spikes[:2], train.spikes)
    assert not np.array_equal(train.spikes, get_task("frozen-noise", sample_seed=1).data("train").spikes)
    assert not np.array_equal(train.spikes[0], train.spikes[1])
    # 50 Hz Poisson: 102 × 500 × 60 bins, p = 0.05 → mean within a few standard errors
    rate = test.spikes.mean() / task.dt
    assert abs(rate - 50.0) < 1.0
    assert test.n == 102 and test.negative.sum() == 100 and not test.negative[:2].any()
    assert not np.array_equal(test.spikes[2:], task.data("test", 1).spikes[2:])
    assert train.target_rates.tolist() == [[50.0, 0.0], [0.0, 50.0]]
    three = get_task("frozen-noise", n_samples=3, repeats=2).data("train")
    assert three.labels.tolist() == [0, 1, 2, 0, 1, 2] and three.target_rates.shape == (6, 3)


def test_frozen_noise_metrics_frr_and_negative_test():
    task = get_task("frozen-noise", n_noise=4)
    data = task.data("test")
    counts = np.array([[24, 3], [1, 9], [5, 5], [8, 2], [1, 3], [0, 6]])
    m = task.metrics(counts, data)
    assert m["accuracy"] == 1.0 and m["n"] == 2
    assert m["frr"] == [25 / 4, 10 / 2] and m["frr_min"] == 5.0
    assert m["noise_win_fraction"] == [0.25, 0.5]          # the tie (5, 5) is won by nobody
    assert m["noise_frr_median"] == pytest.approx(np.median([1.0, 3.0, 2.0, 7.0]))


def test_temporal_xor_labels_gaps_and_stimuli():
    task = get_task("temporal-xor", **SMALL_XOR)
    for split in ("train", "val", "test"):
        s, d = task.structure(split), task.data(split, 0)
        assert np.array_equal(d.labels, s["first"] ^ s["second"])
        assert s["gap"].min() >= 50 and s["gap"].max() <= 150
        assert d.readout == (task.t2, task.n_steps)
        g = task.group_size
        for i in range(d.n):
            x = d.spikes[i]
            active = np.flatnonzero(x.sum(axis=1))
            first = x[s["t1"][i]:s["t1"][i] + task.stim_steps]
            second = x[task.t2:task.t2 + task.stim_steps]
            # each stimulus is on its own group only; nothing outside the two bursts (no background)
            assert first[:, (1 - s["first"][i]) * g:(2 - s["first"][i]) * g].sum() == 0 < first.sum()
            assert second[:, (1 - s["second"][i]) * g:(2 - s["second"][i]) * g].sum() == 0 < second.sum()
            assert active.min() >= s["t1"][i] and active.max() < task.t2 + task.stim_steps
            assert task.t2 - (s["t1"][i] + task.stim_steps) == s["gap"][i]
    full = get_task("temporal-xor")
    assert np.bincount(full.structure("train")["first"] * 2 + full.structure("train")["second"]).tolist() == [128] * 4
    assert not np.array_equal(full.structure("train")["gap"], full.structure("test")["gap"][:512])


def test_digits_splits_disjoint_stratified_and_rates():
    task = get_task("digits")
    idx = task.index
    sizes = {k: v.size for k, v in idx.items()}
    assert sum(sizes.values()) == 1797 and 340 <= sizes["test"] <= 380 and 120 <= sizes["val"] <= 170
    assert not (set(idx["train"]) & set(idx["test"])) and not (set(idx["val"]) & set(idx["test"]))
    assert not (set(idx["train"]) & set(idx["val"]))
    test = task.data("test", 0)
    assert test.spikes.shape == (sizes["test"], 100, 64)
    assert np.bincount(test.labels, minlength=10).min() >= 30
    # rate coding: a pixel's spike count tracks its intensity (v/16 · 200 Hz over 100 ms = 1.25 v spikes)
    n_per_pixel = test.spikes.sum(axis=1)
    v = task.images[idx["test"]].astype(float)
    assert np.all(n_per_pixel[v == 0] == 0)
    assert abs(n_per_pixel[v == 16].mean() - 20.0) < 0.5
    assert np.array_equal(get_task("digits").index["test"], idx["test"])       # fixed held-out split


def test_digits_metrics_confusion():
    task = get_task("digits")
    data = task.data("val").subset(np.arange(5))
    counts = np.zeros((5, 10))
    counts[np.arange(5), data.labels] = 3
    counts[0] = 0                                             # silent → wrong, left out of the confusion matrix
    m = task.metrics(counts, data)
    assert m["accuracy"] == 0.8 and m["silent_fraction"] == 0.2 and np.sum(m["confusion"]) == 4
    assert m["accuracy_argmax"] == 0.8 + 0.2 * (data.labels[0] == 0)       # verify's convention: silent → class 0


def test_bad_task_options_and_splits():
    with pytest.raises(TrainError, match="unknown task 'mnist'.*frozen-noise"):
        get_task("mnist")
    with pytest.raises(TrainError, match="unknown option n_channel"):
        get_task("frozen-noise", n_channel=3)
    with pytest.raises(TrainError, match="unknown split 'dev'"):
        get_task("temporal-xor", **SMALL_XOR).data("dev")
    with pytest.raises(TrainError, match="seed"):
        get_task("temporal-xor", **SMALL_XOR).data("train", -1)


def test_architecture_hints_are_sane():
    for name, opts in (("frozen-noise", {}), ("temporal-xor", SMALL_XOR), ("digits", {})):
        a = get_task(name, **opts).architecture()
        assert a["loss"] in ("ce", "ce_current", "rate_mse") and a["epochs"] > 0 and a["batch_size"] > 0 and 0 < a["lr"] < 1
        assert a["hidden"] <= 64 or not a["recurrent"]          # stays within the 64-entry fan-in
    assert get_task("temporal-xor", **SMALL_XOR).architecture()["tau_nmda"] > 0


def test_task_data_cli_writes_input_file_byte_identical(tmp_path, run_cli):
    from neurodeploy.inputs import load_input

    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    for path, seed in ((a, 1), (b, 1), (c, 2)):
        code, out, err = run_cli("task-data", "temporal-xor", "--split", "val", "--seed", seed,
                                 "--option", "n_val=6", "-o", path)
        assert code == 0 and err == "" and "6 trials" in out
    assert a.read_bytes() == b.read_bytes() and a.read_bytes() != c.read_bytes()
    x = load_input(a, n_inputs=16)
    assert x["spikes"].shape == (6, 250, 16) and x["dt"] == 1e-3
    with np.load(a, allow_pickle=False) as z:
        assert sorted(z.files) == ["dt", "labels", "readout", "spikes", "target_rates"]
        assert np.array_equal(z["labels"], get_task("temporal-xor", n_val=6).data("val", 1).labels)


@pytest.mark.parametrize("args,msg", [
    (("task-data", "mnist", "-o", "x.npz"), "unknown task 'mnist'"),
    (("task-data", "digits", "--option", "rate_max=-5", "-o", "x.npz"), "rate_max"),
    (("task-data", "digits", "--option", "nokey", "-o", "x.npz"), "KEY=VALUE"),
])
def test_task_data_cli_errors_one_line_exit_2(tmp_path, run_cli, monkeypatch, args, msg):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(*args)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()


def test_frozen_noise_training_data_adds_fresh_noise_with_low_targets():
    task = get_task("frozen-noise", n_train_noise=3, n_val_noise=2, n_noise=2)
    a, b = task.training_data(5), task.training_data(6)
    assert a.n == 5 and a.negative.tolist() == [False, False, True, True, True]
    assert np.array_equal(a.spikes[:2], task.data("train").spikes)         # the frozen samples stay frozen
    assert not np.array_equal(a.spikes[2:], b.spikes[2:])                   # the noise is fresh per seed
    assert a.target_rates[2:].tolist() == [[0.0, 0.0]] * 3                  # noise: rate_low on every output
    val, test = task.data("val", 5), task.data("test", 5)
    assert val.negative.sum() == 2 and not np.array_equal(val.spikes[2:], test.spikes[2:])
    assert not np.array_equal(a.spikes[2:4], test.spikes[2:])               # training noise is not the test's


def test_strict_accuracy_counts_ties_and_silence_as_wrong():
    from neurodeploy.train.losses import accuracy

    counts = np.array([[0, 0], [3, 3], [4, 1], [1, 2]], np.float32)
    labels = np.array([0, 0, 0, 1])
    assert float(accuracy(counts, labels, np.ones(4, np.float32))) == 0.5
