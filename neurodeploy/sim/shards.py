"""A batched run split across the process's devices: the samples of a batch in parallel, one part per device.

The samples of a batch are independent until a loss sums over them, so a run of B samples on D devices is D runs of
B/D samples, one per device, side by side (``jax.shard_map`` over the batch axis; every device holds the whole
network). Under a gradient the network's cotangents are the sum of the D parts' (the transpose of the replicated
network is a sum over the devices). On a CPU, JAX's devices are the process's *host devices*: XLA runs each one's
program on its own thread, so the parts run on separate cores. One time loop cannot do that: its thunks run one
after the other, and each thunk of a small network's step holds too few elements for XLA to split it across threads
(the batch split into two loops of one program, or two halves in one loop, ran slower; docs/performance.md).

How many devices a CPU process has is an XLA flag read once, when JAX starts its backend
(``--xla_force_host_platform_device_count``): one by default; the usable cores, at most
:data:`neurodeploy.xla_flags.MAX_HOST_DEVICES`, in processes that set neurodeploy's flags (:mod:`neurodeploy.xla_flags`:
the command line, or a program that calls :func:`neurodeploy.xla_flags.apply` first; the Ray workers get the driving
process's count, the test suite one device). A process with one device runs every batch whole.

**Parts.** One per device, always every device of the process (:func:`count`); a batch that does not divide evenly
is padded with copies of its first samples, whose results are dropped. A batch smaller than the device count (B = 1:
a batch-1 run, or many mismatch draws under ``jax.vmap``) is not split, nor one whose part per device is small
(:data:`MIN_SHARD_ELEMENTS`): one device already runs a step's independent operations on two threads, and for a
small network a split only adds the second device's launches (the frozen-noise task's default network, 34 neurons at
batch 8, trained at 34 → 28 steps/s split; the N = 64 batch-32 training step took 55 → 34 ms).

**Placement.** A program with a split batch returns its unsplit results (a loss, the network's gradient)
replicated on every device. A loop that feeds them back into the program — a training loop — places its first state
so too (:func:`place`), so that it calls one compilation from the first step on. JAX compiles no program whose
arguments sit on other devices than its parts: an array committed to one device (``jax.device_put(x,
jax.devices()[0])``) cannot enter a program with a split batch (JAX's "incompatible devices" error). Arrays made by
``jnp``, or by a jitted program from such arrays, are not committed and go anywhere.

**Bits.** Each sample's forward arithmetic is the same in any part, but the matrix products may be computed by
other kernels for fewer rows, and a gradient sums the samples' contributions per part first: a split run can differ
from a whole one in the last bits, and a training run in its model's last bits (as good; the same bytes again for
the same device count and seed). The device count is part of a result's reproducibility, as the XLA flags are; the
Ray workers get the driving process's (:func:`neurodeploy.study.engines.worker_env`), so every engine of a study
splits a batch alike.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

#: The name of the mesh axis the batch is split over.
AXIS = "batch"
#: The fewest elements (samples × neurons) of one device's part of a step for which a batch is split: below it the
#: step's operations are too small for a second thread to pay (module docstring).
MIN_SHARD_ELEMENTS = 1024


def count(batch: int, neurons: int, devices: int | None = None) -> int:
    """The number of parts of a batch of ``batch`` samples of ``neurons`` neurons: every device of JAX's default
    backend (or ``devices``) when there are at least as many samples as devices and each device's part of a step,
    ⌈batch/devices⌉·neurons elements, has at least :data:`MIN_SHARD_ELEMENTS`; else 1 (not split). 1 inside a
    mesh of the caller's own, e.g. under its ``jax.shard_map``, where the caller has placed the work."""
    if devices is None:
        devices = len(jax.devices()) if jax.sharding.get_abstract_mesh().empty else 1
    devices = int(devices)
    if devices < 2 or batch < devices or -(-int(batch) // devices) * int(neurons) < MIN_SHARD_ELEMENTS:
        return 1
    return devices


@lru_cache(maxsize=None)
def mesh(shards: int) -> jax.sharding.Mesh:
    """A one-axis mesh (:data:`AXIS`) over the first ``shards`` devices of the default backend."""
    return jax.sharding.Mesh(np.array(jax.devices()[:shards]), (AXIS,))


def place(tree, batch: int, neurons: int):
    """``tree``'s arrays replicated on every device of the default backend where a batch of ``batch`` samples of
    ``neurons`` neurons is split (:func:`count`), as such a program returns its unsplit results; so a loop that feeds
    a program's results back into it (a training loop) calls one compilation from its first call on. ``tree`` itself
    where the batch is not split (replicated, a program that is not split would run whole on every device)."""
    n = count(batch, neurons)
    if n == 1:
        return tree
    return jax.device_put(tree, jax.sharding.NamedSharding(mesh(n), jax.sharding.PartitionSpec()))


def _pad(a, pad: int):
    """``a`` with its first ``pad`` samples appended again (the padding of :func:`over_batch`)."""
    return a if pad == 0 else jnp.concatenate([a, a[:pad]], axis=0)


def over_batch(fn, batch: int, neurons: int, batched_args: tuple[bool, ...]):
    """``fn`` run on :func:`count` shards of the batch: the arguments marked in ``batched_args`` and every result
    are split along their leading (batch) axis, the others given whole to every shard. A batch that does not divide
    evenly is padded with copies of its first samples, whose results are dropped (their cotangents are zero, so
    they add nothing to a gradient). ``fn`` itself where one shard is all there is."""
    shards = count(batch, neurons)
    if shards == 1:
        return fn
    spec = jax.sharding.PartitionSpec
    in_specs = tuple(spec(AXIS) if b else spec() for b in batched_args)
    split = jax.shard_map(fn, mesh=mesh(shards), in_specs=in_specs, out_specs=spec(AXIS), check_vma=False)
    pad = -batch % shards

    def run(*args):
        args = [jax.tree_util.tree_map(lambda a: _pad(a, pad), x) if b else x for x, b in zip(args, batched_args)]
        out = split(*args)
        return out if pad == 0 else jax.tree_util.tree_map(lambda a: a[:batch], out)
    return run


def over_draws(fn, draws: int, width: int):
    """``jax.vmap(fn)`` over the leading axis of its first argument (a stack of ``draws`` mismatch draws), the draws
    split across the devices as :func:`over_batch` splits a batch: ``fn(draw, *shared)``, the ``shared`` arguments
    given whole to every device, every result split along its leading (draw) axis; ``width``: the elements of one
    draw's step (samples × neurons), for :func:`count`. Where the draws are split, a simulation's batch inside is not
    split again (:func:`count` is 1 inside the mesh)."""
    def run(stack, *shared):
        n = len(shared)
        vm = jax.vmap(fn, in_axes=(0,) + (None,) * n)
        return over_batch(vm, draws, width, (True,) + (False,) * n)(stack, *shared)
    return run
