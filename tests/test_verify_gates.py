"""verify's gates: --tolerance takes the checks' printed names; too few samples for a rate correlation; a config
mapped from another model is the named FAIL check same_model (unless --allow-other-model)."""

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.verification import metrics as vm
from neurodeploy.verification.run import GATES, Tolerance, VerifyError, _same_model_check

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "frozen_noise"
NIR = ROOT / "tests" / "data" / "nir"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The frozen-noise example mapped, with a short input (4 samples × 200 steps) and a one-sample input."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network

    d = tmp_path_factory.mktemp("gates")
    deploy(load_network(EX / "model.json"), load_profile()).config.save(d / "config.json")
    with np.load(EX / "inputs.npz") as z:
        np.savez(d / "x4.npz", spikes=z["spikes"][[0, 1, 4, 5], :200], dt=z["dt"], labels=np.array([0, 0, 1, 1]))
    return d


# ---- 1. gate names ---------------------------------------------------------------------------------------------
def test_tolerance_takes_the_printed_check_names():
    t = Tolerance.parse(["rate_correlation=0.5", "relative_rate_error=2", "accuracy_drop=0.1", "rate_difference_hz=7"])
    assert (t.min_rate_correlation, t.max_relative_rate_error, t.max_accuracy_drop, t.max_rate_difference) == (0.5, 2, 0.1, 7)
    old = Tolerance.parse(["correlation=0.4", "rate_error=3", "rate_difference=6"])     # the short names still read
    assert (old.min_rate_correlation, old.max_relative_rate_error, old.max_rate_difference) == (0.4, 3, 6)


@pytest.mark.parametrize("item, needles", [
    ("rate_corr=0.5", ["expected one of rate_correlation=VALUE, relative_rate_error=VALUE, accuracy_drop=VALUE, "
                       "rate_difference_hz=VALUE"]),
    ("host_routes=1", ["host_routes is a fixed check", "rate_correlation=VALUE"]),
    ("same_model=1", ["--allow-other-model"]),
    ("rate_correlation", ["expected one of"]),
    ("accuracy_drop=-1", ["finite number >= 0"]),
])
def test_a_wrong_tolerance_is_one_line_naming_the_valid_gates(run_cli, small, item, needles):
    code, out, err = run_cli("verify", EX / "model.json", small / "config.json", "--input", small / "x4.npz",
                             "--tolerance", item)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


def test_help_lists_the_printed_names(run_cli):
    code, out, err = run_cli("verify", "--help")
    text = " ".join(out.split())
    assert code == 0 and all(f"{name}=" in text for name in GATES), text
    assert "--allow-other-model" in text and "--window START:STOP" in text


# ---- 2. too few samples ----------------------------------------------------------------------------------------
def test_correlation_kind_needs_three_samples():
    assert vm.correlation_kind(np.ones((1, 6))) == "not_applicable"
    assert vm.correlation_kind(np.array([[3.0, 0], [0, 4]])) == "not_applicable"       # two samples: r is always ±1
    assert vm.correlation_kind(np.ones((3, 2))) == "per_output"


def test_one_sample_of_a_faithful_nir_mapping_passes_and_says_why(run_cli, tmp_path):
    """The shipped snnTorch file's reference input is one sample: r across samples is undefined (it printed
    r = 0.000 and FAILed); the check is now not applicable, in one line, and the rate error decides."""
    opts = ["-O", "dt=0.001", "-O", "convention=snntorch"]
    model = NIR / "snntorch_rleaky_synaptic.nir"
    code, out, err = run_cli("map", model, *opts, "-o", tmp_path / "c.json")
    assert code == 0, err
    code, out, err = run_cli("verify", model, tmp_path / "c.json", *opts, "--input", NIR / "snntorch_rleaky_synaptic.npz",
                             "--trials", "4", "--json", tmp_path / "r.json")
    assert code == 0 and out.strip().endswith("PASS"), out + err
    line = next(ln for ln in out.splitlines() if "rate_correlation" in ln)
    assert line.strip().startswith("[n/a ]") and "not applicable to 1 sample" in line and "needs >= 3" in line and len(line) <= 100, line
    assert "0.000" not in line
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["rate_correlation_statistic"]["kind"] == "not_applicable"
    assert "not applicable to 1 sample" in r["rate_correlation_statistic"]["note"]
    check = {c["name"]: c for c in r["checks"]}["rate_correlation"]
    assert check["applicable"] is False and check["passed"] and check["value"] is None
    assert {c["name"]: c for c in r["checks"]}["relative_rate_error"]["passed"]
    assert r["quantization_and_mismatch"]["rate_correlation"]["median"] is None


# ---- 3. a config mapped from another model ---------------------------------------------------------------------
def test_same_model_check():
    assert _same_model_check("a" * 64, "a" * 64, False)["passed"]
    hand_made = _same_model_check("", "b" * 64, False)
    assert hand_made["passed"] and "no source sha256" in hand_made["value"]
    other = _same_model_check("a" * 64, "b" * 64, False)
    assert not other["passed"] and "--allow-other-model" in other["note"] and "aaaaaaaaaaaa" in other["value"]
    allowed = _same_model_check("a" * 64, "b" * 64, True)
    assert allowed["passed"] and "--allow-other-model" in allowed["note"]


def test_a_config_of_another_model_fails_same_model(run_cli, small, tmp_path):
    m = json.loads((EX / "model.json").read_text())
    m["projections"][1]["weight"] = [[0.0, -0.45], [-0.45, 0.0]]          # the model changed after the mapping
    (tmp_path / "m.json").write_text(json.dumps(m))
    args = ["verify", tmp_path / "m.json", small / "config.json", "--input", small / "x4.npz", "--mismatch", "0"]
    code, out, err = run_cli(*args, "--json", tmp_path / "r.json")
    assert code == 1 and out.strip().endswith("FAIL"), out + err
    assert "[FAIL] same_model" in out and "--allow-other-model" in out
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["gates"] == {"rate_correlation": 0.9, "relative_rate_error": 1.0, "accuracy_drop": 0.02,
                          "rate_difference_hz": None}
    checks = {c["name"]: c for c in r["checks"]}
    assert not checks["same_model"]["passed"]
    assert all(c["passed"] for n, c in checks.items() if n != "same_model")     # only the model differs
    code, out, err = run_cli(*args, "--allow-other-model")
    assert code == 0 and "[ok  ] same_model" in out and "judged as asked" in out, out + err


def test_verify_library_raises_on_a_window_outside_the_input(profile, small):
    from neurodeploy.config.config_json import load_config
    from neurodeploy.importers import load_network
    from neurodeploy.verification import verify

    x = np.load(small / "x4.npz")["spikes"]
    with pytest.raises(VerifyError, match="expected 0 <= start < stop <= 200"):
        verify(load_network(EX / "model.json"), load_config(small / "config.json"), profile, x, 1e-3, window=(100, 300))
