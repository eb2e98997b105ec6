"""The simulator: one JAX model of Dynap-SE2's DPI neurons and synapses (see ``dpi.py`` for the equations).

- :mod:`.network` — :class:`SimNetwork` (a pytree), :func:`build_from_arrays`, :func:`build_from_spec`
- :mod:`.simulate` — :func:`simulate`, :class:`SimState`
- :mod:`.mismatch` — :func:`sample_mismatch` (multiplicative device-mismatch factors)
- :mod:`.delays` — per-entry synaptic delays (delayed, interpolated reads of recent events)
- :mod:`.params` — well-scaled trainable coordinates (log-currents, unitless weights)
- :mod:`.surrogate` — the spike function and its surrogate derivative

The circuit relations other stages need (τ, pulse widths, DC steady state, ...) live in
:mod:`neurodeploy.device.physics`, without jax. The names below load on first use (module ``__getattr__``):
importing ``neurodeploy.sim`` does not import jax; ``from neurodeploy.sim import simulate`` does.
"""

from __future__ import annotations

from ..lazy import lazy_exports

__all__ = lazy_exports(__name__, {
    "feedback_constants": "dpi",
    "SimError": "errors",
    "apply_mismatch": "mismatch", "no_mismatch": "mismatch", "sample_mismatch": "mismatch",
    "sample_mismatch_stack": "mismatch",
    "CAPACITANCES": "network", "FLAGS": "network", "SimNetwork": "network", "SpecIndex": "network",
    "build_from_arrays": "network", "build_from_spec": "network", "default_params": "network",
    "Parametrization": "params",
    "RECORDED": "simulate", "SimState": "simulate", "initial_state": "simulate", "simulate": "simulate",
})
