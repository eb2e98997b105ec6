"""Input spikes given by their times (``--input`` npz with ``times`` and ``channels``): checked, and binned two ways.

A model's input channels can be given as a list of spikes instead of counts per step:

* ``times`` [K] (s, finite, ≥ 0) and ``channels`` [K] (integer input channels 0 … n_inputs − 1), one row per spike;
* optionally ``samples`` [K] (integer sample of each spike, 0 … batch − 1; default: every spike in sample 0),
  ``batch`` (the number of samples; default: the largest sample + 1) and ``duration`` (s; default: up to the bin
  of the last spike), besides ``dt`` and, as for a raster, ``labels``, ``negative`` and ``readout``.

The run has T = round(duration/dt) steps. Commands that take counts per step see each spike in the bin it falls
in, j = ⌊t/dt⌋, acting at that bin's start (up to one step early; :attr:`SpikeTimes.counts`). With precise spike
timing (``--precise-timing`` of simulate, emulate, verify, yield and train) each spike acts at its own time: it is delivered at step ⌈t/dt⌉ with its
lateness (eqs. (E1)–(E2) of :mod:`neurodeploy.sim.timed_inputs`, :meth:`SpikeTimes.timed`); a spike inside the
last step's bin is then delivered after the run's end and not at all (:attr:`SpikeTimes.late_spikes` counts them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A time within this many steps of a bin boundary is on it (as :data:`neurodeploy.sim.timed_inputs.SNAP`; not
#: imported from there, so that reading an input file does not load JAX).
SNAP = 1e-9


@dataclass(frozen=True)
class SpikeTimes:
    """Checked input spikes: ``times`` [K] (s), ``channels`` [K], ``samples`` [K] (int64), ``batch`` samples of
    ``steps`` steps of ``dt`` s with ``n_inputs`` channels."""

    times: np.ndarray
    channels: np.ndarray
    samples: np.ndarray
    batch: int
    steps: int
    n_inputs: int
    dt: float

    @property
    def counts(self) -> np.ndarray:
        """Counts per step [batch, steps, n_inputs] (float32): each spike in bin ⌊t/dt⌋ (module docstring)."""
        j = np.floor(self.times / self.dt + SNAP).astype(np.int64)
        out = np.zeros((self.batch, self.steps, self.n_inputs), np.float64)
        np.add.at(out, (self.samples, j, self.channels), 1.0)
        return out.astype(np.float32)

    def timed(self) -> tuple[np.ndarray, np.ndarray]:
        """(counts, lateness) [batch, steps, n_inputs] (count, s·count) float32: each spike delivered at step
        ⌈t/dt⌉ with its lateness, as the simulator's ``inputs`` and ``input_lateness`` (module docstring)."""
        from .sim.timed_inputs import bin_events

        pairs = [bin_events(t, c, self.n_inputs, self.dt, self.steps) for t, c in self.per_sample()]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def per_sample(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(times, channels)] of each sample 0 … batch − 1, each in the file's order."""
        order = np.argsort(self.samples, kind="stable")
        cuts = np.searchsorted(self.samples[order], np.arange(1, self.batch))
        return [(self.times[i], self.channels[i]) for i in np.split(order, cuts)]

    @property
    def late_spikes(self) -> int:
        """Spikes that precise timing delivers after the run's end (inside the last step's bin)."""
        return int(np.count_nonzero(np.ceil(self.times / self.dt - SNAP) >= self.steps))


def timed_arrays(counts: np.ndarray, lateness: np.ndarray, dt: float) -> dict:
    """An input file's spike-times arrays (``times``, ``channels``, ``samples``, ``batch``, ``duration``) whose
    :meth:`SpikeTimes.timed` is (``counts``, ``lateness``) [batch, steps, n] again: the k spikes a step delivers on a
    channel all at j·dt − ℓ/k, their mean lateness ℓ/k (the simulator reads a step's inputs only through k and ℓ)."""
    b, j, c = np.nonzero(counts)
    k = counts[b, j, c].astype(np.int64)
    t = j * dt - lateness[b, j, c].astype(np.float64) / k
    rep = lambda a: np.repeat(a, k)     # noqa: E731
    return {"times": np.clip(rep(t), 0.0, None), "channels": rep(c), "samples": rep(b),
            "batch": np.int64(counts.shape[0]), "duration": np.float64(counts.shape[1] * dt)}


def read_spike_times(path, z, n_inputs: int | None, dt: float, max_cells: int, error) -> SpikeTimes:
    """The ``times``/``channels`` form of the input npz ``z`` (read from ``path``) as :class:`SpikeTimes`, checked
    against ``n_inputs`` channels; ``error`` is the exception class for a problem (it names the file and the array)."""
    if "channels" not in z.files:
        raise error(f"{path}: has 'times' but no 'channels' (one integer input channel per spike time)")
    t = np.asarray(z["times"])
    ch = np.asarray(z["channels"])
    if t.ndim != 1 or not (np.issubdtype(t.dtype, np.floating) or np.issubdtype(t.dtype, np.integer)) or t.dtype == bool:
        raise error(f"{path}: $.times: expected a 1-D array of spike times in seconds, got {t.dtype} {list(t.shape)}")
    t = t.astype(np.float64)
    if t.size and not (np.all(np.isfinite(t)) and t.min() >= 0):
        k = int(np.flatnonzero(~(np.isfinite(t) & (t >= 0)))[0])
        raise error(f"{path}: $.times[{k}]: spike times must be finite and >= 0 (s), got {t[k]}")
    _same_length(path, "channels", ch, t.size, error)
    top = f"0..{n_inputs - 1} (n_inputs = {n_inputs})" if n_inputs is not None else "0 or more"
    if ch.size and (ch.min() < 0 or (n_inputs is not None and ch.max() >= n_inputs)):
        k = int(np.flatnonzero((ch < 0) | (ch >= (n_inputs if n_inputs is not None else np.inf)))[0])
        raise error(f"{path}: $.channels[{k}]: input channel {int(ch[k])} out of range; expected {top}")
    samples = np.zeros(t.size, np.int64)
    if "samples" in z.files:
        samples = np.asarray(z["samples"])
        _same_length(path, "samples", samples, t.size, error)
        if samples.size and samples.min() < 0:
            k = int(np.flatnonzero(samples < 0)[0])
            raise error(f"{path}: $.samples[{k}]: sample index {int(samples[k])} is negative")
        samples = samples.astype(np.int64)
    batch = int(samples.max()) + 1 if samples.size else 1
    if "batch" in z.files:
        b = np.asarray(z["batch"])
        if b.size != 1 or not np.issubdtype(b.dtype, np.integer) or b.dtype == bool or int(b.reshape(())) < batch:
            raise error(f"{path}: $.batch: expected one integer >= {batch} (the number of samples; the largest "
                        f"$.samples + 1), got {b.reshape(-1)[:4].tolist()}")
        batch = int(b.reshape(()))
    steps = _steps(path, z, t, dt, error)
    if batch * steps * (n_inputs or 1) > max_cells:
        raise error(f"{path}: {batch} sample(s) x {steps} steps x {n_inputs} channels exceed the limit of "
                    f"{max_cells:,} cells; check $.times (s), $.duration (s) and $.dt, or split the input")
    return SpikeTimes(t, ch.astype(np.int64), samples, batch, steps, int(n_inputs or (int(ch.max()) + 1 if ch.size else 1)),
                      float(dt))


def _same_length(path, key: str, a: np.ndarray, k: int, error) -> None:
    if a.ndim != 1 or a.size != k or (a.size and (not np.issubdtype(a.dtype, np.integer) or a.dtype == bool)):
        raise error(f"{path}: $.{key}: expected {k} integers (one per spike time in $.times), got {a.dtype} {list(a.shape)}")


def _steps(path, z, t: np.ndarray, dt: float, error) -> int:
    """T: round(duration/dt), every spike before the end; without ``duration`` up to the last spike's bin."""
    last = int(np.floor(t.max() / dt + SNAP)) + 1 if t.size else 1
    if "duration" not in z.files:
        return last
    d = np.asarray(z["duration"])
    if d.size != 1 or not (np.issubdtype(d.dtype, np.floating) or np.issubdtype(d.dtype, np.integer)) or d.dtype == bool:
        raise error(f"{path}: $.duration: expected one number (seconds), got {d.dtype} of shape {list(d.shape)}")
    v = float(d.reshape(()))
    steps = int(round(v / dt)) if np.isfinite(v) and v > 0 else 0
    if steps < 1:
        raise error(f"{path}: $.duration: must be at least one step of dt = {dt:g} s, got {v}")
    if last > steps:
        k = int(np.argmax(t))
        raise error(f"{path}: $.times[{k}]: spike at {t[k]:g} s is after the end of the run ($.duration = {v:g} s, "
                    f"{steps} steps of {dt:g} s); lengthen $.duration or drop the spike")
    return steps
