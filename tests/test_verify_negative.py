"""verify leaves samples without a class (the input's ``negative``, e.g. frozen-noise's unseen noise) out of the
accuracy and firing-rate ratio; their placeholder labels decide nothing."""

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "frozen_noise"


def test_negative_samples_are_left_out_of_the_accuracy(run_cli, tmp_path):
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network

    deploy(load_network(EX / "model.json"), load_profile()).config.save(tmp_path / "config.json")
    with np.load(EX / "inputs.npz") as z:
        x, dt = z["spikes"][[0, 1, 4, 5], :200], z["dt"]
    good = np.array([0, 0, 1, 1])
    wrong = np.array([0, 0, 0, 0])                        # the last two samples' labels are placeholders
    args = ("verify", EX / "model.json", tmp_path / "config.json", "--trials", "2", "--json")
    np.savez(tmp_path / "plain.npz", spikes=x, dt=dt, labels=good)
    np.savez(tmp_path / "neg.npz", spikes=x, dt=dt, labels=wrong, negative=np.array([False, False, True, True]))
    np.savez(tmp_path / "wrong.npz", spikes=x, dt=dt, labels=wrong)
    reps = {}
    for name in ("plain", "neg", "wrong"):
        code, out, err = run_cli(*args, tmp_path / f"{name}.json", "--input", tmp_path / f"{name}.npz")
        assert code in (0, 1) and "Traceback" not in err, err
        import json

        reps[name] = (json.loads((tmp_path / f"{name}.json").read_text()), out)
    assert reps["plain"][0]["reference_accuracy"] == 1.0
    assert reps["neg"][0]["reference_accuracy"] == 1.0 and reps["neg"][0]["samples_without_class"] == 2
    assert "2 without one left out" in reps["neg"][1]
    assert reps["wrong"][0]["reference_accuracy"] == 0.5           # without the mask the placeholders count
    np.savez(tmp_path / "bad.npz", spikes=x, dt=dt, labels=good, negative=np.ones(4, bool))
    code, out, err = run_cli(*args, tmp_path / "b.json", "--input", tmp_path / "bad.npz")
    assert code == 2 and "negative" in err and len(err.strip().splitlines()) == 1
