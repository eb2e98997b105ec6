"""XLA flags of a neurodeploy process, set before JAX starts its CPU backend: small time loops compiled whole.

XLA's CPU runtime runs a compiled program as a sequence of *thunks*, one per operation (a fused elementwise loop,
a matrix product, a copy), and a simulation's time loop runs its body's ~50 thunks (forward) or ~100 (a training
step's forward and backward) once per step. For a small network every thunk holds a few elements, so the run
costs what launching the thunks costs (~60–80 ns each): the frozen-noise task's training step, 2 neurons and
batch 2, ran 500 steps × ~100 thunks in ~3 ms. XLA's ``SmallWhileLoopHoistingPass`` compiles a while loop whose
body accesses fewer bytes per iteration than ``xla_cpu_small_while_loop_byte_threshold`` (1 kB by default) into
one function without thunks, provided the body holds no library call (a matrix product handed to YNNPACK or
XNNPACK), scatter, sort or custom call. :data:`SMALL_LOOP_BYTES` raises that limit to 300 kB: the loops of small
batch-1 forward runs (N ≤ 128 in the benchmark network) and of tiny training steps qualify. A larger network's
loop either holds a library-called product and keeps the thunks, as it must (compiled whole, its products are
emitted as plain loops: a loop of N = 64, batch 32 training ran 10× slower so), or is above the limit: at 1 MB
the frozen-noise task's default network (32 neurons, batch 8) was compiled whole too, and its training step ran
no faster (within the noise, perhaps ~8 % slower), as a batch-1 forward run of N = 256 (~10 % faster).

Measured (``tools/bench_sim.py``, ``tools/bench_train.py``; docs/performance.md, "Small time loops compiled
whole"): the 2-neuron frozen-noise training step ~3 → ~0.8 ms (279 → 1446 steps per second in the training
benchmark), forward N = 64 at batch 1 ~1.6 → ~0.7 ms per 500 steps, N = 128 ~2.5 → ~1.6 ms; the other benchmark
rows are not compiled whole and unchanged. A loop compiled whole has its arithmetic emitted by another code
generator: currents and gradients can differ in their last bits (the benchmark rows' spikes were the same; a
2-neuron run's membrane currents within 3.3e-7 of their largest value), so a training run with the flag can end
in another model than one without — as good, and the same bytes again for the same flags and seed.

XLA reads its flags once, when JAX first uses its backend, from the ``XLA_FLAGS`` environment variable; they
hold for the whole process. The command line, the test suite and the Ray workers set them through
:func:`apply` / :func:`with_small_loops`. A Python program calls :func:`apply` before its first JAX
computation, or exports the variable (:func:`flag`). Flags the user set win: an ``XLA_FLAGS`` that sets
``xla_backend_extra_options`` itself is left as it is.
"""

from __future__ import annotations

import os
import sys

#: Per-iteration bytes below which XLA compiles a time loop into one function (module docstring).
SMALL_LOOP_BYTES = 300_000
_OPTION = "xla_cpu_small_while_loop_byte_threshold"
_EXTRA = "--xla_backend_extra_options"


def flag() -> str:
    """The XLA flag itself, as ``XLA_FLAGS`` takes it."""
    return f"{_EXTRA}={_OPTION}={SMALL_LOOP_BYTES}"


def with_small_loops(flags: str) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with :func:`flag` added, unless they set ``xla_backend_extra_options``
    (the user's own extra options win; XLA keeps one value of that flag)."""
    if _EXTRA in flags:
        return flags
    return f"{flags} {flag()}".strip()


def backend_started() -> bool:
    """Whether JAX has already started a backend in this process (then XLA has read its flags)."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    started = getattr(bridge, "backends_are_initialized", None)
    return bool(started and started())


def apply(environ=os.environ) -> bool:
    """Add :func:`flag` to ``environ["XLA_FLAGS"]`` for this process and the processes it starts; True when it
    takes effect here (JAX's backend not yet started and the user's flags did not set extra options)."""
    before = environ.get("XLA_FLAGS", "")
    environ["XLA_FLAGS"] = with_small_loops(before)
    return environ["XLA_FLAGS"] != before and not backend_started()
