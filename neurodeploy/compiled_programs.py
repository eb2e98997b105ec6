"""The compiled programs a long-lived process holds, and the operating system's cap on its memory mappings.

XLA's CPU backend loads every compiled program's code and data as memory mappings of their own: the N = 64
training step of ``tools/bench_sim.py`` adds ~700 of them, a short training run a few thousand. JAX keeps every
program it compiled for as long as the process lives, so that the next call of the same shapes costs nothing.
Linux caps the mappings of one process (``vm.max_map_count``, 65 530 by default). A process that compiles
program after program — a local ``sweep`` training run after run, a notebook, a test suite — reaches the cap, and
then one of the compiler's mappings fails inside native code: the process dies with a segmentation fault or an
abort, during compilation or while writing the program to the persistent cache, and no Python error says why.

:func:`release_if_crowded` drops JAX's compiled programs (``jax.clear_caches``) once the process holds more than
:data:`FRACTION` of the cap; what runs next compiles again (or loads from the persistent compilation cache,
:mod:`.compile_cache`) and computes the same bits. Training, ``yield``, the API's ``simulate``, ``emulate`` and
``verify`` and every Ray task of a study or ``verify`` (a pooled worker outlives the study) call it before they
compile. It reads ``/proc/self/maps`` (milliseconds at tens of thousands of mappings) and does nothing where that file
does not exist (other operating systems) or where JAX was never imported.
"""

from __future__ import annotations

import sys

#: The share of the cap above which the programs are dropped.
FRACTION = 0.5
#: Linux's default ``vm.max_map_count``, used when the setting cannot be read.
DEFAULT_CAP = 65530
MAPS = "/proc/self/maps"
CAP = "/proc/sys/vm/max_map_count"


def mappings(path: str = MAPS) -> int | None:
    """The number of memory mappings this process holds (lines of ``path``), or None where it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return None


def cap(path: str = CAP) -> int:
    """The operating system's limit on one process's memory mappings (``vm.max_map_count``)."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_CAP


def release_if_crowded(fraction: float = FRACTION, *, maps_path: str = MAPS, cap_path: str = CAP) -> bool:
    """Drop JAX's compiled programs if the process holds more than ``fraction`` of the mapping cap (module
    docstring); returns whether it did."""
    if "jax" not in sys.modules:          # nothing compiled yet: no JAX import for it
        return False
    held = mappings(maps_path)
    if held is None or held <= fraction * cap(cap_path):
        return False
    import gc

    import jax

    jax.clear_caches()
    gc.collect()                          # the executables go with their last reference
    return True
