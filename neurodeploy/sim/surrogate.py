"""Spike function with a surrogate derivative.

Forward: the Heaviside step S(v) = 1 if v ≥ 0 else 0 (times the condition that the passage to
I_spkthr completes within the bin, see :mod:`neurodeploy.sim.simulate`), where v is the membrane's
distance to the spike onset I_b (where the positive feedback takes over, ~0.6·I_spkthr by default):
``v = (z − z_b)/(1 + w_b)`` with z = w + ln w, w = I_mem/I_gain (see :mod:`neurodeploy.sim.dpi`).
Near and above I_gain this is the relative current distance ``(I_mem − I_b)/I_b`` (−1 at rest, 0 at
the onset), so one slope suits every bias setting.

Backward (SuperSpike / fast-sigmoid surrogate, Zenke & Ganguli 2018):

    dS/dv ≈ 1 / (1 + β·|v|)²,   β = :data:`BETA` = 10

i.e. a bump of half-width ~0.1·I_spkthr around threshold that keeps a small gradient (~1/121) for a
neuron at rest, so silent neurons can still learn.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

BETA = 10.0


@jax.custom_jvp
def spike(v):
    """Heaviside step with the fast-sigmoid surrogate derivative (see module docstring)."""
    return (v >= 0).astype(v.dtype)


@spike.defjvp
def _spike_jvp(primals, tangents):
    (v,), (dv,) = primals, tangents
    return spike(v), dv / (1.0 + BETA * jnp.abs(v)) ** 2
