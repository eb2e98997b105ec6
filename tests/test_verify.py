"""neurodeploy verify: PASS on a faithfully mapped example, FAIL (exit 1) on a corrupted config."""

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.verification.metrics import accuracy, firing_rate_ratio, pearson_r

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network

    d = tmp_path_factory.mktemp("verify")
    prof = load_profile()
    cfg = deploy(load_network(EX / "model.json"), prof).config
    cfg.save(d / "config.json")
    return d


def test_verify_passes_on_faithful_mapping(run_cli, mapped):
    code, out, err = run_cli("verify", EX / "model.json", mapped / "config.json", "--input", EX / "inputs.npz",
                             "--labels", EX / "labels.npy", "--trials", "8", "--json", mapped / "report.json")
    assert code == 0, out + err
    assert out.strip().endswith("PASS")
    r = json.loads((mapped / "report.json").read_text())
    assert r["passed"] and r["reference_accuracy"] == 1.0
    assert r["quantization_only"]["rate_correlation"]["median"] > 0.95
    assert {"quantization_only", "mismatch_only", "quantization_and_mismatch"} <= set(r)
    assert r["reference_firing_rate_ratio"] > 2


def test_verify_fails_on_corrupted_config(run_cli, mapped, tmp_path):
    cfg = json.loads((mapped / "config.json").read_text())
    for chip in cfg["chips"]:
        for core in chip["cores"]:
            for name in ("SYAM_W0_P", "SYAM_W1_P", "SYAM_W2_P", "SYAM_W3_P"):
                if name in core["parameters"]:
                    core["parameters"][name] = {"coarse": 0, "fine": 0}      # base weights zeroed
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg))
    code, out, err = run_cli("verify", EX / "model.json", bad, "--input", EX / "inputs.npz",
                             "--labels", EX / "labels.npy", "--trials", "4")
    assert code == 1, out + err
    assert out.strip().endswith("FAIL") and "[FAIL]" in out


def test_verify_rejects_mismatched_inputs(run_cli, mapped, tmp_path):
    np.savez(tmp_path / "x.npz", spikes=np.zeros((2, 10, 7)), dt=1e-3)
    code, out, err = run_cli("verify", EX / "model.json", mapped / "config.json", "--input", tmp_path / "x.npz")
    assert code == 2 and "7 input channels" in err and len(err.strip().splitlines()) == 1


def test_metrics():
    ref = np.array([[10, 0], [8, 1], [0, 9], [1, 12]], float)
    assert np.allclose(pearson_r(ref, ref), 1.0)
    assert np.allclose(pearson_r(ref, 2 * ref + 3), 1.0)
    rev = ref[::-1]
    expect = [np.corrcoef(ref[:, k], rev[:, k])[0, 1] for k in range(2)]
    assert np.allclose(pearson_r(ref, rev), expect)
    # batched over trials: [trials, B, n]
    assert pearson_r(ref, np.stack([ref, rev])).shape == (2, 2)
    labels = np.array([0, 0, 1, 1])
    assert accuracy(ref, labels) == 1.0 and accuracy(ref[:, ::-1], labels) == 0.0
    # strict: a tie (a silent sample included) is wrong, also for class 0
    assert accuracy(np.array([[0, 0], [3, 3], [4, 1], [1, 2]], float), labels) == 0.25
    assert firing_rate_ratio(ref, labels, 0.5) > 5
    assert np.isclose(firing_rate_ratio(np.ones((4, 2)), labels, 0.5), 1.0)


def test_verify_fails_when_threshold_three_coarse_steps_low(run_cli, mapped, tmp_path):
    """Rates ~20x too high keep correlation and accuracy; the relative rate error catches it."""
    cfg = json.loads((mapped / "config.json").read_text())
    code0 = cfg["chips"][0]["cores"][0]["parameters"]["SOIF_SPKTHR_P"]
    assert code0["coarse"] >= 3
    code0["coarse"] -= 3
    bad = tmp_path / "low_threshold.json"
    bad.write_text(json.dumps(cfg))
    code, out, err = run_cli("verify", EX / "model.json", bad, "--input", EX / "inputs.npz",
                             "--labels", EX / "labels.npy", "--trials", "4", "--json", tmp_path / "r.json")
    assert code == 1, out + err
    r = json.loads((tmp_path / "r.json").read_text())
    checks = {c["name"]: c for c in r["checks"]}
    assert checks["rate_correlation"]["passed"] and checks["accuracy_drop"]["passed"]   # scale-blind metrics pass
    assert not checks["relative_rate_error"]["passed"] and checks["relative_rate_error"]["value"] > 5


def test_verify_rejects_config_that_validate_rejects(run_cli, mapped, tmp_path):
    cfg = json.loads((mapped / "config.json").read_text())
    cfg["chips"][0]["cores"][0]["parameters"]["NOT_A_PARAMETER"] = {"coarse": 0, "fine": 0}
    bad = tmp_path / "unknown_param.json"
    bad.write_text(json.dumps(cfg))
    for args in (("verify", EX / "model.json", bad, "--input", EX / "inputs.npz", "--trials", "2"),
                 ("emulate", bad, "--input", EX / "inputs.npz", "-o", tmp_path / "out.npz")):
        code, out, err = run_cli(*args)
        assert code == 2, (args[0], out + err)
        assert "NOT_A_PARAMETER" in err and "parameter-name" in err
    assert not (tmp_path / "out.npz").exists()


def test_relative_rate_error_metric():
    from neurodeploy.verification.metrics import relative_rate_error

    ref = np.array([[10, 0], [8, 2]], float)
    assert relative_rate_error(ref, ref) == 0.0
    assert np.isclose(relative_rate_error(ref, 2 * ref), 1.0)
    assert relative_rate_error(ref, np.stack([ref, 3 * ref])).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("labels, what", [(np.array(["a"] * 8), "integer class indices"),
                                          (np.array([np.nan] + [0.0] * 7), "not an integer"),
                                          (np.array([0, 1] * 4) * 0.5, "not an integer"),
                                          (np.array([0, 1, 2, 0, 1, 0, 1, 0]), "not an output index")])
def test_verify_rejects_bad_labels(run_cli, mapped, tmp_path, labels, what):
    np.save(tmp_path / "labels.npy", labels)
    code, out, err = run_cli("verify", EX / "model.json", mapped / "config.json", "--input", EX / "inputs.npz",
                             "--labels", tmp_path / "labels.npy", "--trials", "2")
    assert code == 2 and what in err and len(err.strip().splitlines()) == 1, err


def test_verify_reads_labels_from_input_npz(run_cli, mapped, tmp_path):
    with np.load(EX / "inputs.npz") as z:
        np.savez(tmp_path / "with_labels.npz", spikes=z["spikes"], dt=z["dt"], labels=np.load(EX / "labels.npy"))
    code, out, err = run_cli("verify", EX / "model.json", mapped / "config.json", "--input", tmp_path / "with_labels.npz",
                             "--trials", "3", "--json", tmp_path / "r.json")
    assert code == 0, out + err
    assert json.loads((tmp_path / "r.json").read_text())["reference_accuracy"] == 1.0
