"""Rockpool-style .npz / .npy import."""

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.errors import NetworkError
from neurodeploy.importers import load_network

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def _without_metadata(network):
    d = network.to_json_dict()
    d.pop("metadata")
    return d


def test_example_npz_gives_the_json_network():
    a, b = load_network(EX / "model.json"), load_network(EX / "model.npz")
    assert _without_metadata(a) == _without_metadata(b)
    imp = b.metadata["import"]
    assert imp["importer"] == "npz" and imp["source"] == "model.npz" and len(imp["sha256"]) == 64
    assert any("dt = 0.001 s" in s for s in imp["assumptions"])


def test_two_npy_files_either_one_given(tmp_path, profile):
    with np.load(EX / "model.npz") as z:
        w_in, w_rec = z["w_in"], z["w_rec"]
    np.save(tmp_path / "w_in_optimized.npy", w_in)
    np.save(tmp_path / "w_rec_optimized.npy", w_rec)
    for f in ("w_in_optimized.npy", "w_rec_optimized.npy"):
        network = load_network(tmp_path / f, tau_mem=0.02, profile=profile)
        np.testing.assert_array_equal(network.dense_weight(0), w_in)
        np.testing.assert_array_equal(network.dense_weight(1), w_rec)
        assert network.populations[0].Itau_mem == profile.tau_to_current(0.02, "C_mem")
        assert [p.name for p in network.populations] == ["neurons"]
        assert network.metadata["import"]["arrays"] == {"w_in": "w_in_optimized.npy", "w_rec": "w_rec_optimized.npy"}


def test_npy_without_partner(tmp_path):
    np.save(tmp_path / "w_in.npy", np.ones((3, 2)))
    with pytest.raises(NetworkError) as ei:
        load_network(tmp_path / "w_in.npy")
    assert len(str(ei.value).splitlines()) == 1 and "w_rec=false" in str(ei.value)
    network = load_network(tmp_path / "w_in.npy", w_rec=False)
    assert len(network.projections) == 1


def test_options_override_file_and_defaults(tmp_path, profile):
    np.savez(tmp_path / "m.npz", w_in=np.ones((3, 2)), w_rec=np.zeros((2, 2)), tau_mem=np.float64(0.01), dt=np.float64(1e-4))
    network = load_network(tmp_path / "m.npz", tau_mem=[0.02, 0.03], Ispkthr=1e-7, weight_scale=2e-9, outputs=[1], profile=profile)
    pop = network.populations[0]
    assert pop.Itau_mem == [profile.tau_to_current(0.02, "C_mem"), profile.tau_to_current(0.03, "C_mem")]
    assert pop.Ispkthr == 1e-7 and network.dt == 1e-4
    assert network.projections[0].weight_scale == 2e-9
    assert network.output_indices().tolist() == [1]
    assert len(network.projections) == 2 and network.projection_coo(1)[0].size == 0  # an all-zero w_rec: no synapses
    text = " ".join(network.metadata["import"]["assumptions"])
    assert "overrides" in text or "replace" in text


def test_typed_rockpool2_w_rec(tmp_path):
    w_rec = np.zeros((2, 2, 4))
    w_rec[0, 1, 0] = 0.5   # AMPA
    w_rec[1, 0, 1] = 0.25  # GABA
    np.savez(tmp_path / "m.npz", w_in=np.ones((3, 2)), w_rec=w_rec)
    network = load_network(tmp_path / "m.npz")
    syn = {p.synapse: p for p in network.projections[1:]}
    assert set(syn) == {"ampa", "gaba"}
    assert syn["gaba"].weight == [[0.0, 0.0], [0.25, 0.0]]


@pytest.mark.parametrize("arrays, needle", [
    ({"w_in": np.array([[np.nan, 1.0]])}, "w_in[0, 0]: weight must be finite"),
    ({"w_in": np.ones((3, 2)), "w_rec": np.ones((3, 3))}, "w_rec: has 3 rows, expected 2"),
    ({"weights": np.ones((3, 2))}, "no input weights"),
    ({"w_in": np.ones(3)}, "expected a 2-D weight matrix"),
    ({"w_in": np.array([["a", "b"]])}, "expected a numeric weight matrix"),
])
def test_bad_npz_one_line(tmp_path, arrays, needle):
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(NetworkError) as ei:
        load_network(tmp_path / "m.npz")
    msg = str(ei.value)
    assert needle.replace("[0, 0]", "") in msg.replace("[0, 0]", "") and len(msg.splitlines()) == 1, msg


def test_unknown_option_and_bad_values(tmp_path):
    np.savez(tmp_path / "m.npz", w_in=np.ones((3, 2)))
    with pytest.raises(NetworkError, match="unknown import option"):
        load_network(tmp_path / "m.npz", taumem=0.02)
    with pytest.raises(NetworkError, match="tau_mem: expected a number or a list of 2"):
        load_network(tmp_path / "m.npz", tau_mem=[0.01, 0.02, 0.03])
    with pytest.raises(NetworkError, match="dt: must be a positive"):
        load_network(tmp_path / "m.npz", dt=-1)


def test_corrupt_npz(tmp_path):
    (tmp_path / "m.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(NetworkError, match="cannot read as .npz"):
        load_network(tmp_path / "m.npz")
