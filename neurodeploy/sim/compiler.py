"""XLA compile options for the simulator's programs: :data:`COMPILER_OPTIONS`, :func:`compiler_options`, :func:`jit`.

**Wider vectors.** A simulation step is a chain of a few dozen elementwise loops ("fusions") over the neurons, and
the long ones evaluate several transcendental functions and divisions one after the other on each element (the
rate of eq. (7) and the passage quadrature of :func:`.dpi.region_passage`: a logistic, then two divisions, per
node). XLA's CPU backend compiles each fusion into one loop that processes one vector register of elements per
iteration, 256 bits (8 float32) by default. Such a loop is bound by the *latency* of its dependency chain, not by
the processor's throughput: the out-of-order core holds only two or three iterations of a ~100-instruction body,
so a chain of nine exponentials on 2²⁰ elements costs 3–4× nine independent ones. With
``xla_cpu_prefer_vector_width = 512`` every iteration carries 16 elements through the same chain (on CPUs with
AVX-512; elsewhere LLVM keeps the widest vectors the CPU has), which halves the iterations of a latency-bound loop.

**One core for a batch-1 forward run** (:func:`compiler_options` with ``batch=1``). XLA's default scheduler orders a
program's operations so that independent ones run at the same time on the CPU's threads. A batch-1 step is ~50
small operations of a few hundred to a thousand elements each: handing them between threads costs about what it
gains (the forward N = 1024 kept 1.7 cores busy). XLA's memory-optimised schedule runs such a program on one core,
in less time; batched and training programs, whose operations are larger, keep the concurrent schedule (with the
memory-optimised one they were 3–33 % slower).

The simulator's numbers do not change by a bit: every element goes through the same arithmetic in the same order
(tests/test_sim_compiler.py compares forward runs, recorded currents and a gradient with and without the options).
A whole training program can round differently: a reduction outside the simulator may be vectorised in another
order at 512 bits, and training amplifies a last-bit difference — the built-in frozen-noise task trains to another
model than with XLA's defaults (as good: the demo's verify passes either way). Same options and seed on one machine
still give the same bytes. Measured: docs/performance.md ("Wider vectors, one core at batch 1").

The options apply to the program a ``jax.jit`` compiles at the outermost level (JAX accepts them there only):
:func:`neurodeploy.sim.simulate` called on its own compiles with them, but under the caller's own ``jax.jit`` it is
compiled with that jit's options; a training step written by hand should therefore be jitted with
``jax.jit(step, compiler_options=compiler_options())`` (or :func:`jit`), a batch-1 forward run with
``compiler_options(batch=1)``.

One option XLA takes only from the process's ``XLA_FLAGS``, read once: small time loops compiled into one function
(:mod:`neurodeploy.xla_flags`; the command line sets it, a program calls :func:`neurodeploy.xla_flags.apply` before
its first JAX computation).
"""

from __future__ import annotations

from types import MappingProxyType

#: XLA options of the simulator's compiled programs (module docstring); read-only.
COMPILER_OPTIONS = MappingProxyType({"xla_cpu_prefer_vector_width": 512})
#: ... and, added for a forward run at batch 1 (one chip, one sample, not under ``jax.vmap``), one core's schedule.
BATCH1_OPTIONS = MappingProxyType({"xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED"})


def compiler_options(batch: int | None = None) -> dict:
    """The XLA options of a program: :data:`COMPILER_OPTIONS`, plus :data:`BATCH1_OPTIONS` for a forward run of
    batch 1 (``batch=1``; not for a gradient, nor for many draws or samples at once)."""
    return {**COMPILER_OPTIONS, **(BATCH1_OPTIONS if batch == 1 else {})}


def jit(fun=None, *, batch: int | None = None, **kwargs):
    """``jax.jit`` with :func:`compiler_options` of ``batch`` (a decorator too, with or without arguments)."""
    import jax

    def wrap(f):
        return jax.jit(f, compiler_options=compiler_options(batch), **kwargs)
    return wrap if fun is None else wrap(fun)
