"""Input spike files (``--input spikes.npz``): the one loader every command uses.

An input ``.npz`` holds ``dt`` (s) and either
* ``spikes``: event counts per bin, [T, n_inputs] or [batch, T, n_inputs], one column per model input
  channel (bool or numbers; finite non-negative integers); optionally ``labels`` [batch] and ``readout``
  [start, stop): the read-out window in steps, the bins in which outputs are counted (task-data files write it
  for tasks that read their outputs in a window, e.g. temporal-xor; training uses the same window); or
* ``times`` and ``channels``: one row per input spike, its time (s) and input channel, optionally with
  ``samples``, ``batch`` and ``duration`` (:mod:`neurodeploy.input_times`); every command sees them as counts per
  step, and with ``--precise-timing`` (simulate, emulate, run on the emulator, verify, yield) at their own times;
  a board is sent each at its own µs; or
* ``events``: [K, 4] int rows (timestamp µs, tag, chip, core mask) as the board's FPGA takes them
  (core mask: bit k = core k), optionally with ``duration`` (s). Only board-level commands take events.

Every problem is an :class:`InputError` naming the file, the array (JSON-path style: ``$.spikes``) and what
to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import NeurodeployError
from .input_times import read_spike_times


class InputError(NeurodeployError):
    """Bad input spike data."""


#: Largest input raster accepted (bins × channels × batch): ~1 GB of float32.
MAX_RASTER_CELLS = 250_000_000
#: An input's dt must equal the network's within this (s).
DT_TOLERANCE = 1e-12


def load_input(path: str | Path, n_inputs: int | None = None, *, dt: float | None = None, model: str = "the network",
               events: bool = True) -> dict:
    """Read and check an input npz.

    Returns ``{"spikes": [B, T, n] float32, "dt": s, "batched": bool}`` (for the spike-times form also
    ``"spike_times"``, a :class:`~neurodeploy.input_times.SpikeTimes`; plus ``"labels"`` as stored,
    checked by the command that uses them, and ``"readout"`` = (start, stop) steps when the file has a checked
    ``readout``: :func:`resolve_window` turns it into the run's :class:`Window`) or, with ``events=True``, the events form
    ``{"events": [K, 4] int64, "dt", "duration"}``. ``n_inputs`` checks the channel count and ``dt``
    the time step against the network's (``model`` names it in the messages).
    """
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
            return _read(path, z, n_inputs, dt, model, events)
    except InputError:
        raise
    except Exception as e:    # a corrupt member, a pickled object, ...
        raise InputError(f"{path}: cannot read its arrays ({type(e).__name__}: {e})") from None


def _read(path, z, n_inputs, dt, model, events):
    if "dt" not in z.files:
        want = f"; must equal the network's dt = {dt:g} s" if dt is not None else ""
        raise InputError(f"{path}: no array 'dt' (the input's time step in seconds{want}, "
                         f"e.g. np.savez(f, spikes=..., dt=1e-3))")
    d = _scalar_seconds(path, z, "dt")
    if dt is not None and not abs(d - dt) <= DT_TOLERANCE:
        raise InputError(f"{path}: $.dt: input dt = {d:g} s differs from the network's dt = {dt:g} s ({model}); "
                         f"they must be equal (within {DT_TOLERANCE:g} s) — re-bin the input or change the network's dt")
    if "spikes" in z.files or "times" in z.files:
        if "spikes" in z.files and "times" in z.files:
            raise InputError(f"{path}: has both 'spikes' (counts per step) and 'times' (spike times); keep one")
        if "spikes" in z.files:
            s = np.asarray(z["spikes"])
            out = {"spikes": _counts(path, s, n_inputs, model), "dt": d, "batched": s.ndim == 3}
        else:
            st = read_spike_times(path, z, n_inputs, d, MAX_RASTER_CELLS, InputError)
            out = {"spikes": st.counts, "dt": d, "batched": "samples" in z.files or "batch" in z.files,
                   "spike_times": st}
        if "labels" in z.files:
            out["labels"] = np.asarray(z["labels"])
        if "negative" in z.files:                  # samples without a class (checked by the command that uses it)
            out["negative"] = np.asarray(z["negative"])
        if "readout" in z.files:
            out["readout"] = _readout(path, z, out["spikes"].shape[1])
        return out
    if events and "events" in z.files:
        out = _events(path, z, d)
        if "readout" in z.files:
            n = None if out["duration"] is None else int(round(out["duration"] / d))
            out["readout"] = _readout(path, z, n)
        return out
    have = ", ".join(z.files) or "nothing"
    if not events:
        raise InputError(f"{path}: no array 'spikes' (has: {have}); expected event counts {_shape(n_inputs, model)} "
                         f"or spike 'times' (s) with their 'channels'")
    raise InputError(f"{path}: needs 'spikes' (raster), 'times' with 'channels' (spike times) or 'events' (timestamp "
                     f"µs, tag, chip, core mask); has: {have}")


def run_inputs(data: dict, precise_timing: bool = False):
    """(counts [B, T, n], lateness [B, T, n] or None): what a run takes of :func:`load_input`'s ``data`` — with
    ``precise_timing`` and input spike times, each spike delivered at its own time
    (:meth:`~neurodeploy.input_times.SpikeTimes.timed`), else the counts per step."""
    st = data.get("spike_times")
    return st.timed() if precise_timing and st is not None else (data["spikes"], None)


def _readout(path, z, n_steps: int | None) -> tuple[int, int]:
    """``$.readout``: two integer steps [start, stop) with 0 ≤ start < stop ≤ T (T = the input's steps)."""
    a = np.asarray(z["readout"])
    top = f"T = {n_steps}" if n_steps is not None else "T (the input's steps)"
    want = f"two integer steps [start, stop) with 0 <= start < stop <= {top}"
    if a.shape != (2,) or a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        got = a.tolist() if a.size <= 4 and a.dtype.kind in "biuf" else f"{a.dtype} of shape {list(a.shape)}"
        raise InputError(f"{path}: $.readout: expected {want} (the read-out window), got {got}")
    start, stop = int(a[0]), int(a[1])
    if not (0 <= start < stop and (n_steps is None or stop <= n_steps)):
        raise InputError(f"{path}: $.readout: expected {want} (the read-out window), got [{start}, {stop}]")
    return start, stop


@dataclass(frozen=True)
class Window:
    """The read-out window: outputs are counted in steps [start, stop) of each sample. ``source`` says where it
    came from: ``"--window"``, ``"$.readout"`` (the input file's) or ``"whole trial"``."""

    start: int
    stop: int
    source: str = "whole trial"

    @property
    def steps(self) -> int:
        return self.stop - self.start

    def describe(self, n_steps: int, dt: float) -> str:
        """One phrase for the reports, e.g. ``steps 180–300 of 300 (0.18–0.3 s), from the input's $.readout``."""
        if self.source == "whole trial":
            return f"the whole trial ({n_steps} steps, {n_steps * dt:g} s)"
        where = "the input's $.readout" if self.source == "$.readout" else self.source
        return (f"steps {self.start}–{self.stop} of {n_steps} ({self.start * dt:g}–{self.stop * dt:g} s), "
                f"from {where}")

    def as_dict(self) -> dict:
        return {"start": self.start, "stop": self.stop, "source": self.source}


def parse_window(text: str) -> tuple[int, int]:
    """``--window START:STOP`` (steps) → (start, stop); 0 <= START < STOP (the upper bound is checked against the input)."""
    a, sep, b = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        start, stop = int(a), int(b)
    except ValueError:
        raise InputError(f"--window {text!r}: expected START:STOP in steps of dt, e.g. --window 180:300") from None
    if not 0 <= start < stop:
        raise InputError(f"--window {text!r}: expected 0 <= START < STOP (steps of dt), e.g. --window 180:300")
    return start, stop


def resolve_window(data: dict, option: tuple[int, int] | None, n_steps: int, path) -> Window:
    """The read-out window of a run: ``--window`` (``option``) over the input file's ``$.readout``, else the whole
    trial; checked against the input's ``n_steps``."""
    if option is not None:
        start, stop = option
        if stop > n_steps:
            raise InputError(f"--window {start}:{stop}: STOP = {stop} is past the end of the input ({path} has "
                             f"{n_steps} steps); expected 0 <= START < STOP <= {n_steps}")
        return Window(start, stop, "--window")
    if data.get("readout") is not None:
        start, stop = data["readout"]
        if stop > n_steps:
            raise InputError(f"{path}: $.readout: the window [{start}, {stop}) ends after the input's {n_steps} steps; "
                             f"expected 0 <= start < stop <= {n_steps}")
        return Window(start, stop, "$.readout")
    return Window(0, n_steps, "whole trial")


def _shape(n_inputs, model) -> str:
    if n_inputs is None:
        return "[T, n_inputs] or [batch, T, n_inputs]"
    return f"[T, {n_inputs}] or [batch, T, {n_inputs}] ({n_inputs} = n_inputs of {model})"


def _scalar_seconds(path, z, key: str) -> float:
    a = np.asarray(z[key])
    if a.size != 1 or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(f"{path}: $.{key}: expected one number (seconds), got {a.dtype} of shape {list(a.shape)}")
    v = float(a.reshape(()))
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{path}: $.{key}: must be a positive, finite time in seconds, got {v}")
    return v


def _counts(path, s: np.ndarray, n_inputs, model) -> np.ndarray:
    """Check a raster: numeric (bool or real), [T, n] or [B, T, n], finite non-negative integer counts, T ≥ 1."""
    if not (s.dtype == bool or np.issubdtype(s.dtype, np.integer) or np.issubdtype(s.dtype, np.floating)):
        raise InputError(f"{path}: $.spikes: expected numeric event counts, got dtype {s.dtype}")
    if s.ndim not in (2, 3) or (n_inputs is not None and s.shape[-1] != n_inputs):
        got = f" ({s.shape[-1]} input channels)" if s.ndim in (2, 3) else ""
        raise InputError(f"{path}: $.spikes: expected shape {_shape(n_inputs, model)}, got {list(s.shape)}{got}")
    if s.ndim == 2:
        s = s[None]
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise InputError(f"{path}: $.spikes: needs at least one sample and one time step, got shape {list(s.shape)}")
    if s.size > MAX_RASTER_CELLS:
        raise InputError(f"{path}: $.spikes: {s.size:,} cells exceed the limit of {MAX_RASTER_CELLS:,}; split the input")
    f = s.astype(np.float64)
    if not np.all(np.isfinite(f)) or np.any(f < 0) or np.any(f != np.round(f)):
        raise InputError(f"{path}: $.spikes: event counts must be finite non-negative integers")
    return f.astype(np.float32)


def _events(path, z, dt: float) -> dict:
    ev = np.asarray(z["events"])
    if ev.ndim != 2 or ev.shape[1] != 4 or not np.issubdtype(ev.dtype, np.integer):
        raise InputError(f"{path}: 'events' must be an int array [K, 4] of (timestamp µs, tag, chip, core mask), "
                         f"got {ev.dtype} {list(ev.shape)}")
    duration = _scalar_seconds(path, z, "duration") if "duration" in z.files else None
    ev = ev.astype(np.int64)
    last = (duration if duration is not None else (float(ev[:, 0].max()) * 1e-6 if ev.size else 0.0))
    if last / dt > MAX_RASTER_CELLS:
        raise InputError(f"{path}: the events span {last:g} s = {last / dt:,.0f} steps of {dt:g} s, more than the "
                         f"limit of {MAX_RASTER_CELLS:,}; check the timestamps (µs) and 'duration' (s)")
    return {"events": ev, "dt": dt, "duration": duration}
