"""The task interface shared by the training engine and the built-in tasks (numpy only, no jax).

A task is a data generator plus a metric. Its data come as :class:`TaskData`: input event counts
per time bin ``spikes[n, T, n_inputs]`` (non-negative integers stored as float32), one class label per
trial, the bin width ``dt`` (s) and, optionally, target firing rates (Hz) for rate losses and the bin
window in which the outputs are read.

Splits are ``"train"``, ``"val"`` and ``"test"``. ``task.data(split, seed)`` is deterministic: the same
seed gives identical arrays; a different seed gives a fresh Poisson realisation of the *same* split (the
same underlying samples, labels and trial structure), so a held-out test split stays held out.

Built-in tasks (``get_task(name, **options)``): ``frozen-noise``, ``temporal-xor``, ``digits``, ``coincidence``.
A user's data file (``--data train.npz``): :func:`load_data_file`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import NeurodeployError

SPLITS = ("train", "val", "test")
TASK_NAMES = ("frozen-noise", "temporal-xor", "digits", "coincidence")


class TrainError(NeurodeployError):
    """A training request cannot be run: unknown task, bad data file, bad option."""


@dataclass(frozen=True)
class TaskData:
    """A split of a task: input event counts per bin and labels.

    ``negative`` (optional, bool [n]) marks trials without a target class (frozen-noise's unseen noise
    samples, the tutorial's negative test). Their ``labels`` entry is a placeholder (a valid output index,
    so files stay readable by ``verify``); losses and accuracy must skip them — ``Task.metrics`` does.
    """

    spikes: np.ndarray                        # [n, T, n_inputs] float32, non-negative integer counts per bin
    labels: np.ndarray                        # [n] int64 class index in 0..n_classes-1
    dt: float                                 # bin width (s)
    target_rates: np.ndarray | None = None    # optional [n, n_classes] target rate (Hz) for rate/MSE losses
    readout: tuple[int, int] | None = None    # optional (t0, t1) bin window of the outputs; None = whole trial
    negative: np.ndarray | None = None        # optional [n] bool: trials with no target class (skip in losses)
    timed: tuple | None = None                # optional (counts, lateness s·count) [n, T, n_inputs]: input spikes
    #                                           given by their times, each delivered at its own time (precise timing)

    @property
    def n(self) -> int:
        return int(self.spikes.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.spikes.shape[1])

    @property
    def n_inputs(self) -> int:
        return int(self.spikes.shape[2])

    @property
    def window(self) -> tuple[int, int]:
        """The readout window (t0, t1) in bins; the whole trial when ``readout`` is None."""
        return self.readout if self.readout is not None else (0, self.n_steps)

    @property
    def positive(self) -> np.ndarray:
        """bool [n]: trials that have a target class (all unless ``negative`` is given)."""
        return np.ones(self.n, bool) if self.negative is None else ~np.asarray(self.negative, bool)

    def subset(self, idx) -> "TaskData":
        """The trials ``idx`` (an index array or a bool mask), same dt and readout."""
        idx = np.asarray(idx)
        return TaskData(self.spikes[idx], self.labels[idx], self.dt,
                        None if self.target_rates is None else self.target_rates[idx], self.readout,
                        None if self.negative is None else self.negative[idx],
                        None if self.timed is None else (self.timed[0][idx], self.timed[1][idx]))

    def inputs(self, precise_timing: bool = False):
        """What the simulator runs on: the counts per bin, or with ``precise_timing`` and input spikes given by their
        times the pair (counts, lateness) (:meth:`neurodeploy.input_times.SpikeTimes.timed`)."""
        return self.timed if precise_timing and self.timed is not None else self.spikes

    def arrays(self) -> dict:
        """The npz fields (``spikes``, ``labels``, ``dt`` and the optional ones that are set)."""
        out = {"spikes": self.spikes, "labels": self.labels, "dt": np.float64(self.dt)}
        if self.target_rates is not None:
            out["target_rates"] = self.target_rates
        if self.readout is not None:
            out["readout"] = np.asarray(self.readout, np.int64)
        if self.negative is not None:
            out["negative"] = np.asarray(self.negative, bool)
        return out


@runtime_checkable
class Task(Protocol):
    """A training task: its data, a default architecture, its metric."""

    name: str          # "frozen-noise", "temporal-xor", "digits", "data" (a user file)
    n_inputs: int
    n_classes: int     # = the number of read-out channels (an output neuron, or a summed group, per class)
    dt: float          # bin width (s)

    def data(self, split: str, seed: int = 0) -> TaskData:
        """Split in {"train", "val", "test"}; same seed → identical arrays; another → fresh Poisson draw."""
        ...

    def architecture(self) -> dict:
        """Default architecture and training settings (see :data:`ARCHITECTURE_KEYS`)."""
        ...

    def metrics(self, counts: np.ndarray, data: TaskData) -> dict:
        """``counts`` [n, n_classes] output spike counts in the readout window → {"accuracy": ..., ...}."""
        ...


#: Keys of ``Task.architecture()`` (hints: the engine may ignore those it does not support).
ARCHITECTURE_KEYS = {
    "hidden": "int: hidden neurons (0 = inputs straight to the outputs)",
    "recurrent": "bool: recurrent connections within the hidden (or, without hidden, the output) population",
    "outputs_per_class": "int: output neurons per class, summed into one read-out channel (default 1)",
    "loss": '"ce" (cross-entropy on output counts) | "ce_current" (on the output synaptic current) | "rate_mse" (MSE to target_rates)',
    "epochs": "int", "batch_size": "int", "lr": "float (Adam learning rate)",
    "draws": "int: mismatch draws per training step (default 4)",
    "eval_every": "int: validate every K epochs (default 1; tasks with one step per epoch validate less often)",
    "beta": "float: inverse temperature of the count cross-entropy, per spike (default 1)",
    "tau_mem": "s: membrane time constant of hidden/output neurons",
    "tau_ampa": "s: fast excitatory synapse time constant",
    "tau_nmda": "s: slow excitatory synapse time constant (memory; 0/absent = no NMDA projection)",
    "tau_gaba": "s: inhibitory synapse time constant",
    "hidden_slow": "int: of the hidden neurons, how many get the slow (NMDA) input projection",
    "init_rate": "Hz: firing rate the engine calibrates the initial weights to (default 15)",
}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise TrainError(f"unknown split '{split}' (use one of: {', '.join(SPLITS)})")


def classification_metrics(counts: np.ndarray, data: TaskData) -> dict:
    """Accuracy on the trials with a target class: mean [argmax_k counts[i, k] == label_i].

    A trial whose top count is shared by several outputs (incl. all silent) counts as wrong — the one
    convention of training (checkpoint selection), the tasks and ``verify``; ``silent_fraction`` is
    the fraction of those trials with no output spike at all. ``accuracy_argmax`` (ties → the lowest
    index, so a silent trial of class 0 counts as right) is kept for comparison.
    """
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 2 or counts.shape[0] != data.n:
        raise TrainError(f"metrics: counts must be [{data.n}, n_classes], got {list(counts.shape)}")
    pos = data.positive
    c, y = counts[pos], np.asarray(data.labels)[pos]
    if c.shape[0] == 0:
        return {"accuracy": float("nan"), "accuracy_argmax": float("nan"), "silent_fraction": float("nan"), "n": 0}
    top = c.max(axis=1)
    unique_top = (c == top[:, None]).sum(axis=1) == 1
    correct = unique_top & (np.argmax(c, axis=1) == y)
    return {"accuracy": float(correct.mean()), "accuracy_argmax": float((np.argmax(c, axis=1) == y).mean()),
            "silent_fraction": float((top == 0).mean()), "n": int(c.shape[0])}
