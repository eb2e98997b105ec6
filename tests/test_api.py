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

    network = load_network(EX / "model.json")
    d = deploy(network)
    code, _, err = run_cli("map", EX / "model.json", "-o", tmp_path / "c.json")
    assert code == 0, err
    assert d.config.dumps() == (tmp_path / "c.json").read_text()        # the same config, byte for byte
    assert deploy(EX / "model.json").config.dumps() == d.config.dumps()  # paths work as well as objects
    z = np.load(EX / "inputs.npz")
    res = emulate(d.config, z["spikes"][:2], dt=float(z["dt"]))
    assert res.outputs.shape[:2] == (2, z["spikes"].shape[1])
    assert np.array_equal(emulate(tmp_path / "c.json", z["spikes"][:2], dt=float(z["dt"])).spikes, res.spikes)
    rep = verify(network, d.config, EX / "inputs.npz", labels=EX / "labels.npy", trials=2)
    assert isinstance(rep["passed"], bool)


def test_api_functions_are_not_shadowed_by_modules():
    import pkgutil

    import neurodeploy
    import neurodeploy.api
    import neurodeploy.deployment  # noqa: F401  (importing the modules must not change the package's attributes)
    import neurodeploy.verification  # noqa: F401

    modules = {m.name for m in pkgutil.iter_modules(neurodeploy.__path__)}
    for name in ("load_network", "deploy", "simulate", "emulate", "verify"):
        assert name not in modules, name
        assert callable(getattr(neurodeploy, name)) and getattr(neurodeploy, name) is getattr(neurodeploy.api, name)


def test_api_verify_counts_in_the_window_it_is_given():
    from neurodeploy import deploy, load_network, verify

    network = load_network(EX / "model.json")
    d = deploy(network)
    z = np.load(EX / "inputs.npz")
    rep = verify(network, d.config, z["spikes"][:3], dt=float(z["dt"]), trials=1, window=(100, 300))
    whole = verify(network, d.config, z["spikes"][:3], dt=float(z["dt"]), trials=1)
    assert rep["window"]["start"] == 100 and rep["window"]["stop"] == 300
    assert sum(rep["reference_rates_hz"]) != sum(whole["reference_rates_hz"])


def test_api_verify_names_an_unknown_engine_and_an_address_without_ray():
    import pytest

    from neurodeploy import verify
    from neurodeploy.verification import VerifyError

    with pytest.raises(VerifyError, match=r"engine='dask': expected 'local' .* or 'ray'"):
        verify(EX / "model.json", EX / "missing.json", EX / "inputs.npz", engine="dask")
    with pytest.raises(VerifyError, match=r"address='auto' goes with engine='ray'"):
        verify(EX / "model.json", EX / "missing.json", EX / "inputs.npz", address="auto")
