"""XLA compile options for the simulator's programs: :data:`COMPILER_OPTIONS` and :func:`jit`.

A simulation step is a chain of a few dozen elementwise loops ("fusions") over the neurons, and the long ones
evaluate several transcendental functions and divisions one after the other on each element (the rate of
eq. (7) and the passage quadrature of :func:`.dpi.region_passage`: a logistic, then two divisions, per node).
XLA's CPU backend compiles each fusion into one loop that processes one vector register of elements per
iteration, 256 bits (8 float32) by default. Such a loop is bound by the *latency* of its dependency chain, not
by the processor's throughput: the out-of-order core holds only two or three iterations of a ~100-instruction
body, so a chain of nine exponentials on 2²⁰ elements costs ~4× nine single ones. With
``xla_cpu_prefer_vector_width = 512`` every iteration carries 16 elements through the same chain (on CPUs with
AVX-512; elsewhere LLVM keeps the widest vectors the CPU has), which halves the iterations of a latency-bound
loop.

The results do not change by a bit: every element still goes through the same arithmetic in the same order
(elementwise loops), and the reductions of a step (the loss, the gradient's sums) keep their order (compared
on the benchmark's rows, forward and training step: tests/test_sim_compiler.py checks forward runs and a
gradient). Measured: docs/performance.md ("Wider vectors").

The options apply to the program a ``jax.jit`` compiles at the outermost level: :func:`neurodeploy.sim.simulate`
under the user's own ``jax.jit`` is compiled with that jit's options, so a training step written by hand
should be jitted with ``jax.jit(step, compiler_options=COMPILER_OPTIONS)`` (or :func:`jit`) to get them.
"""

from __future__ import annotations

from types import MappingProxyType

#: XLA options of the simulator's compiled programs (module docstring); read-only.
COMPILER_OPTIONS = MappingProxyType({"xla_cpu_prefer_vector_width": 512})


def jit(fun=None, **kwargs):
    """``jax.jit`` with :data:`COMPILER_OPTIONS` (usable as a decorator, with or without arguments)."""
    import jax

    def wrap(f):
        return jax.jit(f, compiler_options=dict(COMPILER_OPTIONS), **kwargs)
    return wrap if fun is None else wrap(fun)
