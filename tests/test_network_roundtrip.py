"""model.json: json → Network → json is byte-identical; random valid networks round-trip; strictness."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurodeploy.errors import NetworkError
from neurodeploy.fileio import atomic_savez
from neurodeploy.device.profile import NEURON_QUANTITIES
from neurodeploy.importers import load_network
from neurodeploy.network import network_from_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "frozen_noise" / "model.json"


def test_example_json_roundtrip_is_byte_identical():
    text = EXAMPLE.read_text()
    network = load_network(EXAMPLE)
    assert network.dumps() == text
    assert network.n_inputs == 60 and network.n_neurons == 2
    assert network.dense_weight(1).tolist() == [[0.0, -0.5], [-0.5, 0.0]]


def test_example_save_load_save(tmp_path):
    network = load_network(EXAMPLE)
    p = network.save(tmp_path / "m.json")
    assert p.read_bytes() == EXAMPLE.read_bytes()
    assert load_network(p).sha256() == network.sha256()


# ---- random valid networks ---------------------------------------------------------------------------------
current = st.floats(min_value=1e-14, max_value=1e-6, allow_nan=False, allow_infinity=False)
weight = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def networks(draw):
    n_pops = draw(st.integers(1, 3))
    pops = []
    for i in range(n_pops):
        size = draw(st.integers(1, 4))
        p = {"name": f"p{i}", "size": size, "adaptation": draw(st.booleans())}
        for q in draw(st.lists(st.sampled_from(NEURON_QUANTITIES), max_size=4, unique=True)):
            p[q] = draw(current) if draw(st.booleans()) else draw(st.lists(current, min_size=size, max_size=size))
        pops.append(p)
    n_in = draw(st.integers(0, 4))
    sizes = {"input": n_in, **{p["name"]: p["size"] for p in pops}}
    projs = []
    for _ in range(draw(st.integers(0, 3))):
        src = draw(st.sampled_from(["input"] + [p["name"] for p in pops] if n_in else [p["name"] for p in pops]))
        tgt = draw(st.sampled_from([p["name"] for p in pops]))
        syn = draw(st.sampled_from(["auto", "ampa", "gaba", "nmda", "shunt"]))
        ws = draw(st.floats(min_value=1e-12, max_value=1e-6))
        mag = (lambda x: abs(x) + 0.0) if syn != "auto" else (lambda x: x + 0.0)
        if draw(st.booleans()):
            w = [[mag(draw(weight)) for _ in range(sizes[tgt])] for _ in range(sizes[src])]
            projs.append({"source": src, "target": tgt, "synapse": syn, "weight_scale": ws, "weight": w})
        else:
            pairs = draw(st.lists(st.tuples(st.integers(0, sizes[src] - 1), st.integers(0, sizes[tgt] - 1)),
                                  unique=True, max_size=5))
            projs.append({"source": src, "target": tgt, "synapse": syn, "weight_scale": ws,
                          "pre": [a for a, _ in pairs], "post": [b for _, b in pairs],
                          "w": [mag(draw(weight)) for _ in pairs]})
    outs = []
    for p in draw(st.lists(st.sampled_from(pops), max_size=2)):
        if draw(st.booleans()):
            outs.append({"population": p["name"]})
        else:
            outs.append({"population": p["name"], "indices": draw(st.lists(st.integers(0, p["size"] - 1), max_size=3))})
    meta = draw(st.dictionaries(st.text(min_size=1, max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.booleans()),
                                max_size=3))
    return {"format": "neurodeploy.network/1", "name": draw(st.text(max_size=10)), "dt": draw(st.floats(1e-6, 1.0)),
            "n_inputs": n_in, "populations": pops, "projections": projs, "outputs": outs, "metadata": meta}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_roundtrip(raw):
    network = network_from_dict(raw, "random")
    text = network.dumps()
    again = network_from_dict(json.loads(text), "again")
    assert again.dumps() == text
    for k in range(len(network.projections)):
        np.testing.assert_array_equal(network.dense_weight(k), again.dense_weight(k))


# ---- convenience forms, sidecars, strictness --------------------------------------------------------------
def _base(**pop):
    return {"n_inputs": 2, "populations": [{"name": "a", "size": 2, **pop}],
            "projections": [{"source": "input", "target": "a", "weight": [[0.5, -0.5], [0.0, 1.0]]}]}


def test_convenience_tau_becomes_current(profile):
    network = network_from_dict(_base(tau_mem=0.02, t_ref=[0.001, 0.002]), "x", profile=profile)
    pop = network.populations[0]
    assert pop.Itau_mem == profile.tau_to_current(0.02, "C_mem")
    assert pop.Iref == [profile.pulse_to_current(0.001, "C_ref"), profile.pulse_to_current(0.002, "C_ref")]
    assert "\"tau_mem\"" not in network.dumps() and "\"t_ref\"" not in network.dumps()


def test_convenience_and_current_together_is_an_error(profile):
    with pytest.raises(NetworkError, match=r"give either tau_mem or Itau_mem"):
        network_from_dict(_base(tau_mem=0.02, Itau_mem=1e-12), "x", profile=profile)


def test_non_finite_numbers_are_rejected_one_line_each():
    raw = _base(Itau_mem=[float("inf"), 1e-12])
    raw["dt"] = float("inf")
    raw["projections"][0]["weight_scale"] = float("nan")
    with pytest.raises(NetworkError) as ei:
        network_from_dict(raw, "f.json")
    lines = str(ei.value).splitlines()
    assert "f.json: $.dt: Input should be a finite number" in lines
    assert "f.json: $.populations[0].Itau_mem[0]: Input should be a finite number" in lines
    assert "f.json: $.projections[0].weight_scale: Input should be a finite number" in lines
    assert all(ln.startswith("f.json: $.") for ln in lines)


def test_union_errors_are_one_line():
    with pytest.raises(NetworkError) as ei:
        network_from_dict(_base(Itau_mem="fast"), "f.json")
    assert str(ei.value) == "f.json: $.populations[0].Itau_mem: expected a number or a list of numbers"


def test_sidecar_weights(tmp_path):
    w = np.array([[0.25, -1.0], [0.0, 0.5]])
    atomic_savez(tmp_path / "w.npz", w_in=w)
    import hashlib

    sha = hashlib.sha256((tmp_path / "w.npz").read_bytes()).hexdigest()
    raw = _base()
    raw["projections"][0] = {"source": "input", "target": "a", "sidecar": {"path": "w.npz", "key": "w_in", "sha256": sha}}
    (tmp_path / "m.json").write_text(json.dumps(raw))
    network = load_network(tmp_path / "m.json")
    np.testing.assert_array_equal(network.dense_weight(0), w)
    atomic_savez(tmp_path / "w.npz", w_in=w * 2)
    with pytest.raises(NetworkError, match=r"sha256.*file changed"):
        load_network(tmp_path / "m.json")
