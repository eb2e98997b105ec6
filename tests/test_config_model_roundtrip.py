"""config.json: random valid hardware configs round-trip (dumps → load → dumps identical); fast and slow load agree."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurodeploy.config.config_json import CAM_FLAGS, LATCHES, config_from_dict, dumps_config, load_config
from neurodeploy.errors import ConfigError

DENDRITES = ["none", "ampa", "nmda", "gaba", "shunt"]
mask4 = st.text(alphabet="01", min_size=4, max_size=4)
bool4 = st.lists(st.booleans(), min_size=4, max_size=4)
cores4 = bool4.filter(any)                # an SRAM destination sets a core bit (rule empty-destination)


@st.composite
def configs(draw):
    n_chips = draw(st.integers(1, 3))
    positions = draw(st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=n_chips, max_size=n_chips, unique=True))
    chip_ids = draw(st.lists(st.integers(0, 7), min_size=n_chips, max_size=n_chips, unique=True))
    chips, configured = [], []
    for cid, pos in zip(chip_ids, positions):
        cores = []
        for core in draw(st.lists(st.integers(0, 3), max_size=2, unique=True)):
            neurons = []
            for nid in draw(st.lists(st.integers(0, 255), max_size=3, unique=True)):
                syn = draw(st.lists(st.tuples(st.integers(0, 2047), st.sampled_from(DENDRITES), mask4), max_size=5))
                n = {"neuron": nid, "synapses": [list(s) for s in syn]}
                for latch in draw(st.lists(st.sampled_from(LATCHES), max_size=3, unique=True)):
                    n[latch] = True
                if syn and draw(st.booleans()):
                    n["synapse_flags"] = {str(draw(st.integers(0, len(syn) - 1))):
                                          draw(st.lists(st.sampled_from(CAM_FLAGS), min_size=1, max_size=2, unique=True))}
                dst = []
                for _ in range(draw(st.integers(0, 2))):
                    tx, ty = draw(st.sampled_from(positions))
                    dst.append({"tag": draw(st.integers(0, 2047)), "core": draw(cores4), "x_hop": tx - pos[0], "y_hop": ty - pos[1]})
                n["destinations"] = dst
                neurons.append(n)
                configured.append((cid, core, nid))
            params = draw(st.dictionaries(st.sampled_from(["SOIF_LEAK_N", "SOIF_GAIN_N", "DEAM_ETAU_P", "SYAM_W0_P"]),
                                          st.fixed_dictionaries({"coarse": st.integers(0, 5), "fine": st.integers(0, 255)}),
                                          max_size=3))
            cores.append({"core": core, "parameters": params, "neurons": neurons})
        chips.append({"chip": cid, "position": list(pos), "cores": cores})
    inputs = [{"channel": i, "destinations": [{"chip": draw(st.sampled_from(chip_ids)), "tag": draw(st.integers(0, 2047)),
                                                "core": draw(bool4)}]} for i in range(draw(st.integers(0, 3)))]
    outputs, placement = [], []
    if configured:
        for i, (c, k, n) in enumerate(draw(st.lists(st.sampled_from(configured), max_size=3))):
            outputs.append({"name": f"out[{i}]", "chip": c, "core": k, "neuron": n})
        sel = draw(st.lists(st.sampled_from(configured), min_size=1, max_size=4, unique=True))
        placement.append({"population": "p", "chip": [s[0] for s in sel], "core": [s[1] for s in sel],
                          "neuron": [s[2] for s in sel]})
    return {"format": "neurodeploy.config/1", "profile": {"name": "dynapse2", "sha256": "ab" * 32},
            "neurodeploy_version": "0.1.0", "source_model_sha256": "", "seed": draw(st.integers(0, 2**31)),
            "chips": chips, "inputs": inputs, "outputs": outputs, "placement": placement,
            "metadata": draw(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(), max_size=2))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(configs())
def test_random_configs_roundtrip(tmp_path_factory, raw):
    cfg = config_from_dict(raw, "random")
    text = dumps_config(cfg)
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(text)
    again = load_config(path)
    assert again.dumps() == text
    assert config_from_dict(json.loads(text), "slow").dumps() == text  # the json.loads path agrees with the fast one


def _small():
    return {"format": "neurodeploy.config/1", "profile": {"name": "dynapse2", "sha256": ""}, "neurodeploy_version": "0.1.0",
            "chips": [{"chip": 0, "cores": [{"core": 0, "neurons": [{"neuron": 3, "synapses": [[17, "ampa", "1010"]]}]}]}]}


def test_fast_path_rejects_nan_like_the_slow_path(tmp_path):
    raw = _small()
    text = json.dumps(raw)[:-1] + ', "metadata": {"x": NaN}}'
    (tmp_path / "c.json").write_text(text)
    with pytest.raises(ConfigError, match="NaN is not allowed"):
        load_config(tmp_path / "c.json")


def test_invalid_config_errors_name_path_and_rule(tmp_path):
    raw = _small()
    raw["chips"][0]["cores"][0]["neurons"][0]["synapses"] = [[4096, "ampa", "1010"], [1, "glu", "10"]]
    raw["outputs"] = [{"chip": 0, "core": 1, "neuron": 3}]
    (tmp_path / "c.json").write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path / "c.json")
    lines = str(ei.value).splitlines()
    p = str(tmp_path / "c.json")
    assert f"{p}: $.chips[0].cores[0].neurons[0].synapses[0][0]: Input should be less than or equal to 2047" in lines
    assert any(ln.startswith(f"{p}: $.chips[0].cores[0].neurons[0].synapses[1][1]:") for ln in lines)
    assert any(ln.startswith(f"{p}: $.chips[0].cores[0].neurons[0].synapses[1][2]:") for ln in lines)
