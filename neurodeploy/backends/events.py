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


class InputError(NeurodeployError):
    """Bad input spike data."""


#: Largest input raster the emulator accepts (bins × channels × batch): ~1 GB of float32.
MAX_RASTER_CELLS = 250_000_000


def _scalar_seconds(path, z, key: str) -> float:
    a = np.asarray(z[key])
    if a.size != 1 or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(f"{path}: $.{key}: expected one number (seconds), got {a.dtype} of shape {list(a.shape)}")
    v = float(a.reshape(()))
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{path}: $.{key}: must be a positive, finite time in seconds, got {v}")
    return v


def _counts(path, s: np.ndarray) -> np.ndarray:
    """Check a raster: numeric (bool or real), finite, non-negative integer counts, T ≥ 1."""
    if not (s.dtype == bool or np.issubdtype(s.dtype, np.integer) or np.issubdtype(s.dtype, np.floating)):
        raise InputError(f"{path}: $.spikes: expected numeric event counts, got dtype {s.dtype}")
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3:
        raise InputError(f"{path}: $.spikes: must be [T, n_inputs] or [batch, T, n_inputs], got shape {list(s.shape)}")
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise InputError(f"{path}: $.spikes: needs at least one sample and one time step, got shape {list(s.shape)}")
    if s.size > MAX_RASTER_CELLS:
        raise InputError(f"{path}: $.spikes: {s.size:,} cells exceed the limit of {MAX_RASTER_CELLS:,}; split the input")
    f = s.astype(np.float64)
    if not np.all(np.isfinite(f)) or np.any(f < 0) or np.any(f != np.round(f)):
        raise InputError(f"{path}: $.spikes: event counts must be finite non-negative integers")
    return f.astype(np.float32)


def load_input(path: str | Path, n_inputs: int | None = None) -> dict:
    """Read an input npz; returns {"spikes": [B, T, n] float32, "dt": float} (plus "labels" when the file
    has them) or the events form {"events": [K, 4] int64, "dt", "duration"}. Every problem is an
    :class:`InputError` naming the file and the array."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: input file not found")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
    except Exception as e:
        raise InputError(f"{path}: cannot read as .npz ({e})") from None
    try:
        with z:
            return _read_input(path, z, n_inputs)
    except InputError:
        raise
    except Exception as e:    # a corrupt member, a pickled object, ...
        raise InputError(f"{path}: cannot read its arrays ({type(e).__name__}: {e})") from None


def _read_input(path, z, n_inputs):
    if "dt" not in z.files:
        raise InputError(f"{path}: missing 'dt' (the time step in seconds, e.g. np.savez(f, spikes=..., dt=1e-3))")
    dt = _scalar_seconds(path, z, "dt")
    if "spikes" in z.files:
        s = _counts(path, np.asarray(z["spikes"]))
        if n_inputs is not None and s.shape[2] != n_inputs:
            raise InputError(f"{path}: 'spikes' has {s.shape[2]} input channels, the network has {n_inputs}")
        out = {"spikes": s, "dt": dt}
        if "labels" in z.files:   # task-data files carry their labels (checked by the command that uses them)
            out["labels"] = np.asarray(z["labels"])
        return out
    if "events" in z.files:
        ev = np.asarray(z["events"])
        if ev.ndim != 2 or ev.shape[1] != 4 or not np.issubdtype(ev.dtype, np.integer):
            raise InputError(f"{path}: 'events' must be an int array [K, 4] of (timestamp µs, tag, chip, core mask), "
                             f"got {ev.dtype} {list(ev.shape)}")
        duration = _scalar_seconds(path, z, "duration") if "duration" in z.files else None
        ev = ev.astype(np.int64)
        last = (duration if duration is not None else (float(ev[:, 0].max()) * 1e-6 if ev.size else 0.0))
        if last / dt > MAX_RASTER_CELLS:
            raise InputError(f"{path}: the events span {last:g} s = {last / dt:,.0f} steps of {dt:g} s, more than the "
                             f"emulator's limit of {MAX_RASTER_CELLS:,}; check the timestamps (µs) and 'duration' (s)")
        return {"events": ev, "dt": dt, "duration": duration}
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
    routes = [[(int(chip), int(tag), [bool((int(mask) >> k) & 1) for k in range(4)])] for tag, chip, mask in keys]
    return raster, routes


def spike_events(spikes: np.ndarray, sites: np.ndarray, dt: float) -> np.ndarray:
    """[batch, T, M] spikes → [K, 5] int64 rows (batch, timestamp µs, chip, core, neuron), time-ordered."""
    b, t, m = np.nonzero(spikes)
    order = np.lexsort((m, t, b))
    b, t, m = b[order], t[order], m[order]
    ts = np.rint(t * dt * 1e6).astype(np.int64)
    return np.stack([b, ts, sites[m, 0], sites[m, 1], sites[m, 2]], axis=1).astype(np.int64) if b.size else np.zeros((0, 5), np.int64)
