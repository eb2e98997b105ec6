"""verify names the stage that loses a failed gate: quantization, mismatch or (with delays) delay mismatch."""

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.verification import Tolerance, format_verify, verify
from neurodeploy.verification.stages import attribute_stages

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "frozen_noise"


def _verify(network, x, dt, labels=None, **tol):
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile

    profile = load_profile()
    cfg = deploy(network, profile).config
    return verify(network, cfg, profile, x, dt, labels=labels, trials=4, tolerance=Tolerance(**tol))


def test_a_failed_gate_names_its_stage():
    from neurodeploy.importers import load_network

    with np.load(EX / "inputs.npz") as z:
        x, dt = z["spikes"][[0, 1, 4, 5], :200], float(z["dt"])
    rep = _verify(load_network(EX / "model.json"), x, dt, min_rate_correlation=1.01, max_relative_rate_error=0.0)
    failed = {c["name"]: c for c in rep["checks"] if not c["passed"]}
    assert {"rate_correlation", "relative_rate_error"} <= set(failed)
    for c in failed.values():
        assert set(c["stages"]) == {"quantization", "mismatch"} and c["lost_at"] in c["stages"]
        assert c["stages"][c["lost_at"]] == max(c["stages"].values())
    err = failed["relative_rate_error"]
    q, full = rep["quantization_only"]["relative_rate_error"]["median"], rep["quantization_and_mismatch"]["relative_rate_error"]["median"]
    assert err["stages"]["quantization"] == pytest.approx(q, abs=1e-4)        # the stages add up to the gate's value
    assert sum(err["stages"].values()) == pytest.approx(full, abs=1e-3)
    text = format_verify(rep)
    assert "lost at " in text and "quantization" in text
    assert "quantization_and_mismatch_nominal_delays" not in rep          # no delays: no such block
    passed = [c for c in rep["checks"] if c["passed"]]
    assert all("stages" not in c for c in passed)


def test_delay_mismatch_is_split_off_for_a_network_with_delays():
    from neurodeploy.network import network_from_dict

    rng = np.random.default_rng(4)
    network = network_from_dict({"n_inputs": 4, "populations": [{"name": "p", "size": 2}], "outputs": [{"population": "p"}],
                           "projections": [{"source": "input", "target": "p", "weight": rng.uniform(0.5, 1.0, (4, 2)).tolist(),
                                            "weight_scale": 4e-7, "delay": [[0.004, 0.02], [0.02, 0.004], [0.0, 0.03], [0.03, 0.0]]}]})
    x = (rng.random((6, 80, 4)) < 0.08).astype(np.float32)
    rep = _verify(network, x, 1e-3, max_relative_rate_error=0.0)
    assert "quantization_and_mismatch_nominal_delays" in rep
    c = next(c for c in rep["checks"] if c["name"] == "relative_rate_error")
    assert not c["passed"] and set(c["stages"]) == {"quantization", "mismatch", "delay_mismatch"}
    nd = rep["quantization_and_mismatch_nominal_delays"]["relative_rate_error"]["median"]
    full = rep["quantization_and_mismatch"]["relative_rate_error"]["median"]
    assert c["stages"]["delay_mismatch"] == pytest.approx(full - nd, abs=1e-4)
    assert "with nominal delays" in format_verify(rep)


def test_a_board_report_is_not_attributed():
    checks = [{"name": "accuracy_drop", "value": 0.1, "limit": 0.02, "passed": False}]
    attribute_stages(checks, {"board": {}, "quantization_only": {}, "quantization_and_mismatch": {}})
    assert "stages" not in checks[0]


def test_rate_correlation_is_per_read_out_channel():
    from neurodeploy.verification.run import _block

    rng = np.random.default_rng(0)
    ref = rng.integers(0, 6, (12, 4)).astype(float)          # 12 samples, 2 channels × 2 summed neurons
    R = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], float)
    swapped = ref[:, [1, 0, 3, 2]][None]                      # neurons swapped inside each population
    b = _block(ref, swapped, 0.1, None, R)
    assert len(b["rate_correlation"]["per_output"]) == 2 and b["rate_correlation"]["median"] == 1.0
    assert _block(ref, swapped, 0.1, None, np.eye(4))["rate_correlation"]["median"] < 1.0
