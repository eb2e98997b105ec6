"""Configs for the samna backend tests (test support, not part of the samna double)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=None)
def example_config():
    """`neurodeploy map examples/frozen_noise/model.json` (1 core, 2 neurons)."""
    from neurodeploy.deploy import deploy
    from neurodeploy.profile import load_profile
    from neurodeploy.importers import load_network

    prof = load_profile("dynapse2")
    return deploy(load_network(ROOT / "examples/frozen_noise/model.json", profile=prof), prof).config


def four_chip_spec(n_pop: int = 13, size: int = 3, n_inputs: int = 8):
    """13 populations with different membrane leaks (so 13 cores, i.e. 4 chips), each feeding the next."""
    from neurodeploy.spec import spec_from_dict

    rng = np.random.default_rng(0)
    pops = [{"name": f"p{i}", "size": size, "Itau_mem": float(4e-12 * 1.6 ** i)} for i in range(n_pop)]
    projs = [{"source": "input", "target": "p0", "weight": rng.normal(0, 0.5, (n_inputs, size)).round(3).tolist()}]
    projs += [{"source": f"p{i}", "target": f"p{i + 1}", "weight": rng.normal(0, 0.5, (size, size)).round(3).tolist()}
              for i in range(n_pop - 1)]
    projs.append({"source": f"p{n_pop - 1}", "target": "p0", "weight": rng.normal(0, 0.5, (size, size)).round(3).tolist()})
    return spec_from_dict({"name": "four_chips", "dt": 1e-3, "n_inputs": n_inputs, "populations": pops, "projections": projs,
                           "outputs": [{"population": "p0"}, {"population": f"p{n_pop - 1}", "indices": [1, 2]}]})


@lru_cache(maxsize=None)
def four_chip_config():
    from neurodeploy.deploy import deploy
    from neurodeploy.profile import load_profile

    prof = load_profile("dynapse2")
    return deploy(four_chip_spec(), prof, chips=4).config
