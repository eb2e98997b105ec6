"""Spike function with a surrogate derivative.

Forward: the Heaviside step S(v) = 1 if v ≥ 0 else 0 (times the condition that the passage to
I_spkthr completes within the bin, see :mod:`neurodeploy.sim.model`), where v is the membrane's
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


#: Slope of the input floor's surrogate derivative below the floor (see :func:`floor`).
FLOOR_LEAK = 0.1


@jax.custom_jvp
def floor(x, lo):
    """``max(x, lo)`` (the membrane's input floor I_0: a circuit node carries no negative current)
    with a *leaky* surrogate derivative in x: 1 above the floor, :data:`FLOOR_LEAK` below it.

    Forward it is exactly the clip. Backward, a neuron whose net input is inhibitory
    (I_ampa + g·I_nmda − I_gaba + I_dc < I_0) would otherwise get exactly zero gradient through its
    input and could never recover during training (the same reason the spike has a surrogate);
    with the leak, excitation that would help and inhibition that hurts still receive a gradient,
    scaled down by FLOOR_LEAK (a leaky-ReLU derivative). ``lo`` is a constant (no tangent)."""
    return jnp.maximum(x, lo)


@floor.defjvp
def _floor_jvp(primals, tangents):
    (x, lo), (dx, _) = primals, tangents
    return floor(x, lo), dx * jnp.where(x >= lo, 1.0, FLOOR_LEAK).astype(dx.dtype)
