"""The simulator: one JAX model of Dynap-SE2's DPI neurons and synapses (see ``dpi.py`` for the equations).

- :mod:`.network` — :class:`SimNetwork` (a pytree), :func:`build_from_arrays`, :func:`build_from_spec`
- :mod:`.simulate` — :func:`simulate`, :class:`SimState`
- :mod:`.mismatch` — :func:`sample_mismatch` (multiplicative device-mismatch factors)
- :mod:`.params` — well-scaled trainable coordinates (log-currents, unitless weights)
- :mod:`.surrogate` — the spike function and its surrogate derivative
- :mod:`.run` — the ``neurodeploy simulate`` command's file handling

Importing this package imports jax; CLI commands import it lazily.
"""

from .dpi import feedback_constants
from .errors import SimError
from .mismatch import apply_mismatch, no_mismatch, sample_mismatch, sample_mismatch_stack
from .network import CAPACITANCES, FLAGS, SimNetwork, SpecIndex, build_from_arrays, build_from_spec, default_params
from .params import Parametrization
from .simulate import RECORDED, SimState, initial_state, simulate

__all__ = [
    "CAPACITANCES", "FLAGS", "RECORDED", "Parametrization", "SimError", "SimNetwork", "SimState",
    "SpecIndex", "apply_mismatch", "build_from_arrays", "build_from_spec", "default_params", "feedback_constants", "initial_state",
    "no_mismatch", "sample_mismatch", "sample_mismatch_stack", "simulate",
]
