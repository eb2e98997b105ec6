"""Configs for the samna backend tests (test support, not part of the samna double)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=None)
def example_config():
    """`neurodeploy map examples/frozen_noise/model.json` (1 core, 2 neurons)."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network

    prof = load_profile("dynapse2")
    return deploy(load_network(ROOT / "examples/frozen_noise/model.json", profile=prof), prof).config


def four_chip_network(n_pop: int = 13, size: int = 3, n_inputs: int = 8):
    """13 populations with different membrane leaks (so 13 cores, i.e. 4 chips), each feeding the next."""
    from neurodeploy.network import network_from_dict

    rng = np.random.default_rng(0)
    pops = [{"name": f"p{i}", "size": size, "Itau_mem": float(4e-12 * 1.6 ** i)} for i in range(n_pop)]
    projs = [{"source": "input", "target": "p0", "weight": rng.normal(0, 0.5, (n_inputs, size)).round(3).tolist()}]
    projs += [{"source": f"p{i}", "target": f"p{i + 1}", "weight": rng.normal(0, 0.5, (size, size)).round(3).tolist()}
              for i in range(n_pop - 1)]
    projs.append({"source": f"p{n_pop - 1}", "target": "p0", "weight": rng.normal(0, 0.5, (size, size)).round(3).tolist()})
    return network_from_dict({"name": "four_chips", "dt": 1e-3, "n_inputs": n_inputs, "populations": pops, "projections": projs,
                           "outputs": [{"population": "p0"}, {"population": f"p{n_pop - 1}", "indices": [1, 2]}]})


@lru_cache(maxsize=None)
def four_chip_config():
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile

    prof = load_profile("dynapse2")
    return deploy(four_chip_network(), prof, chips=4).config


@lru_cache(maxsize=None)
def chain_config():
    """Six populations with different leaks (six cores: chip 0 holds four, chip 1 two), each feeding the next
    strongly enough that activity crosses to chip 1."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.network import network_from_dict

    pops = [{"name": f"p{i}", "size": 3, "Itau_mem": float(4e-12 * 1.3 ** i)} for i in range(6)]
    projs = [{"source": "input", "target": "p0", "weight_scale": 1e-7, "weight": np.full((4, 3), 2.0).tolist()}]
    projs += [{"source": f"p{i}", "target": f"p{i + 1}", "weight_scale": 1e-7, "weight": np.full((3, 3), 2.0).tolist()}
              for i in range(5)]
    network = network_from_dict({"name": "chain", "dt": 1e-3, "n_inputs": 4, "populations": pops, "projections": projs,
                           "outputs": [{"population": f"p{i}"} for i in range(6)]})
    return deploy(network, load_profile("dynapse2"), chips=2).config
