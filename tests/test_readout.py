"""Population read-outs (``"readout": "sum"``): several output neurons per class, counted together —
in the network, the training loss, the task metrics and verify's accuracy."""

import numpy as np
import pytest

from neurodeploy.errors import NetworkError
from neurodeploy.network import network_from_dict


def _make_network(outputs, size=6):
    return network_from_dict({"n_inputs": 2, "populations": [{"name": "out", "size": size}],
                           "projections": [{"source": "input", "target": "out", "weight": [[0.5] * size, [0.25] * size]}],
                           "outputs": outputs})


def test_readout_matrix_groups_each_and_sum():
    network = _make_network([{"population": "out", "indices": [0, 1, 2], "readout": "sum"},
                  {"population": "out", "indices": [3, 4]},
                  {"population": "out", "indices": [5], "readout": "sum"}])
    R = network.readout_matrix()
    assert R.shape == (6, 4) and network.n_readouts == 4
    counts = np.array([1, 2, 3, 10, 20, 7])
    np.testing.assert_array_equal(counts @ R, [6, 10, 20, 7])
    assert np.array_equal(_make_network([{"population": "out"}]).readout_matrix(), np.eye(6, dtype=np.float32))


def test_readout_round_trips_and_default_is_not_written():
    network = _make_network([{"population": "out", "indices": [0, 1, 2], "readout": "sum"},
                  {"population": "out", "indices": [3, 4, 5], "readout": "sum"}])
    again = network_from_dict(network.to_json_dict())
    assert again.dumps() == network.dumps() and again.n_readouts == 2
    assert "readout" not in _make_network([{"population": "out"}]).dumps()


@pytest.mark.parametrize("outputs, msg", [
    ([{"population": "out", "indices": [], "readout": "sum"}], r"\$\.outputs\[0\]\.indices: a 'sum' read-out needs"),
    ([{"population": "out", "indices": [0, 1], "readout": "sum"}, {"population": "out", "indices": [1]}],
     r"\$\.outputs\[1\]: neuron out\[1\] is already read out by \$\.outputs\[0\]"),
    ([{"population": "out", "readout": "mean"}], r"outputs\[0\]\.readout"),
])
def test_bad_readouts_are_named(outputs, msg):
    with pytest.raises(NetworkError, match=msg):
        _make_network(outputs)


def test_verify_accuracy_counts_the_group_not_the_loudest_neuron():
    from neurodeploy.verification.run import _block

    R = _make_network([{"population": "out", "indices": [0, 1], "readout": "sum"},
               {"population": "out", "indices": [2, 3], "readout": "sum"}], size=4).readout_matrix()
    # neuron 2 is the loudest single neuron, but class 0's two neurons together lead
    ref = np.array([[5.0, 5.0, 8.0, 0.0], [0.0, 1.0, 6.0, 6.0]])
    out = _block(ref, ref[None], 0.1, np.array([0, 1]), R)
    assert out["accuracy"]["median"] == 1.0
    out_neuronwise = _block(ref, ref[None], 0.1, np.array([0, 1]), np.eye(4, 2, dtype=np.float32))
    assert out_neuronwise["accuracy"]["median"] == 0.5   # neurons 0/1 alone as the classes: sample 0 wrong


def test_training_with_outputs_per_class(tmp_path, profile):
    """The default architecture with K output neurons per class: K·C neurons, C summed channels, the
    metrics over channels; a few steps lower the loss."""
    from test_train import TinyTask, _cfg
    from neurodeploy.importers import load_network
    from neurodeploy.train.run import train

    task = TinyTask()
    s = train(task, tmp_path / "k.json", _cfg(epochs=3, qat_epochs=1), profile, report=False,
              arch_overrides={"outputs_per_class": 3})
    network = load_network(tmp_path / "k.json")
    assert network.population("out").size == 6 and network.n_readouts == 2
    assert [o.indices for o in network.outputs] == [[0, 1, 2], [3, 4, 5]]
    assert all(o.readout == "sum" for o in network.outputs)
    assert 0.0 <= s["metrics"]["test"]["accuracy"] <= 1.0
    h = s["history"]
    assert h[-1]["train_loss"] < h[0]["train_loss"] or h[-1]["val_loss_nominal"] < h[0]["val_loss_nominal"]


def test_init_with_wrong_number_of_readouts_is_refused(tmp_path, profile):
    from test_train import TinyTask, _cfg
    from neurodeploy.train.run import train
    from neurodeploy.train.task import TrainError

    n = TinyTask.n_inputs
    network_from_dict({"n_inputs": n, "populations": [{"name": "out", "size": 6}],
                    "projections": [{"source": "input", "target": "out", "weight": [[0.1] * 6] * n}],
                    "outputs": [{"population": "out", "indices": [0, 1, 2], "readout": "sum"},
                                {"population": "out", "indices": [3, 4]}]}).save(tmp_path / "three.json")
    with pytest.raises(TrainError, match="3 read-out channels, task 'tiny' has 2 classes"):
        train(TinyTask(), tmp_path / "o.json", _cfg(epochs=1), profile, report=False, init=tmp_path / "three.json")


def test_a_summed_group_spreads_less_across_mismatched_chips_than_one_neuron(profile):
    """The point of a population read-out: 8 identical neurons on the same input; over 32 mismatch draws
    (σ 10 %) the relative spread of their summed count is well below that of one neuron (≈ 1/√8)."""
    import jax

    from neurodeploy.sim import build_from_network, sample_mismatch_stack, simulate

    K = 8
    network = network_from_dict({"n_inputs": 1, "populations": [{"name": "out", "size": K, "tau_mem": 0.02, "tau_ampa": 0.01}],
                           "projections": [{"source": "input", "target": "out", "weight": [[1.0] * K], "weight_scale": 3e-7}],
                           "outputs": [{"population": "out", "readout": "sum"}]}, profile=profile)
    net, _ = build_from_network(network, profile)
    x = np.zeros((1, 300, 1), np.float32)
    x[0, ::5, 0] = 1.0                                           # 200 Hz regular input
    draws = sample_mismatch_stack(net, jax.random.PRNGKey(3), 32, sigma=0.1)
    counts = np.asarray(jax.vmap(lambda m: simulate(net, x, m)[0])(draws)).sum(axis=2)[:, 0, :]   # [draws, K]
    assert counts.min() > 0
    single = counts.std(axis=0) / counts.mean(axis=0)               # per neuron, across chips
    pooled = counts @ network.readout_matrix()
    cv_pooled = float(pooled.std() / pooled.mean())
    assert cv_pooled < 0.6 * float(np.median(single))
