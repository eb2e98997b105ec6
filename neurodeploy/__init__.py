"""neurodeploy: deploy trained spiking networks onto Dynap-SE2 (or its bit-accurate emulator).

The Python API (loaded on first use, so ``import neurodeploy`` stays light — no jax, no samna)::

    from neurodeploy import load_network, deploy, simulate, emulate, verify
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

_API = ("load_network", "deploy", "simulate", "emulate", "verify")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.api"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """The API functions ``deploy`` and ``verify`` share their names with submodules (neurodeploy/deploy.py,
    verify.py): importing those submodules must not rebind ``neurodeploy.deploy`` to the module."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and name in _API:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
