"""Configs byte-identical across refactors and machines: the sha256 pinned in tests/data/config_sha256.json
(first computed before issue 9's refactor; re-pinned when the quantize stage was made bit-reproducible
across CPUs, see tests/test_reproducible.py; the big bench networks are checked by tools/pin_configs.py)."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("pin_configs", Path(__file__).resolve().parents[1] / "tools" / "pin_configs.py")
pin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pin)


@pytest.mark.parametrize("name", list(pin.SMALL))
def test_config_sha256_pinned(name):
    assert pin.compute(name) == pin.pinned()[name]
