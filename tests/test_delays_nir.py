"""NIR ``Delay`` nodes: import (units as for τ) and export, round trip."""

import nir
import numpy as np
import pytest

from neurodeploy.errors import NetworkError
from neurodeploy.importers import load_network
from neurodeploy.importers.nir import load_nir
from neurodeploy.importers.nir.export import export_nir
from neurodeploy.network import network_from_dict


def _lif(n):
    return nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))


def _graph(before=None, after=None, n_in=3, n=2):
    """Input → [Delay before] → Linear → [Delay after] → LIF → Output."""
    nodes = {"input": nir.Input(input_type=np.array([n_in])), "fc": nir.Linear(weight=np.ones((n, n_in))), "lif": _lif(n),
             "output": nir.Output(output_type=np.array([n]))}
    path = ["input"]
    if before is not None:
        nodes["d_in"] = nir.Delay(delay=np.asarray(before, float))
        path.append("d_in")
    path.append("fc")
    if after is not None:
        nodes["d_out"] = nir.Delay(delay=np.asarray(after, float))
        path.append("d_out")
    path += ["lif", "output"]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(path, path[1:])), type_check=False)


def test_delay_nodes_become_synaptic_delays_per_source_and_per_target(profile):
    network = load_nir(_graph(before=[1, 2, 0], after=[0, 3]), dt=1e-3, tau_unit="ms", profile=profile)
    np.testing.assert_allclose(network.dense_weight(0) != 0, True)
    d = np.asarray(network.projections[0].delay)
    np.testing.assert_allclose(d, np.array([[1, 4], [2, 5], [0, 3]]) * 1e-3)       # d_ij = d_pre,i + d_post,j
    notes = [a for a in network.metadata["import"]["assumptions"] if "Delay" in a]
    assert len(notes) == 2 and "in ms (tau_unit)" in notes[0]
    # NIR's default unit is the second; steps of dt (sinabs' convention) work too
    s_units = load_nir(_graph(after=[0.002, 0.0]), dt=1e-3, profile=profile)
    np.testing.assert_allclose(s_units.projections[0].delay, [[0.002, 0.0]] * 3)
    steps = load_nir(_graph(after=[2, 0]), dt=1e-3, tau_unit="steps", profile=profile)
    np.testing.assert_allclose(steps.projections[0].delay, [[0.002, 0.0]] * 3)


def test_bad_delay_nodes_are_named(profile):
    with pytest.raises(NetworkError, match=r"Delay between 'input' and 'fc': 2 delays for 3 channels"):
        load_nir(_graph(before=[1.0, 2.0]), dt=1e-3, profile=profile)
    with pytest.raises(NetworkError, match=r"node 'd_out' \(Delay\): delay must be finite and >= 0"):
        load_nir(_graph(after=[-1.0, 0.0]), dt=1e-3, profile=profile)
    with pytest.raises(NetworkError, match=r"delays must be finite, in seconds, 0\.\.0\.1"):
        load_nir(_graph(after=[0.5, 0.0]), dt=1e-3, profile=profile)             # 0.5 s: beyond the model format


@pytest.mark.parametrize("delay", [[[0.002, 0.002], [0.004, 0.004], [0.0, 0.0]], [[0.001, 0.003]] * 3])
def test_export_round_trip_with_delays(profile, tmp_path, delay):
    network = network_from_dict({"n_inputs": 3, "dt": 1e-3, "populations": [{"name": "p", "size": 2}],
                           "outputs": [{"population": "p"}],
                           "projections": [{"source": "input", "target": "p", "weight": [[0.5, 0.0], [0.25, 1.0], [1.0, 0.5]],
                                            "weight_scale": 1e-7, "delay": delay}]})
    export_nir(network, tmp_path / "m.nir", profile)
    back = load_network(tmp_path / "m.nir", profile=profile)
    np.testing.assert_allclose(back.projection_delay(0), network.projection_delay(0), atol=1e-15)
    assert (tmp_path / "m.nir").read_bytes() == export_nir(network, tmp_path / "m2.nir", profile).read_bytes()
