"""The simulator: one JAX model of Dynap-SE2's DPI neurons and synapses, and an engine that runs it fast.

The model (the physics):

- :mod:`.dpi` — the circuit equations (SI units) as pure functions
- :mod:`.model` — :class:`SimState`, the per-call circuit constants (``Circuit``) and ``step(circuit,
  state, charge)``: one bin, written as the equations read
- :mod:`.surrogate` — the spike function and its surrogate derivative

The engine (how it runs; same numbers):

- :mod:`.simulate` — :func:`simulate`, the entry point; :func:`simulate_draws`, many mismatch draws at once
- :mod:`.engine` — weight layouts, the choice of charge path, the fusion marks and the recomputing gradient
- :mod:`.charge` — the evaluations of the synaptic charge; :mod:`.fusion`, :mod:`.remat`
- :mod:`.reference` — the plain reference loop every engine path is tested against
- :mod:`.compiler` — :data:`COMPILER_OPTIONS` and :func:`compiler_options`, the XLA options of its compiled programs
  (also for a jit of your own)

The network and its variations:

- :mod:`.network` — :class:`SimNetwork` (a pytree), :func:`build_from_arrays`, :func:`build_from_network`
- :mod:`.mismatch` — :func:`sample_mismatch` (multiplicative device-mismatch factors)
- :mod:`.delays` — per-entry synaptic delays (delayed, interpolated reads of recent events)
- :mod:`.timed_inputs` — :func:`bin_events`: timestamped input events → counts per step and their lateness
  (precise spike timing)
- :mod:`.params` — well-scaled trainable coordinates (log-currents, unitless weights)

The circuit relations other stages need (τ, pulse widths, DC steady state, ...) live in
:mod:`neurodeploy.device.physics`, without jax. The names below load on first use (module ``__getattr__``):
importing ``neurodeploy.sim`` does not import jax; ``from neurodeploy.sim import simulate`` does.
"""

from __future__ import annotations

from ..lazy import lazy_exports

__all__ = lazy_exports(__name__, {
    "COMPILER_OPTIONS": "compiler", "compiler_options": "compiler",
    "feedback_constants": "dpi",
    "SimError": "errors",
    "apply_mismatch": "mismatch", "no_mismatch": "mismatch", "sample_mismatch": "mismatch",
    "sample_mismatch_stack": "mismatch",
    "CAPACITANCES": "network", "FLAGS": "network", "SimNetwork": "network", "NetworkIndex": "network",
    "build_from_arrays": "network", "build_from_network": "network", "default_params": "network",
    "Parametrization": "params",
    "bin_events": "timed_inputs",
    "RECORDED": "model", "RECORDED_TIMING": "model", "SimState": "model", "initial_state": "model",
    "simulate": "simulate", "simulate_draws": "simulate",
})
