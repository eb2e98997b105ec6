"""A time loop whose gradient recomputes each step instead of storing its intermediates.

:func:`scan_remat` runs ``lax.scan`` forward and, in its custom VJP, keeps only the state of every step;
the backward pass recomputes one step at a time under ``jax.vjp``. Gradient memory is ∝ T × state, not
T × (every intermediate of a step), and the forward pass is the plain scan.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _is_float(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def scan_remat(step, consts, state, xs, hinted: bool = False):
    """``lax.scan(partial(step, consts), state, xs)`` with a checkpointing VJP (BPTT by recomputation).

    ``hinted``: the backward pass calls ``step(consts, carry, x, next_carry)`` with the carry the forward
    pass produced from ``carry``, so that the step can read from it what it need not recompute (values
    that carry no gradient); the step must then give the same outputs and gradients as without it.

    The forward pass is the plain scan. Its VJP stores only the carry at the start of every step
    ([T] × state) and, walking back in time, recomputes each step from it and pulls the cotangents
    through that one step (``jax.vjp``). Plain autodiff of a scan instead stores every intermediate
    of every step (dozens of [T, B, N] arrays: memory, and one dynamic-update-slice per intermediate
    per step, which dominated the gradient step); ``jax.checkpoint`` on the body does the same
    recomputation but slows the *forward* pass on CPU. Cotangents of the constants (parameters) are
    accumulated over the steps; integer and boolean constants get none (float0).
    """
    leaves, tree = jax.tree_util.tree_flatten(consts)
    is_f = [_is_float(a) for a in leaves]

    def merge(fl, other):
        fi, oi = iter(fl), iter(other)
        return jax.tree_util.tree_unflatten(tree, [next(fi) if f else next(oi) for f in is_f])

    def split(ls):
        return [a for a, f in zip(ls, is_f) if f], [a for a, f in zip(ls, is_f) if not f]

    @jax.custom_vjp
    def run(fl, other, state, xs):
        return lax.scan(partial(step, merge(fl, other)), state, xs)

    def fwd(fl, other, state, xs):
        c = merge(fl, other)

        def body(carry, x):
            new, out = step(c, carry, x)
            return new, (out, carry)

        final, (outs, carries) = lax.scan(body, state, xs)
        return (final, outs), (fl, other, carries, xs, final if hinted else None)

    def bwd(res, ct):
        fl, other, carries, xs, final = res
        ct_final, ct_outs = ct
        # the carry each step produced: the next step's, the final state for the last
        nexts = (jax.tree_util.tree_map(lambda c, f: jnp.concatenate([c[1:], f[None]]), carries, final)
                 if hinted else None)

        def body(acc, inp):
            ct_carry, ct_fl = acc
            carry, x, ct_out, nxt = inp
            more = (nxt,) if hinted else ()
            _, vjp = jax.vjp(lambda f, cr, xx: step(merge(f, other), cr, xx, *more), fl, carry, x)
            d_fl, d_carry, d_x = vjp((ct_carry, ct_out))
            return (d_carry, jax.tree_util.tree_map(jnp.add, ct_fl, d_fl)), d_x

        zero_fl = [jnp.zeros_like(a) for a in fl]
        (d_state, d_fl), d_xs = lax.scan(body, (ct_final, zero_fl), (carries, xs, ct_outs, nexts), reverse=True)
        d_other = [np.zeros(jnp.shape(a), jax.dtypes.float0) for a in other]
        return d_fl, d_other, d_state, d_xs

    run.defvjp(fwd, bwd)
    fl, other = split(leaves)
    return run(fl, other, state, xs)
