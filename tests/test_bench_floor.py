"""The HLO reader of the floor benchmark (tests/hlo_ops.py) counts the products and transcendental functions of a
compiled program, loops × trip count."""

import jax
import jax.numpy as jnp
from jax import lax

import hlo_ops


def _compiled_text(steps: int) -> str:
    def f(x, w):
        def step(c, _):
            q = c @ w                                   # one product per step
            return jnp.exp(q) * 0.5 + jnp.exp(-2.0 * c) * 0.25, None   # two exponentials per step
        out = lax.scan(step, x, None, length=steps)[0]
        return jnp.log(jnp.abs(out) + 1.0)              # one logarithm outside the loop
    x = jnp.ones((8, 16), jnp.float32)
    return jax.jit(f).lower(x, jnp.eye(16, dtype=jnp.float32)).compile().as_text()


def test_loop_operations_are_counted_times_the_trip_count():
    for steps in (7, 11):
        ops, dots = hlo_ops.count_ops(_compiled_text(steps))
        assert ops[("exponential", 128)] == 2 * steps
        assert ops[("log", 128)] == 1
        assert sum(dots.values()) == steps
        (lhs, rhs, dims), = dots
        assert hlo_ops._dims(lhs) == (8, 16) and hlo_ops._dims(rhs) == (16, 16)
        assert dict(dims)["lhs_contracting_dims"] == "1"


def test_the_floor_is_the_counted_work_timed():
    text = _compiled_text(5)
    cost = {("exponential", 128): 1e-9, ("log", 128): 2e-9}
    fl = hlo_ops.floor_of(text, lambda op, n: cost[(op, n)], lambda sig: 1e-6)
    assert abs(fl["transcendental"] - (10 * 128 * 1e-9 + 128 * 2e-9)) < 1e-15
    assert abs(fl["products"] - 5 * 1e-6) < 1e-15 and fl["divisions"] == 0.0     # one product per step, 5 steps
