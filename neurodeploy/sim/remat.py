"""A time loop whose gradient recomputes each step instead of storing its intermediates.

:func:`scan_remat` runs ``lax.scan`` forward and, in its custom VJP, keeps only the state of every step;
the backward pass recomputes one step at a time under ``jax.vjp``. Gradient memory is ∝ T × state, not
T × (every intermediate of a step), and the forward pass is the plain scan.

Only what is differentiated is differentiated (``symbolic_zeros``): a step's VJP is taken with respect to
the float constants that depend on what is trained (JAX's ``perturbed``) and to ``xs`` only when they do;
the others are closed over and get no cotangent, nor do integer and boolean constants. (Measured: no
change in the benchmark's training steps — XLA had already removed the unused cotangents — but it no
longer relies on that.)
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import CustomVJPPrimal, SymbolicZero


def _is_float(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _primal(tree):
    """(values, perturbed flags) of a pytree of ``CustomVJPPrimal`` leaves."""
    leaves, td = jax.tree_util.tree_flatten(tree, is_leaf=lambda p: isinstance(p, CustomVJPPrimal))
    return jax.tree_util.tree_unflatten(td, [p.value for p in leaves]), [p.perturbed for p in leaves]


def _instantiate(ct):
    """``ct`` with every symbolic zero (an output no loss reads) made an array of zeros."""
    return jax.tree_util.tree_map(lambda c: jnp.zeros(c.shape, c.dtype) if isinstance(c, SymbolicZero) else c,
                                  ct, is_leaf=lambda c: isinstance(c, SymbolicZero))


def _fill(base, pert, values):
    """``base`` with its entries where ``pert`` is true replaced, in order, by ``values``."""
    it = iter(values)
    return [next(it) if p else a for a, p in zip(base, pert)]


def scan_remat(step, consts, state, xs, plain=None):
    """``lax.scan(partial(step, consts), state, xs)`` with a checkpointing VJP (BPTT by recomputation).

    The backward pass calls ``step(consts, carry, x, next_carry)`` with the carry the forward
    pass produced from ``carry``, so that the step can read from it what it need not recompute (values
    that carry no gradient); the step must then give the same outputs and gradients as without it.
    ``plain``: a function (consts, state, xs) → (final, outs) with the scan's results, run instead of it
    where nothing is differentiated (a forward formulation that is faster but not for the gradient).

    The forward pass is the plain scan. Its VJP stores only the carry at the start of every step
    ([T] × state) and, walking back in time, recomputes each step from it and pulls the cotangents
    through that one step (``jax.vjp``). Plain autodiff of a scan instead stores every intermediate
    of every step (dozens of [T, B, N] arrays: memory, and one dynamic-update-slice per intermediate
    per step, which dominated the gradient step); ``jax.checkpoint`` on the body does the same
    recomputation but slows the *forward* pass on CPU.

    Only what is differentiated is differentiated (module docstring).
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
        if plain is not None:
            return plain(merge(fl, other), state, xs)
        return lax.scan(partial(step, merge(fl, other)), state, xs)

    def fwd(fl, other, state, xs):
        (fl, fl_p), (other, _), (state, _), (xs, xs_p) = _primal(fl), _primal(other), _primal(state), _primal(xs)
        c = merge(fl, other)

        def body(carry, x):
            new, out = step(c, carry, x)
            return new, (out, carry)

        final, (outs, carries) = lax.scan(body, state, xs)
        # what is differentiated, as the residuals' static structure: () where perturbed, None where not
        mask = (tuple(() if p else None for p in fl_p), () if any(xs_p) else None)
        return (final, outs), (fl, other, carries, xs, final, mask)

    def bwd(res, ct):
        fl, other, carries, xs, final, (fl_mask, xs_mask) = res
        d_x_too = xs_mask is not None
        pert = [m is not None for m in fl_mask]
        fl_var = [a for a, p in zip(fl, pert) if p]
        ct_final, ct_outs = _instantiate(ct)
        # the carry each step produced: the next step's, the final state for the last
        nexts = jax.tree_util.tree_map(lambda c, f: jnp.concatenate([c[1:], f[None]]), carries, final)

        def full(var):     # the constants, the differentiated ones from ``var``
            return _fill(fl, pert, var)

        def body(acc, inp):
            ct_carry, ct_var = acc
            carry, x, ct_out, nxt = inp
            if d_x_too:
                _, vjp = jax.vjp(lambda f, cr, xx: step(merge(full(f), other), cr, xx, nxt), fl_var, carry, x)
                d_var, d_carry, d_x = vjp((ct_carry, ct_out))
            else:
                _, vjp = jax.vjp(lambda f, cr: step(merge(full(f), other), cr, x, nxt), fl_var, carry)
                (d_var, d_carry), d_x = vjp((ct_carry, ct_out)), None
            return (d_carry, jax.tree_util.tree_map(jnp.add, ct_var, d_var)), d_x

        zero_var = [jnp.zeros_like(a) for a in fl_var]
        (d_state, d_var), d_xs = lax.scan(body, (ct_final, zero_var), (carries, xs, ct_outs, nexts), reverse=True)
        return _fill([None] * len(fl), pert, d_var), [None] * len(other), d_state, d_xs

    run.defvjp(fwd, bwd, symbolic_zeros=True)
    fl, other = split(leaves)
    return run(fl, other, state, xs)
