"""Built-in tasks, one module each (numpy only). ``BUILTIN[name](**options)`` builds a task."""

from __future__ import annotations

from importlib import import_module

_MODULES = {"frozen-noise": ("frozen_noise", "FrozenNoise"),
            "temporal-xor": ("temporal_xor", "TemporalXor"),
            "digits": ("digits", "Digits")}


def _factory(name: str):
    module, cls = _MODULES[name]

    def make(**options):
        return getattr(import_module(f"{__name__}.{module}"), cls)(**options)

    make.__name__ = cls
    return make


BUILTIN = {name: _factory(name) for name in _MODULES}
