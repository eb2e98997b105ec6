"""Materialisation points for XLA's CPU fusion: ``stored(values, one)``.

XLA fuses a step's elementwise arithmetic into loops ("fusions"). A *cheap* producer (add, multiply,
select, …) with several consumers is duplicated into every consumer's fusion; an *expensive* one (exp,
log, divide, …) is computed once and stored. In the simulator's step every transcendental starts a
fusion, and each of them recomputed the whole cheap chain before it from the state (the synapses'
means, the input current, the leak, the Rosenbrock step …): the compiled step of N = 256, batch 32
held 1038 arithmetic operations per neuron where the source has about 300 (counted in the optimised HLO).
``lax.optimization_barrier`` does not help: XLA's CPU pipeline expands it before fusion.

``stored(x, one) = x / one`` with ``one`` an array of ones that XLA cannot constant-fold (built from
the state, :func:`ones_like_state`). x/1 = x exactly in IEEE 754, so the results do not change by a
bit; the division costs ~0.15 ns per element, and XLA, which counts a division as expensive, then
computes x once and stores it. The gradient is unchanged too (∂(x/1)/∂x = 1; ``one`` carries none).

Measured (``tools/bench_sim.py`` on 2 CPU cores, minimum of 9 calls): with the points
of :func:`.model.step`, ~530 arithmetic operations per neuron instead of 1038 in the compiled forward step;
the N = 64 batch-32 training step 284 → 100 ms; the N = 256 batch-32 forward ~470 → ~340 µs per step;
N = 1024 at batch 1 341 → 156 µs per step. The points were chosen by A/B timing: storing the surrogate's
argument as well made training slower.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def ones_like_state(t_refr):
    """Ones of ``t_refr``'s shape, 1 + 0·|t_refr| (exact for the finite refractory times of the state):
    from the loop's carry, so that no simplification pass can replace the division by 1 with nothing."""
    return lax.stop_gradient(1.0 + 0.0 * jnp.abs(t_refr))


def stored(values, one):
    """Every float array of ``values`` (a pytree) with ``one``'s shape divided by ``one``: the same values,
    stored once instead of recomputed in every fusion that reads them (module docstring)."""
    def one_of(a):
        return a / one if jnp.shape(a) == one.shape and jnp.issubdtype(jnp.result_type(a), jnp.floating) else a
    return jax.tree_util.tree_map(one_of, values)
