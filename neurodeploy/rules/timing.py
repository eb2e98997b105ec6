"""The ``time-scale`` rule: an imported network's rates and time constants against what the chip's neurons follow.

The import records what the source network demands (``metadata["import"]["timing"]``: each neuron's peak rate, the
fastest source feeding it, its time constants); the rule compares them with the chip's refractory period, synaptic
pulse width and DPI time constants (:mod:`neurodeploy.importers.nir.time_scale` has the equations) and names, per
layer, the neurons the chip cannot follow and the ``-O time_scale=K`` that fits. A finding, not an error: the
network still maps (``validate`` lists it as a warning; the import warns with the same lines). Networks without
that record (trained ones, ``neurodeploy export`` files re-imported) have nothing to check.
"""

from __future__ import annotations

from .network import NetworkFacts
from .registry import rule


@rule("time-scale", "network", "an imported network's peak rates and time constants are ones the chip's neurons "
      "follow (refractory period, synaptic pulse width, DPI time constants); else import with -O time_scale=K",
      warning=True)
def time_scale(f: NetworkFacts) -> list[str]:
    from ..importers.nir.time_scale import findings

    return [m for _, m in findings(f.network, f.profile)]
