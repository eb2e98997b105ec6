"""Spike data of a board: timestamped input events → a raster, and output spikes → events.

Input files are read by :func:`neurodeploy.inputs.load_input`. Input ``events`` rows are (timestamp µs,
tag, chip, core mask); each distinct (tag, chip, core mask) becomes one event source, matched against
the CAMs like any other. An event at t µs counts in bin ⌊t/dt⌋ and acts at that bin's start (up to one bin
early); with precise timing (``timed``, the emulator's ``precise_timing``) it is delivered at step
j = ⌈t/dt⌉ with its lateness a = j·dt − t (s), and acts at its own time: (E1)–(E2) of
:mod:`neurodeploy.sim.timed_inputs`.

Outputs: spikes per physical neuron [batch, T, M] and per model output [batch, T, n_out], and
events [K, 5] int rows (batch, timestamp µs, chip, core, neuron), time-ordered per batch. A spike in bin t
is reported at t·dt (the bin's start), like the board's µs clock. With precise timing the simulator knows
each spike's lateness a = dt − (its time from the bin's start) (s, ``SimState.lateness``), and the spike is
reported at its own time

    t_s = (t + 1)·dt − min(a, dt),   timestamp = rint(t_s·10⁶) µs                                  (O1)

so within its bin, t·dt ≤ t_s ≤ (t + 1)·dt (a spike keeps its bin in the spikes arrays and the read-out
window; only its timestamp moves). The model times a spike before its bin's start (a > dt) only where a
neuron would fire twice within one bin and is held to one spike per bin; such a spike is reported at its
bin's start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..inputs import InputError
from ..device.masks import core_mask_from_int


def raster_from_events(events: np.ndarray, dt: float, duration: float | None = None, timed: bool = False):
    """Events (timestamp µs, tag, chip, core mask) → (raster [1, T, S], routes), and with ``timed`` also the
    inputs' lateness [1, T, S] (s·count; module docstring): (raster, routes, lateness).

    ``routes[s]`` = [(chip, tag, [4 bools])]: source s is one distinct (tag, chip, core mask). T = ⌈duration/dt⌉,
    else up to the last event's step; events past it are dropped.
    """
    if events.size and (events[:, 0].min() < 0 or events[:, 1].min() < 0 or events[:, 1].max() > 2047
                        or events[:, 3].min() < 0 or events[:, 3].max() > 15):
        raise InputError("events: timestamps must be ≥ 0, tags 0..2047 and core masks 0..15")
    keys, src = np.unique(events[:, 1:4], axis=0, return_inverse=True) if events.size else (np.zeros((0, 3), int), np.zeros(0, int))
    src = np.asarray(src).reshape(-1)
    routes = [[(int(chip), int(tag), core_mask_from_int(mask))] for tag, chip, mask in keys]
    T = int(np.ceil(duration / dt)) if duration else None
    if timed:
        from ..sim.timed_inputs import bin_events

        counts, late = bin_events(events[:, 0] * 1e-6 if events.size else np.zeros(0), src, len(keys), dt, T)
        return counts[None], routes, late[None]
    dt_us = dt * 1e6    # bin = ⌊timestamp / dt⌋, robust to the float representation of dt
    t_bin = np.floor(events[:, 0] / dt_us + 1e-9).astype(np.int64) if events.size else np.zeros(0, np.int64)
    T = T if T is not None else (int(t_bin.max()) + 1 if t_bin.size else 1)
    keep = t_bin < T
    raster = np.zeros((1, T, max(len(keys), 0)), np.float32)
    np.add.at(raster, (0, t_bin[keep], src[keep]), 1.0)
    return raster, routes


def spike_events(spikes: np.ndarray, sites: np.ndarray, dt: float, lateness: np.ndarray | None = None) -> np.ndarray:
    """[batch, T, M] spikes → [K, 5] int64 rows (batch, timestamp µs, chip, core, neuron), time-ordered per batch.

    A spike in bin t at t·dt (µs, the bin's start); with ``lateness`` [batch, T, M] (s, precise timing) at its
    own time, eq. (O1) of the module docstring, the rows ordered by (batch, timestamp, bin, neuron)."""
    b, t, m = np.nonzero(spikes)
    at = t * dt if lateness is None else (t + 1) * dt - np.minimum(np.asarray(lateness, np.float64)[b, t, m], dt)
    ts = np.rint(at * 1e6).astype(np.int64)
    order = np.lexsort((m, t, ts, b))
    b, m, ts = b[order], m[order], ts[order]
    return np.stack([b, ts, sites[m, 0], sites[m, 1], sites[m, 2]], axis=1).astype(np.int64) if b.size else np.zeros((0, 5), np.int64)
