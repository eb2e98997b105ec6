"""The float network's chips for ``neurodeploy verify``: draw 0 the nominal chip, draws 1..n mismatched, run in units
of :data:`DRAWS_PER_UNIT` draws on an engine (:mod:`neurodeploy.study.engines`: in this process, or as Ray tasks).

Draw d ≥ 1 is ``sample_mismatch(net, jax.random.split(PRNGKey(seed + 1), n)[d − 1], σ)``
(:func:`neurodeploy.sim.sample_mismatch_stack`), drawn here, in the calling process, whatever engine runs it. A unit
is the draws [u·U, (u+1)·U), U = :data:`DRAWS_PER_UNIT`, run in one vmapped call of exactly U chips (a short last
unit is filled up with nominal chips whose outputs are dropped). The shape is fixed because XLA's code for a vmapped
call depends on how many chips it holds: the same chip in a batch of 7 and of 9 can differ in the last bit of its
currents (A), and so, rarely, in a spike. With one shape for every unit, on every engine and for every ``--unit-size``
(which sizes the boards' units only), the float network's counts — and the report — are the same bytes.
"""

from __future__ import annotations

import numpy as np

#: Chips per vmapped call of the float network (every unit has this shape; see the module doc).
DRAWS_PER_UNIT = 8


def float_draws(network, profile, n_mm: int, sigma: float, seed: int, precise_timing: bool = False) -> dict:
    """The mismatch factors of draws 0..n_mm, stacked on a leading axis (numpy arrays, a pytree as
    :func:`neurodeploy.sim.no_mismatch` returns): draw 0 all ones, draws 1.. from PRNGKey(seed + 1) (module doc)."""
    import jax
    import jax.numpy as jnp

    from ..sim import build_from_network, no_mismatch, sample_mismatch_stack

    net, _ = build_from_network(network, profile, precise_timing=precise_timing)
    draws = jax.tree_util.tree_map(lambda a: a[None], no_mismatch(net))
    if n_mm:
        more = sample_mismatch_stack(net, jax.random.PRNGKey(seed + 1), n_mm, sigma=sigma)
        draws = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), draws, more)
    return jax.tree_util.tree_map(np.asarray, draws)


def draw_units(draws: dict) -> dict:
    """Unit u → the factors of its draws [u·U, (u+1)·U) (the last unit may be short)."""
    import jax

    n = len(jax.tree_util.tree_leaves(draws)[0])
    return {u: jax.tree_util.tree_map(lambda a, lo=lo: a[lo:lo + DRAWS_PER_UNIT], draws)
            for u, lo in enumerate(range(0, n, DRAWS_PER_UNIT))}


def run_float_unit(network, profile, x: np.ndarray, dt: float, window, factors: dict,
                   precise_timing: bool = False, lateness=None) -> tuple[np.ndarray, np.ndarray]:
    """``(counts [k, samples, n_out], raster [T, n_out])``: the output spike counts over ``window`` (start, stop
    steps) of the float network on the k chips of ``factors`` (k ≤ :data:`DRAWS_PER_UNIT`, run as one call of
    exactly that many chips), and the output raster of the unit's first chip on the first sample.
    ``precise_timing``: with precise spike timing (eqs. (P1)–(P4) of :mod:`neurodeploy.sim.model`); ``lateness``
    (with it): the inputs' lateness, x's shape (:meth:`~neurodeploy.input_times.SpikeTimes.timed`)."""
    import jax
    import jax.numpy as jnp

    from ..sim import build_from_network, simulate_draws

    net, _ = build_from_network(network, profile, precise_timing=precise_timing)
    k = len(jax.tree_util.tree_leaves(factors)[0])
    full = jax.tree_util.tree_map(
        lambda a: np.concatenate([np.asarray(a), np.ones((DRAWS_PER_UNIT - k,) + a.shape[1:], a.dtype)]), factors)
    late = None if lateness is None else jnp.asarray(lateness, jnp.float32)
    spikes = np.asarray(simulate_draws(net, x, full, dt=dt, input_lateness=late, neurons=network.output_indices()))[:k]
    w0, w1 = window
    return spikes[:, :, w0:w1].sum(axis=2), spikes[0, 0]


def float_counts(engine, network, profile, x: np.ndarray, dt: float, window, n_mm: int, sigma: float, seed: int,
                 precise_timing: bool = False, lateness=None) -> tuple[np.ndarray, np.ndarray]:
    """``(counts [1 + n_mm, samples, n_out], raster [T, n_out])``: the float network's output counts over ``window``
    on the nominal chip (draw 0) and ``n_mm`` mismatched ones, computed in units on ``engine`` (module doc), put
    back in draw order whatever order the units finish in; and the nominal chip's output raster of the first
    sample. ``lateness``: the inputs' lateness (precise timing, :meth:`~neurodeploy.input_times.SpikeTimes.timed`)."""
    from ..log import stage

    units = draw_units(float_draws(network, profile, n_mm, sigma, seed, precise_timing))
    with stage(f"float network: {n_mm + 1} chip(s) x {x.shape[0]} sample(s), {len(units)} unit(s) of "
               f"{DRAWS_PER_UNIT} on the {getattr(engine, 'name', 'given')} engine"):
        timed = {} if lateness is None else {"lateness": lateness}
        done = dict(engine.map_float_units(network, profile, x, dt, tuple(window), units,
                                           precise_timing=precise_timing, **timed))
    return np.concatenate([done[u][0] for u in sorted(units)]), done[0][1]
