"""The simulator: one JAX model of Dynap-SE2's DPI neurons and synapses (see ``dpi.py`` for the equations).

- :mod:`.physics` — every circuit relation other stages need (τ, pulse widths, DC steady state, ...); no jax
- :mod:`.network` — :class:`SimNetwork` (a pytree), :func:`build_from_arrays`, :func:`build_from_spec`
- :mod:`.simulate` — :func:`simulate`, :class:`SimState`
- :mod:`.mismatch` — :func:`sample_mismatch` (multiplicative device-mismatch factors)
- :mod:`.delays` — per-entry synaptic delays (delayed, interpolated reads of recent events)
- :mod:`.params` — well-scaled trainable coordinates (log-currents, unitless weights)
- :mod:`.surrogate` — the spike function and its surrogate derivative
- :mod:`.files` — the ``neurodeploy simulate`` command's file handling

The names below load on first use (module ``__getattr__``): importing ``neurodeploy.sim.physics`` (the
profile, importers and quantizer do) does not import jax; ``from neurodeploy.sim import simulate`` does.
"""

from __future__ import annotations

import importlib
import sys
import types

_EXPORTS = {
    "feedback_constants": "dpi",
    "SimError": "errors",
    "apply_mismatch": "mismatch", "no_mismatch": "mismatch", "sample_mismatch": "mismatch",
    "sample_mismatch_stack": "mismatch",
    "CAPACITANCES": "network", "FLAGS": "network", "SimNetwork": "network", "SpecIndex": "network",
    "build_from_arrays": "network", "build_from_spec": "network", "default_params": "network",
    "Parametrization": "params",
    "RECORDED": "simulate", "SimState": "simulate", "initial_state": "simulate", "simulate": "simulate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """Keeps the function ``simulate`` as the package attribute when the submodule of that name is imported
    (the import system would otherwise bind ``neurodeploy.sim.simulate`` to the module)."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and name in _EXPORTS and _EXPORTS[name] == name:
            if name in self.__dict__:
                return
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
