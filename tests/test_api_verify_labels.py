"""``neurodeploy.verify`` (the API) reads labels as ``neurodeploy verify`` does: from ``labels=`` (.npy or .npz)
or, when none is given, from the input file's own ``labels`` array."""

from pathlib import Path

import numpy as np
import pytest

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def test_labels_from_the_input_file_or_an_npz(tmp_path):
    from neurodeploy import deploy, load_network, verify
    from neurodeploy.errors import NeurodeployError

    network = load_network(EX / "model.json")
    cfg = deploy(network).config
    z = np.load(EX / "inputs.npz")
    y = np.load(EX / "labels.npy")
    np.savez(tmp_path / "with_labels.npz", spikes=z["spikes"][:4], dt=z["dt"], labels=y[:4])
    np.savez(tmp_path / "labels.npz", labels=y[:4])
    own = verify(network, cfg, tmp_path / "with_labels.npz", trials=2)
    given = verify(network, cfg, z["spikes"][:4], dt=float(z["dt"]), labels=tmp_path / "labels.npz", trials=2)
    assert own["reference_accuracy"] == given["reference_accuracy"] == 1.0
    assert own["checks"] == given["checks"]
    assert "reference_accuracy" not in verify(network, cfg, z["spikes"][:4], dt=float(z["dt"]), trials=2)
    np.savez(tmp_path / "bad.npz", spikes=z["spikes"][:4], dt=z["dt"], labels=y[:3])
    with pytest.raises(NeurodeployError, match=r"bad.npz: \$.labels: 3 labels for 4 input samples"):
        verify(network, cfg, tmp_path / "bad.npz", trials=2)
