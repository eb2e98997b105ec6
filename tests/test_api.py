"""The top-level Python API: ``from neurodeploy import load_network, deploy, emulate, verify``."""

import subprocess
import sys
from pathlib import Path

import numpy as np

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def test_import_neurodeploy_is_light():
    code = ("import sys, neurodeploy; from neurodeploy import load_network, deploy; "
            "print(sorted(m for m in ('jax', 'samna', 'neurodeploy.sim.simulate') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_notebook_flow_matches_the_cli(run_cli, tmp_path):
    from neurodeploy import deploy, emulate, load_network, verify

    spec = load_network(EX / "model.json")
    d = deploy(spec)
    code, _, err = run_cli("map", EX / "model.json", "-o", tmp_path / "c.json")
    assert code == 0, err
    assert d.config.dumps() == (tmp_path / "c.json").read_text()        # the same config, byte for byte
    assert deploy(EX / "model.json").config.dumps() == d.config.dumps()  # paths work as well as objects
    z = np.load(EX / "inputs.npz")
    res = emulate(d.config, z["spikes"][:2], dt=float(z["dt"]))
    assert res.outputs.shape[:2] == (2, z["spikes"].shape[1])
    assert np.array_equal(emulate(tmp_path / "c.json", z["spikes"][:2], dt=float(z["dt"])).spikes, res.spikes)
    rep = verify(spec, d.config, EX / "inputs.npz", labels=EX / "labels.npy", trials=2)
    assert isinstance(rep["passed"], bool)


def test_submodules_keep_their_names():
    import neurodeploy
    import neurodeploy.verify  # noqa: F401  (the submodule does not shadow the API function)
    from neurodeploy import verify
    from neurodeploy.verify import Tolerance

    assert callable(verify) and verify.__module__ == "neurodeploy.api" and Tolerance
    assert neurodeploy.deploy.__module__ == "neurodeploy.deploy"
