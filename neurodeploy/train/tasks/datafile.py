"""A user's training data (``--data train.npz``) as a :class:`~neurodeploy.train.task.Task`.

The file is an ``.npz`` (``numpy.savez``) with
    spikes   [n, T, n_inputs]  non-negative integer event counts per bin (any numeric dtype)
    labels   [n]               integer class index 0..n_classes−1
    dt       scalar            bin width in seconds
and optionally ``target_rates`` [n, n_classes] (Hz), ``readout`` [2] (t0, t1 bins) and ``negative`` [n]
(bool; trials without a target class) — the fields ``neurodeploy task-data`` writes. Instead of ``spikes`` the input
spikes may be given by their times, ``times`` (s) and ``channels`` [K] with ``samples`` [K] (the trial of each spike)
and optionally ``duration`` (s), as every command reads them (:mod:`neurodeploy.input_times`): training counts each
in its bin, and with ``--precise-timing`` delivers it at its own time (:attr:`~neurodeploy.train.task.TaskData.timed`).

Validation is strict and never unpickles (``allow_pickle=False``): every problem raises a TrainError
naming the file, the field and what to change. n_classes = max(label) + 1 unless given.

Splits (stratified, chosen with ``split_seed``): ``test`` is a held-out ``test_fraction`` of the trials that
training never sees and that does not choose the checkpoint, ``val`` a ``val_fraction`` of the trials (from the
rest) that chooses it, ``train`` the rest; or ``test`` is a separate file (``train --test FILE``), and then
val/train split the whole training file. :attr:`DataFileTask.test_description` says which. The spikes are the
file's: ``data()``'s seed changes nothing.

Defaults that survive deployment (:meth:`DataFileTask.architecture`), those of the built-in classification
tasks: the count cross-entropy with margins (β = 0.2 per spike) and a population read-out (4 output neurons per
class, summed), initial rates 50 Hz.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..task import TaskData, TrainError, _check_split, classification_metrics
from .common import check_seed, rng, stratified_split, task_code
from ...input_times import read_spike_times
from ...inputs import MAX_RASTER_CELLS

CODE = task_code("data")
REQUIRED = ("spikes", "labels", "dt")
OPTIONAL = ("target_rates", "readout", "negative")
EXAMPLE = "np.savez(f, spikes=counts[n, T, n_inputs], labels=int_labels[n], dt=1e-3)"


def _read(path: Path) -> dict:
    if not path.is_file():
        raise TrainError(f"{path}: data file not found")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:
        raise TrainError(f"{path}: cannot read as .npz ({type(e).__name__}: {e}); write it with {EXAMPLE}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise TrainError(f"{path}: is a single .npy array, not an .npz archive; write it with {EXAMPLE}")
    with z:
        files = list(z.files)
        timed = "times" in files and "spikes" not in files
        need = ("times", "channels", "samples", "labels", "dt") if timed else REQUIRED
        missing = [k for k in need if k not in files]
        if missing:
            raise TrainError(f"{path}: missing field{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)} "
                             f"(has {', '.join(repr(k) for k in files) or 'none'}); write it with {EXAMPLE}")
        allowed = need + OPTIONAL + (("duration",) if timed else ())
        unknown = [k for k in files if k not in allowed]
        if unknown:
            raise TrainError(f"{path}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)} "
                             f"(allowed: {', '.join(allowed)}); remove or rename it")
        out = {}
        for k in files:
            try:
                out[k] = np.asarray(z[k])
            except ValueError:
                raise TrainError(f"{path}: '{k}' is an object array (pickled Python objects are never loaded); "
                                 f"store it as a numeric array") from None
            except Exception as e:
                raise TrainError(f"{path}: '{k}' cannot be read ({type(e).__name__}: {e})") from None
    return out


def _numeric(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TrainError(f"{path}: '{key}' has dtype {a.dtype}; it must be numeric (integers or floats)")
    return a


def _check_spikes(path: Path, s: np.ndarray) -> np.ndarray:
    s = _numeric(path, "spikes", s)
    if s.ndim != 3:
        raise TrainError(f"{path}: 'spikes' must be 3-D [n_trials, T, n_inputs], got shape {list(s.shape)}"
                         + (" (add a trial axis: spikes[None])" if s.ndim == 2 else ""))
    for axis, what in enumerate(("n_trials", "T (time bins)", "n_inputs")):
        if s.shape[axis] == 0:
            raise TrainError(f"{path}: 'spikes' has {what} = 0 (shape {list(s.shape)}); it needs at least one")
    if not np.all(np.isfinite(s)):
        raise TrainError(f"{path}: 'spikes' holds NaN or infinite values; it must hold finite event counts")
    if np.any(s < 0):
        raise TrainError(f"{path}: 'spikes' holds negative values (min {s.min():g}); event counts must be ≥ 0")
    if np.issubdtype(s.dtype, np.floating) and np.any(s != np.round(s)):
        raise TrainError(f"{path}: 'spikes' holds non-integer values; it must hold event counts per bin "
                         f"(bin the events at dt; do not pass rates or probabilities)")
    return s.astype(np.float32)


def _check_labels(path: Path, y: np.ndarray, n: int, n_classes: int | None) -> tuple[np.ndarray, int]:
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        raise TrainError(f"{path}: 'labels' has dtype {y.dtype}; it must hold integer class indices (labels.astype(int))")
    if y.ndim != 1 or y.shape[0] != n:
        raise TrainError(f"{path}: 'labels' must be 1-D with one class index per trial ([{n}]), got shape {list(y.shape)}")
    if y.min() < 0:
        raise TrainError(f"{path}: 'labels' holds negative values (min {y.min()}); class indices start at 0")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.max() >= k:
        raise TrainError(f"{path}: 'labels' holds {y.max()}, out of range for {k} classes (0..{k - 1})")
    if k < 2:
        raise TrainError(f"{path}: 'labels' has a single class; classification needs at least 2 (labels 0..n_classes-1)")
    return y.astype(np.int64), k


def _check_dt(path: Path, dt: np.ndarray) -> float:
    if dt.size != 1 or dt.dtype == bool or not (np.issubdtype(dt.dtype, np.integer) or np.issubdtype(dt.dtype, np.floating)):
        raise TrainError(f"{path}: 'dt' must be one number (the bin width in seconds, e.g. 1e-3), got {dt.dtype} shape {list(dt.shape)}")
    v = float(dt.reshape(()))
    if not np.isfinite(v) or v <= 0:
        raise TrainError(f"{path}: 'dt' must be a positive finite time in seconds (e.g. 1e-3), got {v}")
    return v


def _check_optional(path: Path, raw: dict, n: int, T: int, k: int) -> dict:
    out = {}
    if "target_rates" in raw:
        r = _numeric(path, "target_rates", raw["target_rates"])
        if r.shape != (n, k):
            raise TrainError(f"{path}: 'target_rates' must be [n_trials, n_classes] = [{n}, {k}] (Hz), got {list(r.shape)}")
        if not np.all(np.isfinite(r)) or np.any(r < 0):
            raise TrainError(f"{path}: 'target_rates' must hold finite rates ≥ 0 (Hz)")
        out["target_rates"] = r.astype(np.float32)
    if "readout" in raw:
        w = raw["readout"]
        if w.shape != (2,) or not np.issubdtype(w.dtype, np.integer) or not (0 <= w[0] < w[1] <= T):
            raise TrainError(f"{path}: 'readout' must be two integer bins [t0, t1] with 0 ≤ t0 < t1 ≤ T = {T}, "
                             f"got {w.tolist() if w.size < 8 else list(w.shape)}")
        out["readout"] = (int(w[0]), int(w[1]))
    if "negative" in raw:
        m = raw["negative"]
        if m.dtype != bool or m.shape != (n,):
            raise TrainError(f"{path}: 'negative' must be a bool array [{n}] (True = trial without a target class), "
                             f"got {m.dtype} {list(m.shape)}")
        out["negative"] = m.copy()
    return out


def read_data_file(path: str | Path, n_classes: int | None = None) -> tuple[TaskData, int]:
    """Validate and load a data file → (TaskData of all trials, n_classes)."""
    path = Path(path)
    raw = _read(path)
    dt, timed = _check_dt(path, raw["dt"]), None
    if "times" in raw:                          # input spikes by their times: counted per bin, and timed
        n = int(np.size(raw["labels"]))
        st = read_spike_times(path, _Fields(raw), None, dt, MAX_RASTER_CELLS, TrainError)
        if st.batch > n:
            raise TrainError(f"{path}: $.samples: trial {st.batch - 1} has no label; 'labels' holds {n} trials (0..{n - 1})")
        st = replace(st, batch=n)               # every labelled trial, with spikes or not
        spikes, timed = st.counts, st.timed()
    spikes = _check_spikes(path, raw["spikes"]) if timed is None else spikes
    labels, k = _check_labels(path, raw["labels"], spikes.shape[0], n_classes)
    opt = _check_optional(path, raw, spikes.shape[0], spikes.shape[1], k)
    return TaskData(spikes=spikes, labels=labels, dt=dt, timed=timed, **opt), k


class _Fields(dict):
    """A data file's arrays as :func:`~neurodeploy.input_times.read_spike_times` reads an npz (``files``, ``[key]``)."""

    @property
    def files(self) -> list:
        return list(self)


class DataFileTask:
    """A task over a user's validated data file (``name = "data"``)."""

    name = "data"

    def __init__(self, data: TaskData, n_classes: int, source: str, val_fraction: float = 0.2, split_seed: int = 0,
                 test_fraction: float = 0.2, test: TaskData | None = None, test_source: str | None = None):
        if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
            raise TrainError(f"val_fraction, test_fraction must be in [0, 1) with a sum < 1, got {val_fraction}, "
                             f"{test_fraction}")
        self.all, self.source = data, source
        self.n_inputs, self.n_classes, self.dt = data.n_inputs, n_classes, data.dt
        gen = rng(CODE, check_seed(split_seed))
        self.test_data = test
        if test is None and test_fraction > 0:
            rest, held = stratified_split(data.labels, float(test_fraction), gen)
        else:
            rest, held = np.arange(data.n), np.zeros(0, np.int64)
        frac = float(val_fraction) / (1.0 - float(test_fraction)) if held.size else float(val_fraction)
        tr, va = stratified_split(data.labels[rest], frac, gen)
        train, val = rest[tr], rest[va]
        self.index = {"train": train, "val": val, "test": held if held.size else val}
        if train.size == 0:
            raise TrainError(f"{source}: too few trials ({data.n}) to keep any for training; add trials")
        if test is not None:
            if test.n_inputs != data.n_inputs or not np.isclose(test.dt, data.dt):
                raise TrainError(f"{test_source}: {test.n_inputs} inputs at dt {test.dt:g} s, the training file {source} "
                                 f"{data.n_inputs} at dt {data.dt:g} s; a test file must match its training file")
            self.test_description = f"{test_source}: {test.n} trials of a separate file"
        elif held.size:
            self.test_description = (f"held-out split: {held.size} of the {data.n} trials of {source}, never used for "
                                     f"training or for choosing the checkpoint")
        else:
            self.test_description = f"the validation split of {source} ({val.size} trials; it chose the checkpoint)"

    @classmethod
    def from_file(cls, path: str | Path, val_fraction: float = 0.2, seed: int = 0, n_classes: int | None = None,
                  test_fraction: float = 0.2, test: str | Path | None = None):
        """The task of data file ``path``; ``test``: a separate test file (then no trials are held out of ``path``)."""
        data, k = read_data_file(path, n_classes)
        test_data = None
        if test is not None:
            test_data, _ = read_data_file(test, k)
        return cls(data, k, str(path), val_fraction, seed, test_fraction, test_data, None if test is None else str(test))

    def data(self, split: str, seed: int = 0) -> TaskData:
        _check_split(split)
        check_seed(seed)
        if split == "test" and self.test_data is not None:
            return self.test_data
        return self.all.subset(self.index[split])

    def architecture(self) -> dict:
        """One hidden layer of 64 (fan-in 64), 4 output neurons per class read out as their sum, the count
        cross-entropy with margins (β = 0.2 per spike), initial rates 50 Hz: the settings that make the built-in
        classification tasks survive deployment (docs/guides/train.md)."""
        return {"hidden": 64, "recurrent": False, "outputs_per_class": 4, "init_rate": 50.0, "loss": "ce", "beta": 0.2,
                "epochs": 40, "batch_size": 32, "lr": 0.01, "tau_mem": 20e-3, "tau_ampa": 10e-3, "tau_gaba": 10e-3}

    def metrics(self, counts: np.ndarray, data: TaskData) -> dict:
        return classification_metrics(counts, data)
