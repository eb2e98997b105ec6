"""Device mismatch as an explicit input: a pytree of multiplicative factors.

Every bias current and capacitance of a neuron, and every synapse entry's weight (one CAM entry on
the chip), deviates from its nominal value by a factor

    m = 1 + σ·ξ,   ξ ~ N(0, 1),   σ = percent / 100 / sigma_rule

(default 30 % at 3σ, i.e. σ = 10 %, the usual modelling practice for Dynap-SE2), clipped at
:data:`MIN_FACTOR` so that no current or capacitance turns non-positive. A draw is frozen for a chip
(same key → identical factors) and re-drawn during training. The pytree is a plain dict::

    {"currents": {q: [N]}, "capacitances": {c: [N]}, "weight": [S]}

so ``jax.vmap`` over a stack of draws (leading axis) evaluates many chips in one call; see
:func:`sample_mismatch_stack`. The pulse extenders are modelled per neuron (I_pulse, C_pulse of the
target neuron), so their mismatch is per neuron too.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ..profile import NEURON_QUANTITIES
from .errors import SimError
from .network import CAPACITANCES, DTYPE, SimNetwork

#: Lower clip of a mismatch factor (keeps every current and capacitance positive).
MIN_FACTOR = 0.05


def sigma_of(percent: float, sigma_rule: float) -> float:
    """σ = percent/100/sigma_rule (e.g. 30 % at 3σ → 0.1)."""
    if not (percent >= 0 and sigma_rule > 0):
        raise SimError(f"mismatch: percent must be >= 0 and sigma_rule > 0, got percent={percent}, sigma_rule={sigma_rule}")
    return percent / 100.0 / sigma_rule


def no_mismatch(net: SimNetwork) -> dict:
    """The identity draw (all factors 1)."""
    n, s = net.n_neurons, net.n_synapses
    return {"currents": {q: jnp.ones(n, DTYPE) for q in NEURON_QUANTITIES},
            "capacitances": {c: jnp.ones(n, DTYPE) for c in CAPACITANCES},
            "weight": jnp.ones(s, DTYPE)}


@partial(jax.jit, static_argnames=("n", "s"))
def _draw(key, sigma, n: int, s: int) -> dict:
    """One normal vector for the whole chip (one RNG kernel), cut into the per-quantity factors."""
    names = [("currents", q) for q in NEURON_QUANTITIES] + [("capacitances", c) for c in CAPACITANCES]
    xi = jax.random.normal(key, (len(names) * n + s,), DTYPE)
    f = jnp.maximum(1.0 + sigma * xi, MIN_FACTOR)
    out: dict = {"currents": {}, "capacitances": {}}
    for i, (group, name) in enumerate(names):
        out[group][name] = f[i * n:(i + 1) * n]
    out["weight"] = f[len(names) * n:]
    return out


def _key(key):
    return jax.random.PRNGKey(key) if isinstance(key, int) else key


def sample_mismatch(net: SimNetwork, key, percent: float = 30.0, sigma_rule: float = 3.0) -> dict:
    """One chip's mismatch: factors 1 + σ·N(0,1) (clipped ≥ MIN_FACTOR) per neuron for every bias
    current and capacitance, per synapse entry for the weight. ``key`` is a ``jax.random`` key
    (or an int seed). Deterministic: the same key gives identical draws."""
    sigma = sigma_of(percent, sigma_rule)
    return _draw(_key(key), jnp.asarray(sigma, DTYPE), net.n_neurons, net.n_synapses)


def sample_mismatch_stack(net: SimNetwork, key, n_draws: int, percent: float = 30.0, sigma_rule: float = 3.0) -> dict:
    """``n_draws`` independent chips stacked on a leading axis (for ``jax.vmap``); draw i equals
    ``sample_mismatch(net, jax.random.split(key, n_draws)[i], ...)``."""
    sigma = jnp.asarray(sigma_of(percent, sigma_rule), DTYPE)
    keys = jax.random.split(_key(key), n_draws)
    return jax.vmap(_draw, in_axes=(0, None, None, None))(keys, sigma, net.n_neurons, net.n_synapses)


def apply_mismatch(net: SimNetwork, mismatch: dict | None) -> tuple[dict, dict, jax.Array]:
    """(currents, capacitances, weight) of ``net`` multiplied by the draw's factors."""
    if mismatch is None:
        return dict(net.currents), dict(net.capacitances), net.weight
    cur = {q: net.currents[q] * mismatch["currents"][q] for q in NEURON_QUANTITIES}
    cap = {c: net.capacitances[c] * mismatch["capacitances"][c] for c in CAPACITANCES}
    return cur, cap, net.weight * mismatch["weight"]
