"""Timestamped input events → the simulator's inputs with precise timing: counts per step and their lateness.

With precise spike timing (``SimNetwork.precise_timing``, eqs. (P1)–(P3) of :mod:`.model`) an event of a
bin acts at its own time inside it: the step after the bin delivers it with its *lateness*, the time from
the event to that step's start. An input event of source i at time t (s) is delivered at step

    j = ⌈t/dt⌉,     with lateness a = j·dt − t ∈ [0, dt)                                      (E1)

(the same rule as a network's spike, computed inside bin j − 1 and delivered at step j with a = dt − t_s).
An event exactly on a bin boundary (t = j·dt) has a = 0 and acts like a count of bin j at its start; one
inside bin j − 1 acts from its time on. :func:`neurodeploy.sim.simulate` takes the counts per step and
their first moment in lateness,

    x[j, i] = #{events of i delivered at j},     ℓ[j, i] = Σ over those events of a   (count; s·count)  (E2)

(``inputs`` and ``input_lateness``). Several events of a source in one bin act at their count-weighted
mean lateness (the engine sums the moment over a dendrite's events, (P1)). Without precise timing the
usual binning is ⌊t/dt⌋ — each event at the start of its bin, up to one bin early.
"""

from __future__ import annotations

import numpy as np

from .errors import SimError

#: A time within this many steps of a bin boundary is on it (float rounding of t/dt).
SNAP = 1e-9


def bin_events(times, sources, n_inputs: int, dt: float, steps: int | None = None):
    """(counts [T, n_inputs], lateness [T, n_inputs]) float32 of the events at ``times`` (s, ≥ 0) of the input
    channels ``sources`` (0 … n_inputs − 1), binned by (E1)–(E2) for steps of ``dt`` s. ``steps``: T (default:
    the last delivery step + 1); events delivered at step T or later are dropped."""
    t = np.asarray(times, np.float64).reshape(-1)
    src = np.asarray(sources).reshape(-1)
    if t.shape != src.shape:
        raise SimError(f"events: {t.size} times but {src.size} sources (one source per event)")
    if t.size and not (np.all(np.isfinite(t)) and t.min() >= 0):
        raise SimError("events: times must be finite and ≥ 0 (s)")
    if src.size and (not np.issubdtype(src.dtype, np.integer) or src.min() < 0 or src.max() >= n_inputs):
        raise SimError(f"events: sources must be integer input channels 0..{n_inputs - 1}")
    if not dt > 0:
        raise SimError(f"dt: must be a positive time in seconds, got {dt}")
    j = np.ceil(t / dt - SNAP).astype(np.int64)
    late = np.clip(j * dt - t, 0.0, dt)
    T = int(steps) if steps is not None else (int(j.max()) + 1 if j.size else 1)
    keep = j < T
    counts = np.zeros((T, n_inputs), np.float64)
    lateness = np.zeros((T, n_inputs), np.float64)
    np.add.at(counts, (j[keep], src[keep]), 1.0)
    np.add.at(lateness, (j[keep], src[keep]), late[keep])
    return counts.astype(np.float32), lateness.astype(np.float32)
