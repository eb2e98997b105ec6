"""neurodeploy verify: PASS on a faithfully mapped example, FAIL (exit 1) on a corrupted config."""

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.verify_metrics import accuracy, firing_rate_ratio, pearson_r

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    from neurodeploy.mapping.stage import deploy
    from neurodeploy.profile import load_profile
    from neurodeploy.spec import load_network

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
    assert firing_rate_ratio(ref, labels, 0.5) > 5
    assert np.isclose(firing_rate_ratio(np.ones((4, 2)), labels, 0.5), 1.0)
