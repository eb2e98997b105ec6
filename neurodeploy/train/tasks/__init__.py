"""Built-in tasks, one module each (numpy only). ``BUILTIN[name](**options)`` builds a task."""

from __future__ import annotations

import inspect
from importlib import import_module

_MODULES = {"frozen-noise": ("frozen_noise", "FrozenNoise"),
            "temporal-xor": ("temporal_xor", "TemporalXor"),
            "digits": ("digits", "Digits"),
            "coincidence": ("coincidence", "Coincidence")}


def _factory(name: str):
    module, cls = _MODULES[name]

    def make(**options):
        from ..task import TrainError

        klass = getattr(import_module(f"{__name__}.{module}"), cls)
        known = list(inspect.signature(klass).parameters)
        unknown = [k for k in options if k not in known]
        if unknown:
            raise TrainError(f"task {name}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                             f"(options: {', '.join(known)})")
        return klass(**options)

    make.__name__ = cls
    return make


BUILTIN = {name: _factory(name) for name in _MODULES}
