"""``neurodeploy.api.train``: the Python API runs what ``neurodeploy train`` runs (the same model.json, byte for
byte), on a tiny data file for one epoch."""

import numpy as np


def _tiny_data(path, n=12, T=40, n_in=12):
    """Two classes, each a different half of the inputs firing faster."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    rate = np.where((np.arange(n_in)[None, :] < n_in // 2) == (y[:, None] == 0), 0.15, 0.02)
    x = (rng.random((n, T, n_in)) < rate[:, None, :]).astype(np.uint8)
    np.savez(path, spikes=x, labels=y.astype(np.int64), dt=np.float64(1e-3))
    return path


OPTIONS = dict(hidden=0, epochs=1, batch_size=4, draws=1, seed=3)


def test_api_train_writes_what_the_cli_writes(run_cli, tmp_path):
    from neurodeploy import load_network
    from neurodeploy.api import train

    data = _tiny_data(tmp_path / "tiny.npz")
    s = train(data, tmp_path / "api.json", report=False, progress=False, **OPTIONS)
    assert s["output"] == str(tmp_path / "api.json")
    assert set(s["metrics"]) >= {"test", "test_mismatch", "val"} and "fan_in_max" in s["constraints"]
    network = load_network(s["output"])
    assert network.n_inputs == 12 and network.metadata["epochs_done"] == 1 and network.metadata["training"]["draws"] == 1

    code, _, err = run_cli("train", "--data", data, "-o", tmp_path / "cli.json", "--hidden", "0", "--epochs", "1",
                           "--batch-size", "4", "--draws", "1", "--seed", "3", "--no-report", "--quiet")
    assert code == 0, err
    assert (tmp_path / "api.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_api_train_options_are_the_train_configs(tmp_path):
    import pytest

    from neurodeploy.api import train
    from neurodeploy.train.task import TrainError

    data = _tiny_data(tmp_path / "tiny.npz")
    with pytest.raises(TypeError, match="no_such_option"):
        train(data, tmp_path / "m.json", no_such_option=1)
    with pytest.raises(TrainError, match="loss"):
        train(data, tmp_path / "m.json", loss="nope")
    assert not (tmp_path / "m.json").exists()
