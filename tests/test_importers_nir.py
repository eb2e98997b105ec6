"""NIR import (framework files, hand-written nir 1.0.4 / 1.0.8 files, rejections) and NIR export round trips."""

import json
from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from neurodeploy.errors import NetworkError
from neurodeploy.importers.nir.export import export_nir, network_to_nir
from neurodeploy.importers.nir import load_nir
from neurodeploy.importers import load_network
from neurodeploy.network import network_from_dict

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "frozen_noise"
DATA = ROOT / "tests" / "data" / "nir"
MANIFEST = json.loads((DATA / "MANIFEST.json").read_text())


def _without_metadata(network):
    d = network.to_json_dict()
    d.pop("metadata")
    return d


# ---- the example ------------------------------------------------------------------------------------------
def test_example_nir_gives_the_json_network():
    a, c = load_network(EX / "model.json"), load_network(EX / "model.nir")
    assert _without_metadata(a) == _without_metadata(c)
    assert {k: v for k, v in c.metadata.items() if k != "import"} == a.metadata
    assert c.metadata["import"]["convention"] == "neurodeploy"


def test_example_nir_read_as_plain_nir_gives_the_same_weights():
    """Another framework's view of the export: r = tau_mem/dt, w_in = 1, v_th = 1 → the same unitless weights
    (negative ones scaled by the GABA/AMPA ratio of unit event currents, 0.4 % with the profile's defaults)."""
    a = load_network(EX / "model.json")
    c = load_network(EX / "model.nir", convention="nir")
    assert [p.size for p in c.populations] == [2] and c.n_inputs == 60
    for k in range(2):
        np.testing.assert_allclose(c.dense_weight(k), a.dense_weight(k), rtol=1e-2, atol=0)
        pos = a.dense_weight(k) > 0
        np.testing.assert_allclose(c.dense_weight(k)[pos], a.dense_weight(k)[pos], rtol=1e-12, atol=0)
    assert c.populations[0].Itau_mem == pytest.approx(a.populations[0].Itau_mem, rel=1e-12)


def test_export_is_a_valid_cubalif_graph_and_deterministic(tmp_path):
    network = load_network(EX / "model.json")
    export_nir(network, tmp_path / "a.nir")
    export_nir(network, tmp_path / "b.nir")
    assert (tmp_path / "a.nir").read_bytes() == (tmp_path / "b.nir").read_bytes()
    g = nir.read(tmp_path / "a.nir")  # passes nir's own type check
    kinds = sorted(type(n).__name__ for n in g.nodes.values())
    assert kinds == ["Affine", "Affine", "CubaLIF", "Input", "Output"]
    assert ("neurons", "w1_neurons_to_neurons") in g.edges and ("w1_neurons_to_neurons", "neurons") in g.edges
    assert "CubaLIF approximation" in str(g.metadata["approximation"])
    np.testing.assert_array_equal(g.nodes["w0_input_to_neurons"].weight, network.dense_weight(0).T)


def _random_networks():
    from test_network_roundtrip import networks  # the same generator as the JSON round trip

    return networks().filter(lambda raw: raw["n_inputs"] > 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_random_networks())
def test_export_then_import_preserves_everything(tmp_path_factory, raw):
    network = network_from_dict(raw, "random")
    path = tmp_path_factory.mktemp("nir") / "m.nir"
    export_nir(network, path)
    back = load_network(path)
    assert [(p.name, p.size) for p in back.populations] == [(p.name, p.size) for p in network.populations]
    assert len(back.projections) == len(network.projections)
    for k, (a, b) in enumerate(zip(network.projections, back.projections)):
        assert (a.source, a.target, a.synapse, a.weight_scale) == (b.source, b.target, b.synapse, b.weight_scale)
        np.testing.assert_array_equal(back.dense_weight(k), network.dense_weight(k))  # exactly
    assert back.to_json_dict()["populations"] == network.to_json_dict()["populations"]
    assert back.outputs == network.outputs and back.dt == network.dt and back.n_inputs == network.n_inputs


# ---- files written by frameworks and by nir ----------------------------------------------------------------
# file → (convention, [(projection k, manifest weights, gain)], [(population k, tau_mem s, tau_syn s or None)])
# gains: the membrane rise per input spike, in thresholds, per unit W under each framework's own update rule
_B10, _B5 = np.exp(-0.1), np.exp(-0.2)   # Rockpool's synaptic decay per 1-ms step at tau_syn 10 ms, 5 ms
EXPECT = {
    "snntorch_rleaky_synaptic.nir": ("snntorch", [(0, "w_in", 1.0), (1, "w_rec", 1.0), (2, "w_out", 5.0)],
                                     [(0, 0.01, None), (1, 0.02, 0.005)]),
    "snntorch_biased_leaky.nir": ("snntorch", [(0, "w_in", 1.0), (1, "w_out", 1.0)], [(0, 0.02, None), (1, 0.01, None)]),
    "norse_lifbox_lif.nir": ("norse", [(0, "w_in", 0.05), (1, "w_out", 0.5)], [(0, 0.02, None), (1, 0.01, 0.005)]),
    "sinabs_lif.nir": ("sinabs", [(0, "w_in", 0.05), (1, "w_out", 0.1)], [(0, 0.02, None), (1, 0.01, None)]),
    "sinabs_iaf.nir": ("sinabs", [(0, "w_in", 1.0), (1, "w_out", 1.0)], [(0, None, None), (1, None, None)]),
    "spikingjelly_lif.nir": ("spikingjelly", [(0, "w_in", 0.05), (1, "w_out", 1.0)], [(0, 0.02, None), (1, 0.01, None)]),
    "rockpool_lif.nir": ("rockpool", [(0, "w_in", _B10 / (1 - _B10)), (1, "w_out", _B5 / (1 - _B5))],
                         [(0, 0.02, 0.01), (1, 0.02, 0.005)]),
    "nir1.0.8_recurrent_cubalif.nir": ("nir", [(0, "w_in", 0.05), (1, "w_rec", 0.05), (2, "w_out", 0.1)],
                                       [(0, 0.02, 0.005), (1, 0.01, None)]),
    "nir1.0.4_recurrent_cubalif.nir": ("nir", [(0, "w_in", 0.05), (1, "w_rec", 0.05), (2, "w_out", 0.1)],
                                       [(0, 0.02, 0.005), (1, 0.01, None)]),
    "nir1.0.8_nested_scalar.nir": ("nir", [(0, "w_in", 0.05), (1, "w_rec", 0.05)], [(0, 0.02, None)]),
    "nir1.0.4_nested_scalar.nir": ("nir", [(0, "w_in", 0.05), (1, "w_rec", 0.05)], [(0, 0.02, None)]),
}


def test_every_test_file_is_covered():
    assert sorted(EXPECT) == sorted(p.name for p in DATA.glob("*.nir")) == sorted(MANIFEST)
    framework = sorted(k for k in EXPECT if not k.startswith("nir1.0"))
    assert framework == sorted(p.stem + ".nir" for p in DATA.glob("*.npz"))  # each with its framework's own run


def _itau_mem(profile, tau):
    """Itau_mem of an effective membrane time constant tau: U_T*C/(kappa*tau) - I_0 (SHUNT rests at I_0)."""
    a = profile.analog
    return profile.tau_to_current(tau, "C_mem") - a.I_0


def _unit_current(profile, network, pop_index, dendrite="ampa"):
    """The DPI's unit event current of population ``pop_index``, from the physics module (see calibrate.py)."""
    from neurodeploy.importers.nir.calibrate import EFFECTIVE_THRESHOLD
    from neurodeploy.device import physics

    params, offs = network.neuron_params(profile), network.offsets()
    j = offs[network.populations[pop_index].name]
    a = profile.analog
    tau = lambda c, i: physics.time_constant(getattr(a, c), params[i][j], a.U_T, a.kappa)  # noqa: E731
    tau_mem = physics.time_constant(a.C_mem, params["Itau_mem"][j] + a.I_0, a.U_T, a.kappa)
    return physics.unit_event_current(tau_mem, EFFECTIVE_THRESHOLD * params["Ispkthr"][j],
                                      params["Igain_mem"][j], params["Itau_mem"][j], tau(f"C_{dendrite}", f"Itau_{dendrite}"),
                                      params[f"Igain_{dendrite}"][j], params[f"Itau_{dendrite}"][j],
                                      physics.pulse_width(a.C_pulse, params["Ipulse"][j], a.V_th),
                                      1 + a.I_0 / params["Itau_mem"][j])


@pytest.mark.parametrize("fname", sorted(EXPECT))
def test_framework_and_handwritten_files(fname, profile, recwarn):
    convention, projs, pops = EXPECT[fname]
    network = load_nir(DATA / fname, dt=1e-3, convention=convention, profile=profile)
    weights = MANIFEST[fname]["weights"]
    assert network.n_inputs == len(weights["w_in"])
    layers = [p.name for p in network.populations if p.name != "bias_source"]
    biased = [pr for pr in network.projections if pr.source == "bias_source"]
    assert len(network.projections) == len(projs) + len(biased)
    for k, key, g in projs:
        expected = np.asarray(weights[key]) * g
        got = network.dense_weight(k)
        target = layers.index(network.projections[k].target)
        # negative weights go to GABA: scaled by its unit event current relative to AMPA's
        ratio = _unit_current(profile, network, target, "gaba") / _unit_current(profile, network, target)
        expected = np.where(expected >= 0, expected, expected * ratio)
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-9, err_msg=f"{fname} projection {k}")
        assert network.projections[k].weight_scale == pytest.approx(_unit_current(profile, network, target), rel=1e-9)
    assert len(layers) == len(pops)
    for k, tau_mem, tau_syn in pops:
        p = network.populations[k]
        if tau_mem is None:   # IF: the longest time constant the chip allows, with a warning naming the node
            lo = profile.bias.range(profile.quantity_to_parameter["Itau_mem"])[0]
            assert np.asarray(p.Itau_mem) == pytest.approx(lo, rel=1e-9)
            assert any(f"node {list(network.metadata['import']['nodes'])[k]} (IF)" in str(w.message) for w in recwarn)
            continue
        assert np.asarray(p.Itau_mem) == pytest.approx(_itau_mem(profile, tau_mem), rel=1e-5)
        if tau_syn is None:
            assert p.Itau_ampa is None
        else:
            assert np.asarray(p.Itau_ampa) == pytest.approx(profile.tau_to_current(tau_syn, "C_ampa"), rel=1e-5)
    assert [o.population for o in network.outputs] == [layers[-1]]
    imp = network.metadata["import"]
    assert imp["convention"] == convention and imp["assumptions"] and imp["reader"]


def test_reader_fallbacks_are_recorded():
    norse = load_nir(DATA / "norse_lifbox_lif.nir", dt=1e-3, convention="norse")
    assert "type_check=False" in norse.metadata["import"]["reader"]  # batch dim [1, 6] fails nir's type check
    nested = load_nir(DATA / "nir1.0.8_nested_scalar.nir", dt=1e-3)
    assert nested.metadata["import"]["reader"].startswith("raw HDF5")  # nir cannot read it at all
    ok = load_nir(DATA / "nir1.0.8_recurrent_cubalif.nir")  # dt from the graph's metadata
    assert ok.metadata["import"]["reader"].startswith("nir.read (") and ok.dt == 1e-3


def test_options_override_and_raw_weights(profile):
    network = load_nir(DATA / "sinabs_lif.nir", dt=1e-3, convention="sinabs", raw_weights=True, Ispkthr=2e-7,
                    tau_syn=0.004, weight_scale=3e-9, profile=profile)
    np.testing.assert_allclose(network.dense_weight(0), MANIFEST["sinabs_lif.nir"]["weights"]["w_in"], rtol=1e-6)
    assert all(p.Ispkthr == 2e-7 for p in network.populations)
    assert network.populations[0].Itau_gaba == profile.tau_to_current(0.004, "C_gaba")
    assert network.projections[0].weight_scale == 3e-9


# ---- rejections and tolerance ------------------------------------------------------------------------------
def _graph(nodes, edges, **meta):
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _lif(n, **kw):
    return nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=kw.pop("v_leak", np.zeros(n)), v_threshold=np.ones(n),
                   v_reset=np.zeros(n))


def _chain(middle, mid_name="bad", n_in=4, n=3):
    nodes = {"input": nir.Input(input_type=np.array([n_in])), mid_name: middle,
             "fc": nir.Linear(weight=np.ones((n, n_in))), "lif": _lif(n), "output": nir.Output(output_type=np.array([n]))}
    return _graph(nodes, [("input", mid_name), (mid_name, "fc"), ("fc", "lif"), ("lif", "output")])


@pytest.mark.parametrize("node, needle", [
    (nir.Conv1d(input_shape=4, weight=np.ones((1, 1, 1)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(1)),
     "convolution"),
    (nir.Flatten(input_type={"input": np.array([4])}, start_dim=0, end_dim=-1), "Flatten"),
    (nir.SumPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]), padding=np.array([0, 0])), "pooling"),
    (nir.Scale(scale=np.ones(4)), "fold it into"),
])
def test_unsupported_nodes_are_rejected_naming_the_node(node, needle):
    with pytest.raises(NetworkError) as ei:
        load_nir(_chain(node, "my_node"), dt=1e-3)
    msg = str(ei.value)
    assert len(msg.splitlines()) == 1 and "node 'my_node'" in msg and needle in msg, msg


def _biased(bias, v_leak=None):
    nodes = {"input": nir.Input(input_type=np.array([2])), "fc": nir.Affine(weight=np.ones((3, 2)), bias=np.asarray(bias)),
             "lif": _lif(3, **({} if v_leak is None else {"v_leak": np.asarray(v_leak)})),
             "output": nir.Output(output_type=np.array([3]))}
    return _graph(nodes, [("input", "fc"), ("fc", "lif"), ("lif", "output")])


def test_positive_bias_becomes_idc(profile):
    from neurodeploy.importers.nir.calibrate import EFFECTIVE_THRESHOLD as theta

    network = load_nir(_biased([0.5, 0.0, 0.25]), dt=1e-3, profile=profile)
    d = profile.default_currents()
    idc = np.asarray(network.populations[0].Idc)
    i_tau = _itau_mem(profile, 0.02)
    L = 1 + profile.analog.I_0 / i_tau      # the membrane settles at (Igain/Itau)*Idc/L
    assert idc[0] == pytest.approx(L * theta * 0.5 * d["Ispkthr"] * i_tau / d["Igain_mem"])
    assert idc[2] == pytest.approx(L * theta * 0.25 * d["Ispkthr"] * i_tau / d["Igain_mem"])
    assert idc[1] == profile.analog.I_0
    assert any("Idc" in a for a in network.metadata["import"]["assumptions"])


def test_negative_bias_becomes_inhibition_from_the_bias_source(profile):
    network = load_nir(_biased([0.0, -0.5, 0.2], v_leak=[0.0, 0.0, -0.4]), dt=1e-3, profile=profile)
    assert [p.name for p in network.populations] == ["lif", "bias_source"]
    src = network.populations[1]
    assert src.size == 1 and src.Idc > 0
    (k,) = [k for k, pr in enumerate(network.projections) if pr.source == "bias_source"]
    w = network.dense_weight(k)[0]
    # f = -0.5 (bias) and -0.2 (bias 0.2 on v_leak -0.4); weight f*dt/tau_mem, scaled as every GABA weight
    ratio = _unit_current(profile, network, 0, "gaba") / _unit_current(profile, network, 0)
    np.testing.assert_allclose(w, np.array([0.0, -0.5, -0.2]) * 1e-3 / 0.02 * ratio, rtol=1e-9)
    assert network.populations[0].Idc is None
    assert any("bias source" in a for a in network.metadata["import"]["assumptions"])


def test_bias_source_fires_every_step(profile):
    """The bias source's inhibition assumes one event per step: check it with the simulator."""
    from neurodeploy.sim.network import build_from_network
    from neurodeploy.sim.simulate import simulate

    network = load_nir(_biased([0.0, -0.5, 0.0]), dt=1e-3, profile=profile)
    net, index = build_from_network(network, profile)
    spikes = np.asarray(simulate(net, np.zeros((200, 2), np.float32))[0])
    assert spikes[:, index.population_slices["bias_source"]].sum() == 200
    assert spikes[:, index.population_slices["lif"]].sum() == 0


def test_all_problems_of_a_file_are_reported_together():
    conv = nir.Conv1d(input_shape=2, weight=np.ones((1, 1, 1)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(1))
    nodes = {"input": nir.Input(input_type=np.array([2])), "conv": conv,
             "pool": nir.Scale(scale=np.ones(2)), "fc": nir.Linear(weight=np.ones((3, 2))), "lif": _lif(3),
             "output": nir.Output(output_type=np.array([3]))}
    with pytest.raises(NetworkError) as ei:
        load_nir(_graph(nodes, [("input", "conv"), ("conv", "pool"), ("pool", "fc"), ("fc", "lif"), ("lif", "output")]),
                 dt=1e-3)
    assert len(ei.value.lines) == 2 and "'conv'" in ei.value.lines[0] and "'pool'" in ei.value.lines[1]
    bad = dict(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.zeros(2), v_reset=np.zeros(2))
    nodes = {"input": nir.Input(input_type=np.array([2])), "a": nir.LIF(**bad), "w": nir.Linear(weight=np.ones((2, 2))),
             "b": nir.LIF(**bad), "output": nir.Output(output_type=np.array([2]))}
    with pytest.raises(NetworkError) as ei:
        load_nir(_graph(nodes, [("input", "a"), ("a", "w"), ("w", "b"), ("b", "output")]), dt=1e-3)
    assert [("'a'" in m, "'b'" in m) for m in ei.value.lines] == [(True, False), (False, True)]


def test_if_becomes_the_longest_lif_with_a_warning(profile):
    with pytest.warns(UserWarning, match=r"node my_node \(IF\).*longest membrane time constant"):
        network = load_nir(_chain(nir.IF(r=np.ones(4), v_threshold=np.ones(4)), "my_node"), dt=1e-3, profile=profile)
    lo = profile.bias.range(profile.quantity_to_parameter["Itau_mem"])[0]
    assert network.populations[0].name == "my_node" and network.populations[0].Itau_mem == pytest.approx(lo)
    np.testing.assert_allclose(network.dense_weight(0), np.eye(4))   # Input -> IF one-to-one, v += W per spike


def test_zero_bias_is_fine_and_dt_is_required():
    with pytest.raises(NetworkError, match="NIR carries no time step: give the import option dt"):
        load_nir(_biased([0.0, 0.0, 0.0]))
    network = load_nir(_biased([0.0, 0.0, 0.0]), dt=1e-3)
    assert network.populations[0].Idc is None


def test_weight_straight_to_output_and_shape_mismatch():
    nodes = {"input": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=np.ones((3, 2))),
             "output": nir.Output(output_type=np.array([3]))}
    with pytest.raises(NetworkError, match="feeds the Output 'output' directly"):
        load_nir(_graph(nodes, [("input", "fc"), ("fc", "output")]), dt=1e-3)
    nodes = {"input": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=np.ones((3, 5))), "lif": _lif(3),
             "output": nir.Output(output_type=np.array([3]))}
    with pytest.raises(NetworkError, match=r"node 'fc' \(Linear\): weight has shape \[3, 5\], expected \[3, 2\]"):
        load_nir(_graph(nodes, [("input", "fc"), ("fc", "lif"), ("lif", "output")]), dt=1e-3)


def _write_tree(path, tree):
    """Write a NIR-layout HDF5 file by hand (shapes nir's constructors would refuse, as some exporters write)."""
    import h5py

    def rec(group, d):
        for k, v in d.items():
            if isinstance(v, dict):
                rec(group.create_group(k), v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=h5py.string_dtype())
            else:
                group.create_dataset(k, data=v)

    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="0.5.0", dtype=h5py.string_dtype())
        rec(f.create_group("node"), tree)


def test_batch_dims_and_mixed_scalar_shapes_tolerated(tmp_path):
    tree = {"type": "NIRGraph",
            "edges": np.array([[b"input", b"fc"], [b"fc", b"lif"], [b"lif", b"output"]], dtype=object),
            "nodes": {"input": {"type": "Input", "shape": np.array([1, 1, 2])},
                      "fc": {"type": "Linear", "weight": np.ones((1, 3, 2))},
                      "lif": {"type": "LIF", "tau": np.array(0.02), "r": np.array(1.0), "v_leak": np.array(0.0),
                              "v_threshold": np.array([1.0])},   # no v_reset: nir < 1.0.7
                      "output": {"type": "Output", "shape": np.array([1, 3])}}}
    _write_tree(tmp_path / "old.nir", tree)
    network = load_network(tmp_path / "old.nir", dt=1e-3)
    assert network.n_inputs == 2 and network.populations[0].size == 3
    np.testing.assert_allclose(network.dense_weight(0), np.full((2, 3), 0.05))
    assert any("scalar parameters broadcast" in a for a in network.metadata["import"]["assumptions"])


def test_garbage_files(tmp_path):
    (tmp_path / "x.nir").write_bytes(b"\x89HDF\r\n\x1a\n garbage")
    with pytest.raises(NetworkError, match="cannot read as HDF5/NIR"):
        load_network(tmp_path / "x.nir", dt=1e-3)
    with pytest.raises(NetworkError, match="unknown import option"):
        load_network(EX / "model.nir", tau=0.02)
    with pytest.raises(NetworkError, match="convention: expected one of"):
        load_network(EX / "model.nir", convention="brian2")


def test_cli_export_and_validate(run_cli, tmp_path):
    code, out, err = run_cli("export", EX / "model.json", "-o", tmp_path / "m.nir")
    assert code == 0 and "wrote" in out, err
    code, out, err = run_cli("validate", tmp_path / "m.nir")
    assert code == 0 and out.startswith("OK network"), err
    code, out, err = run_cli("export", DATA / "sinabs_lif.nir", "-O", "dt=0.001", "-O", "convention=sinabs",
                             "-o", tmp_path / "s.json")
    assert code == 0, err
    assert load_network(tmp_path / "s.json").metadata["import"]["convention"] == "sinabs"
    code, out, err = run_cli("export", DATA / "sinabs_lif.nir", "-o", tmp_path / "s.json")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {DATA / 'sinabs_lif.nir'}: NIR carries no time step")


def test_network_to_nir_names_do_not_collide():
    raw = {"n_inputs": 1, "populations": [{"name": "output", "size": 1}, {"name": "w0_input_to_output", "size": 1}],
           "projections": [{"source": "input", "target": "output", "weight": [[1.0]]}],
           "outputs": [{"population": "output"}, {"population": "w0_input_to_output"}]}
    g = network_to_nir(network_from_dict(raw, "x"))
    assert len(g.nodes) == 1 + 2 + 1 + 2
