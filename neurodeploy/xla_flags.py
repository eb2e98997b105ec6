"""XLA flags of a neurodeploy process, set before JAX starts its CPU backend: small time loops compiled whole, and
one host device per core.

**One host device per core.** JAX's CPU backend has one device unless ``--xla_force_host_platform_device_count``
asks for more; each device's program runs on a thread of its own. The simulator splits a batched run across them
(:mod:`neurodeploy.sim.shards`), so the flag asks for as many devices as the process may use cores
(:func:`host_devices`, at most :data:`MAX_HOST_DEVICES`). A run's last bits depend on how many shards its batch is
split into, so the device count is part of what makes a result reproducible: the Ray workers are given the
driver's (:func:`neurodeploy.study.engines.worker_env`), and a process that sets the count itself keeps it.

**Small time loops compiled whole.**

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
:func:`apply` / :func:`with_flags`. A Python program calls :func:`apply` before its first JAX
computation, or exports the variable (:func:`flag`, :func:`device_flag`). Flags the user set win: an ``XLA_FLAGS``
that sets ``xla_backend_extra_options`` or a host-device count itself keeps it.
"""

from __future__ import annotations

import os
import sys

#: Per-iteration bytes below which XLA compiles a time loop into one function (module docstring).
SMALL_LOOP_BYTES = 300_000
#: Host devices a process asks for, at most (one per usable core up to this).
MAX_HOST_DEVICES = 8
_OPTION = "xla_cpu_small_while_loop_byte_threshold"
_EXTRA = "--xla_backend_extra_options"
_DEVICES = "--xla_force_host_platform_device_count"


def host_devices() -> int:
    """The cores this process may run on (its CPU affinity), at most :data:`MAX_HOST_DEVICES`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:          # platforms without affinity masks
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_HOST_DEVICES))


def device_flag(devices: int | None = None) -> str:
    """The host-device flag for ``devices`` devices (default :func:`host_devices`), as ``XLA_FLAGS`` takes it."""
    return f"{_DEVICES}={host_devices() if devices is None else int(devices)}"


def device_count(flags: str) -> int | None:
    """The host-device count ``flags`` (an ``XLA_FLAGS`` value) set, the last one if several; None if none (or not a
    whole number, which XLA itself then refuses)."""
    counts = [f.split("=", 1)[1] for f in flags.split() if f.startswith(_DEVICES + "=")]
    return int(counts[-1]) if counts and counts[-1].isdigit() else None


def flag() -> str:
    """The XLA flag itself, as ``XLA_FLAGS`` takes it."""
    return f"{_EXTRA}={_OPTION}={SMALL_LOOP_BYTES}"


def with_flags(flags: str, devices: int | None = None) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with :func:`flag` added, unless they set ``xla_backend_extra_options``
    (the user's own extra options win; XLA keeps one value of that flag), and :func:`device_flag` of ``devices``
    unless they set a host-device count."""
    out = flags if _EXTRA in flags else f"{flags} {flag()}"
    out = out if _DEVICES in flags else f"{out} {device_flag(devices)}"
    return out.strip()


def backend_started() -> bool:
    """Whether JAX has already started a backend in this process (then XLA has read its flags)."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    started = getattr(bridge, "backends_are_initialized", None)
    return bool(started and started())


def apply(environ=os.environ) -> bool:
    """Add :func:`flag` and :func:`device_flag` to ``environ["XLA_FLAGS"]`` (:func:`with_flags`) for this process and
    the processes it starts; True when it takes effect here (JAX's backend not yet started, and the user's flags did
    not already set both)."""
    before = environ.get("XLA_FLAGS", "")
    environ["XLA_FLAGS"] = with_flags(before)
    return environ["XLA_FLAGS"] != before and not backend_started()
