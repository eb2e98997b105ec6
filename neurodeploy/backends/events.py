"""Input and output spike data of a board: rasters and timestamped events.

Inputs (``--input spikes.npz``), either
* ``spikes``: counts per bin, [T, n_inputs] or [batch, T, n_inputs], one column per model input
  channel, with ``dt`` (s); or
* ``events``: [K, 4] int rows (timestamp µs, tag, chip, core mask) as the board's FPGA takes them
  (core mask: bit k = core k), with ``dt`` (s) and optionally ``duration`` (s). Each distinct
  (tag, chip, core mask) becomes one event source, matched against the CAMs like any other.

Outputs: spikes per physical neuron [batch, T, M] and per model output [batch, T, n_out], and
events [K, 5] int rows (batch, timestamp µs, chip, core, neuron) — a spike in bin t is reported at
t·dt (the bin's start), like the board's µs clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NeurodeployError
from ..masks import core_mask_from_int


class InputError(NeurodeployError):
    """Bad input spike data."""


def load_input(path: str | Path, n_inputs: int | None = None) -> dict:
    """Read an input npz; returns {"spikes": [B, T, n] float32, "dt": float} or the events form."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: input file not found")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:
        raise InputError(f"{path}: cannot read as .npz ({e})") from None
    with z:
        if "dt" not in z.files:
            raise InputError(f"{path}: missing 'dt' (the time step in seconds, e.g. np.savez(f, spikes=..., dt=1e-3))")
        dt = float(np.asarray(z["dt"]).reshape(()))
        if not np.isfinite(dt) or dt <= 0:
            raise InputError(f"{path}: 'dt' must be a positive time in seconds, got {dt}")
        if "spikes" in z.files:
            s = np.asarray(z["spikes"])
            if s.ndim == 2:
                s = s[None]
            if s.ndim != 3:
                raise InputError(f"{path}: 'spikes' must be [T, n_inputs] or [batch, T, n_inputs], got shape {list(z['spikes'].shape)}")
            if n_inputs is not None and s.shape[2] != n_inputs:
                raise InputError(f"{path}: 'spikes' has {s.shape[2]} input channels, the network has {n_inputs}")
            if not np.all(np.isfinite(s)) or np.any(s < 0):
                raise InputError(f"{path}: 'spikes' must hold non-negative finite spike counts")
            return {"spikes": s.astype(np.float32), "dt": dt}
        if "events" in z.files:
            ev = np.asarray(z["events"])
            if ev.ndim != 2 or ev.shape[1] != 4 or not np.issubdtype(ev.dtype, np.integer):
                raise InputError(f"{path}: 'events' must be an int array [K, 4] of (timestamp µs, tag, chip, core mask), "
                                 f"got {ev.dtype} {list(ev.shape)}")
            duration = float(np.asarray(z["duration"]).reshape(())) if "duration" in z.files else None
            return {"events": ev.astype(np.int64), "dt": dt, "duration": duration}
        raise InputError(f"{path}: needs 'spikes' (raster) or 'events' (timestamp µs, tag, chip, core mask)")


def raster_from_events(events: np.ndarray, dt: float, duration: float | None = None):
    """Events (timestamp µs, tag, chip, core mask) → (raster [1, T, S], routes).

    ``routes[s]`` = [(chip, tag, [4 bools])]: source s is one distinct (tag, chip, core mask).
    """
    if events.size and (events[:, 0].min() < 0 or events[:, 1].min() < 0 or events[:, 1].max() > 2047
                        or events[:, 3].min() < 0 or events[:, 3].max() > 15):
        raise InputError("events: timestamps must be ≥ 0, tags 0..2047 and core masks 0..15")
    keys, src = np.unique(events[:, 1:4], axis=0, return_inverse=True) if events.size else (np.zeros((0, 3), int), np.zeros(0, int))
    src = np.asarray(src).reshape(-1)
    dt_us = dt * 1e6    # bin = ⌊timestamp / dt⌋, robust to the float representation of dt
    t_bin = np.floor(events[:, 0] / dt_us + 1e-9).astype(np.int64) if events.size else np.zeros(0, np.int64)
    T = int(np.ceil(duration / dt)) if duration else (int(t_bin.max()) + 1 if t_bin.size else 1)
    keep = t_bin < T
    raster = np.zeros((1, T, max(len(keys), 0)), np.float32)
    np.add.at(raster, (0, t_bin[keep], src[keep]), 1.0)
    routes = [[(int(chip), int(tag), core_mask_from_int(mask))] for tag, chip, mask in keys]
    return raster, routes


def spike_events(spikes: np.ndarray, sites: np.ndarray, dt: float) -> np.ndarray:
    """[batch, T, M] spikes → [K, 5] int64 rows (batch, timestamp µs, chip, core, neuron), time-ordered."""
    b, t, m = np.nonzero(spikes)
    order = np.lexsort((m, t, b))
    b, t, m = b[order], t[order], m[order]
    ts = np.rint(t * dt * 1e6).astype(np.int64)
    return np.stack([b, ts, sites[m, 0], sites[m, 1], sites[m, 2]], axis=1).astype(np.int64) if b.size else np.zeros((0, 5), np.int64)
