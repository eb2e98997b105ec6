"""Device mismatch as an explicit input: a pytree of multiplicative factors.

Every bias current and capacitance of a neuron, and every synapse entry's weight (one CAM entry on
the chip), deviates from its nominal value by a factor

    m = 1 + σ·ξ,   ξ ~ N(0, 1),   σ a fraction (0.1 = 10 %)

with σ given as a fraction everywhere — the CLI's ``--mismatch``, training, the emulator and this API
(default 0.1: 30 % at 3σ, the usual modelling practice for Dynap-SE2), clipped at
:data:`MIN_FACTOR` so that no current or capacitance turns non-positive. A draw is frozen for a chip
(same key → identical factors) and re-drawn during training. The pytree is a plain dict::

    {"currents": {q: [N]}, "capacitances": {c: [N]}, "weight": [S]}

plus ``"delay": [S]`` for a network with synaptic delays (drawn from a stream of its own, so that
the other factors are those of the same network without delays), so ``jax.vmap`` over a stack of draws (leading axis) evaluates many chips in one call; see
:func:`sample_mismatch_stack`. The pulse extenders are modelled per neuron (I_pulse, C_pulse of the
target neuron), so their mismatch is per neuron too.

Two ways to draw, one convention: :func:`sample_mismatch` draws per network element (the float
model); :func:`sample_located_mismatch` draws per *physical location* — (seed, chip, core, neuron)
for a neuron's currents and capacitances, (seed, chip, core, neuron, CAM slot) for a weight — so a
location keeps its factor whatever else is configured (the emulator: mismatch belongs to the silicon).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

import jax
import jax.numpy as jnp

from ..device.profile import NEURON_QUANTITIES
from .errors import SimError
from .network import CAPACITANCES, DTYPE, SimNetwork

#: Lower clip of a mismatch factor (keeps every current and capacitance positive).
MIN_FACTOR = 0.05
#: fold_in constant of the delay factors' random stream (kept apart from the other factors' stream).
DELAY_STREAM = 0x0DE1A7


def no_mismatch(net: SimNetwork) -> dict:
    """The identity draw (all factors 1)."""
    n, s = net.n_neurons, net.n_synapses
    out = {"currents": {q: jnp.ones(n, DTYPE) for q in NEURON_QUANTITIES},
           "capacitances": {c: jnp.ones(n, DTYPE) for c in CAPACITANCES},
           "weight": jnp.ones(s, DTYPE)}
    if net.delay is not None:
        out["delay"] = jnp.ones(s, DTYPE)
    return out


@partial(jax.jit, static_argnames=("s",))
def _draw_delay(key, sigma, s: int):
    """Per-entry delay factors 1 + σ·N(0,1) (clipped ≥ MIN_FACTOR), from the key's delay stream."""
    xi = jax.random.normal(jax.random.fold_in(key, DELAY_STREAM), (s,), DTYPE)
    return jnp.maximum(1.0 + sigma * xi, MIN_FACTOR)


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


def resolve_sigma(sigma: float) -> float:
    """σ as a fraction (≥ 0, finite; 0.1 = 10 %)."""
    if not (np.isfinite(sigma) and sigma >= 0):
        raise SimError(f"mismatch: sigma must be a finite fraction >= 0 (0.1 = 10 %), got {sigma}")
    return float(sigma)


def sample_mismatch(net: SimNetwork, key, sigma: float = 0.1) -> dict:
    """One chip's mismatch: factors 1 + σ·N(0,1) (clipped ≥ MIN_FACTOR) per neuron for every bias
    current and capacitance, per synapse entry for the weight. ``key`` is a ``jax.random`` key
    (or an int seed); ``sigma`` a fraction. Deterministic: the same key gives identical draws."""
    s = resolve_sigma(sigma)
    out = _draw(_key(key), jnp.asarray(s, DTYPE), net.n_neurons, net.n_synapses)
    if net.delay is not None:
        out["delay"] = _draw_delay(_key(key), jnp.asarray(s, DTYPE), net.n_synapses)
    return out


def sample_mismatch_stack(net: SimNetwork, key, n_draws: int, sigma: float = 0.1) -> dict:
    """``n_draws`` independent chips stacked on a leading axis (for ``jax.vmap``); draw i equals
    ``sample_mismatch(net, jax.random.split(key, n_draws)[i], sigma)``."""
    s = jnp.asarray(resolve_sigma(sigma), DTYPE)
    keys = jax.random.split(_key(key), n_draws)
    out = jax.vmap(_draw, in_axes=(0, None, None, None))(keys, s, net.n_neurons, net.n_synapses)
    if net.delay is not None:
        out["delay"] = jax.vmap(_draw_delay, in_axes=(0, None, None))(keys, s, net.n_synapses)
    return out


@dataclass(frozen=True)
class Locations:
    """Physical locations of a network's neurons and synapse entries, for per-location draws.

    Chips are numbered by id (``chip_ids``); ``neuron_chip`` / ``entry_chip`` index into ``chip_ids``;
    ``neuron_site`` is core·neurons_per_core + neuron, ``entry_site`` is (core·neurons_per_core + neuron)·slots + slot.
    """

    chip_ids: tuple[int, ...]
    neuron_chip: np.ndarray      # [N]
    neuron_site: np.ndarray      # [N]
    entry_chip: np.ndarray       # [S]
    entry_site: np.ndarray       # [S]
    sites_per_chip: int          # cores · neurons per core
    entries_per_chip: int        # sites_per_chip · CAM slots
    delays: bool = False         # the network has synaptic delays: draw a delay factor per CAM entry too


def sample_located_mismatch(loc: Locations, key, *, sigma: float, trials: int | None = None) -> dict:
    """Mismatch factors 1 + σ·N(0,1) (clipped ≥ MIN_FACTOR) drawn per physical location: chip c's
    key is fold_in(key, c); each quantity's factors over all of that chip's sites (or CAM entries) come
    from one split of it, so a location's factor depends only on (key, chip, location). ``key`` is a
    ``jax.random`` key or an int seed; ``trials`` stacks independent boards (keys split from ``key``)."""
    s = resolve_sigma(sigma)
    names = list(NEURON_QUANTITIES) + list(CAPACITANCES)
    neuron_chip, neuron_site = jnp.asarray(loc.neuron_chip, jnp.int32), jnp.asarray(loc.neuron_site)
    entry_chip, entry_site = jnp.asarray(loc.entry_chip, jnp.int32), jnp.asarray(loc.entry_site)

    def one(k):
        keys = [jax.random.split(jax.random.fold_in(k, int(c)), len(names) + 1) for c in loc.chip_ids]

        def factors(i, size):
            return jnp.stack([jnp.maximum(1 + s * jax.random.normal(ks[i], (size,)), MIN_FACTOR)
                              for ks in keys]) if keys else jnp.ones((0, size))
        cur, cap = {}, {}
        for i, name in enumerate(names):
            f = factors(i, loc.sites_per_chip)[neuron_chip, neuron_site]
            (cur if name in NEURON_QUANTITIES else cap)[name] = f.astype(DTYPE)
        w = factors(len(names), loc.entries_per_chip)[entry_chip, entry_site].astype(DTYPE)
        out = {"currents": cur, "capacitances": cap, "weight": w}
        if loc.delays:      # a stream of its own per chip: the other factors stay those of a delay-free board
            dkeys = [jax.random.fold_in(jax.random.fold_in(k, DELAY_STREAM), int(c)) for c in loc.chip_ids]
            f = (jnp.stack([jnp.maximum(1 + s * jax.random.normal(dk, (loc.entries_per_chip,)), MIN_FACTOR) for dk in dkeys])
                 if dkeys else jnp.ones((0, loc.entries_per_chip)))
            out["delay"] = f[entry_chip, entry_site].astype(DTYPE)
        return out

    if trials is None:
        return one(_key(key))
    return jax.vmap(one)(jax.random.split(_key(key), trials))


def mismatched_delay(net: SimNetwork, mismatch: dict | None):
    """The entries' delays (s) under the draw: d·max(1 + spread·(m − 1), MIN_FACTOR), m the entry's
    factor and spread its relative σ (:attr:`SimNetwork.delay_spread`); None without delays."""
    if net.delay is None:
        return None
    if mismatch is None or "delay" not in mismatch:
        return net.delay
    return net.delay * jnp.maximum(1.0 + net.delay_spread * (mismatch["delay"] - 1.0), MIN_FACTOR)


def apply_mismatch(net: SimNetwork, mismatch: dict | None) -> tuple[dict, dict, jax.Array]:
    """(currents, capacitances, weight) of ``net`` multiplied by the draw's factors."""
    if mismatch is None:
        return dict(net.currents), dict(net.capacitances), net.weight
    cur = {q: net.currents[q] * mismatch["currents"][q] for q in NEURON_QUANTITIES}
    cap = {c: net.capacitances[c] * mismatch["capacitances"][c] for c in CAPACITANCES}
    return cur, cap, net.weight * mismatch["weight"]
