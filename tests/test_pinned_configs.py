"""Configs byte-identical across refactors and machines: the sha256 of the config (and quantized network)
each small case of tests/pinning.py produces must equal the one pinned in tests/data/config_sha256.json
(the big bench networks are checked by ``python tools/pin_configs.py``; bit-reproducibility across CPUs:
tests/test_reproducible.py). A refactor must not change a pin. After an intended change of the configs,
re-pin with ``python tools/pin_configs.py --write`` and review the changed hashes with the change."""

import pytest

import pinning as pin


@pytest.mark.parametrize("name", list(pin.SMALL))
def test_config_sha256_pinned(name):
    assert pin.compute(name) == pin.pinned()[name]
