"""One strict base model for network, quantized and config files: no silent conversions, no NaN/inf."""

import json
from pathlib import Path

import pytest

from neurodeploy.config.config_json import config_from_dict
from neurodeploy.errors import ConfigError, NetworkError
from neurodeploy.quantize.quantized_json import QuantizedNetwork
from neurodeploy.network import network_from_dict

from test_validate import _config

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def _make_network():
    return json.loads((EX / "model.json").read_text())


@pytest.mark.parametrize("where, value, message", [
    (("populations", 0, "size"), "2", "Input should be a valid integer"),
    (("populations", 0, "size"), True, "Input should be a valid integer"),
    (("n_inputs", ), 60.0, "Input should be a valid integer"),
    (("populations", 0, "adaptation"), 1, "Input should be a valid boolean"),
    (("dt", ), "0.001", "Input should be a valid number"),
    (("dt", ), float("nan"), "finite number"),
])
def test_network_rejects_conversions_and_nonfinite(where, value, message):
    raw = _make_network()
    obj = raw
    for k in where[:-1]:
        obj = obj[k]
    obj[where[-1]] = value
    with pytest.raises(NetworkError) as e:
        network_from_dict(raw, "m.json")
    path = "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where)
    assert any(ln.startswith(f"m.json: {path}: ") and message in ln for ln in e.value.lines), e.value.lines


def test_config_rejects_conversions():
    c = _config()
    c["chips"][0]["cores"][0]["neurons"][0]["latch_so_dc"] = 1
    c["chips"][0]["cores"][0]["neurons"][0]["synapses"][0][0] = "17"
    with pytest.raises(ConfigError) as e:
        config_from_dict(c, "c.json")
    assert any("latch_so_dc: Input should be a valid boolean" in ln for ln in e.value.lines), e.value.lines
    assert any("synapses[0][0]: Input should be a valid integer" in ln for ln in e.value.lines), e.value.lines
    config_from_dict(_config())          # JSON arrays are read as tuples (CAM entries, positions)


def test_quantized_rejects_nonfinite(profile):
    from neurodeploy.quantize.quantizer import quantize_network

    q = json.loads(quantize_network(network_from_dict(_make_network()), profile).dumps())
    QuantizedNetwork.model_validate(q)
    q["synapses"]["target"][0] = float("inf")
    with pytest.raises(Exception, match="finite number"):
        QuantizedNetwork.model_validate(q)
