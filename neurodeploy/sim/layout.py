"""The index layouts of a network's synapse entries, for the engine's charge paths (:mod:`.charge`).

The entries are laid out per dendrite in use (``groups``, "ELL" format): for group g,
``slot_entry[g]`` [K_g, N] holds entry indices (padding = S) and ``slot_src[g]`` [K_g·N] their sources
(padding = n_inputs + N, a source that never fires), K_g the largest number of entries one neuron has
on that dendrite. One step gathers the source events of all slots and contracts them with the slot
weights: a dense, branch-free gather + batched dot per dendrite.

The same entries are also listed per source (``fan_entry``/``fan_target`` [n_src + 1, F], F the
largest fan-out; a source's entries first, then padding; ``fan_rec`` (static) is the largest fan-out
of a *neuron*, so the columns [:fan_rec] of the neuron rows hold all their entries): at batch 1 a step
then touches only the synapses of the sources that fired
(event-driven), typically a few % of them.

:func:`ell` and :func:`fanout` build them (numpy, once per network) from the entries' ``src``, ``dst``
and ``dendrite`` [S]; they index entries, so new weights keep them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import numpy as np


def static(default=dataclasses.MISSING):
    """A dataclass field that is static in the pytree (part of the jit cache key, not an array leaf)."""
    return field(default=default, metadata=dict(static=True))


@dataclass(frozen=True)
class Layout:
    """Index layouts of the entries for the engine's charge paths (module docstring): per dendrite group
    ``slot_entry``/``slot_src`` (ELL), per source ``fan_entry``/``fan_target``; static ``groups`` (the
    dendrites in use), ``delay_slots`` (the event history's depth D) and ``fan_rec`` (a neuron's largest
    fan-out)."""

    slot_entry: tuple
    slot_src: tuple
    fan_entry: jax.Array
    fan_target: jax.Array
    groups: tuple = static()
    delay_slots: int = static(0)
    fan_rec: int = static(0)


jax.tree_util.register_dataclass(Layout)


def ell(n_src: int, n: int, src: np.ndarray, dst: np.ndarray, dendrite: np.ndarray):
    """Per dendrite in use: slot_entry [K_d, N] (entry index, padding S) and slot_src [K_d·N] (source,
    padding n_src), K_d the largest number of entries one neuron has on that dendrite. Slot-major, so
    that a step's contraction over slots is a sum over a major axis (no transposes, forward or back)."""
    s = src.shape[0]
    groups = tuple(int(d) for d in np.unique(dendrite))
    src_ext = np.concatenate([src, [n_src]]).astype(np.int64)
    slot_entry, slot_src = [], []
    for d in groups:
        idx = np.flatnonzero(dendrite == d)
        order = idx[np.argsort(dst[idx], kind="stable")]
        counts = np.bincount(dst[order], minlength=n)
        k = int(counts.max())
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(order.size) - starts[dst[order]]
        se = np.full((n, k), s, dtype=np.int64)
        se[dst[order], rank] = order
        se = np.ascontiguousarray(se.T)
        slot_entry.append(se.astype(np.int32))
        slot_src.append(src_ext[se].reshape(-1).astype(np.int32))
    return groups, tuple(slot_entry), tuple(slot_src)


def fanout(n_src: int, n: int, src: np.ndarray, dst: np.ndarray, dendrite: np.ndarray):
    """Per source (plus one padding row): fan_entry [n_src+1, F] (entry index, padding S) and
    fan_target [n_src+1, F] (dendrite·N + dst, padding 4N), F the largest fan-out; and the largest fan-out
    of a neuron (the last n sources)."""
    s = src.shape[0]
    order = np.argsort(src, kind="stable")
    counts = np.bincount(src, minlength=n_src + 1)
    f = max(int(counts.max()) if s else 0, 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(s) - starts[src[order]]
    fan_entry = np.full((n_src + 1, f), s, dtype=np.int64)
    fan_entry[src[order], rank] = order
    target = np.concatenate([dendrite * n + dst, [4 * n]])
    f_rec = max(int(counts[n_src - n:n_src].max()) if n else 0, 1)
    return fan_entry.astype(np.int32), target[fan_entry].astype(np.int32), f_rec
