"""Shared pieces of the built-in tasks: seeded generators, Poisson spike coding, stratified splits.

Randomness: every draw comes from ``numpy.random.Generator(PCG64(SeedSequence(keys)))`` with integer
keys (a task's code, the split, the seed), so the same keys give the same arrays on every machine and
the draws of different tasks, splits and seeds are independent.

Poisson coding in bins of ``dt``: a channel firing at rate r (Hz) has a spike in a bin with probability
p = min(r·dt, 1) (the Bernoulli discretisation of a Poisson process: ≤ 1 event per bin and channel,
mean rate r for r·dt ≪ 1).
"""

from __future__ import annotations

import zlib

import numpy as np

from ..task import SPLITS, TrainError

SPLIT_CODE = {s: i for i, s in enumerate(SPLITS)}


def task_code(name: str) -> int:
    """A stable integer for a task name (seeds the task's generators)."""
    return zlib.crc32(name.encode("utf-8"))


def rng(*keys: int) -> np.random.Generator:
    """A generator seeded by the integer ``keys`` (non-negative)."""
    for k in keys:
        if int(k) < 0:
            raise TrainError(f"seed must be a non-negative integer, got {k}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(k) for k in keys])))


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TrainError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def poisson_spikes(gen: np.random.Generator, rates: np.ndarray, dt: float) -> np.ndarray:
    """Spike counts (0/1, float32) with per-bin probability min(rates·dt, 1); ``rates`` in Hz, any shape."""
    p = np.clip(np.asarray(rates, np.float64) * dt, 0.0, 1.0)
    return (gen.random(p.shape) < p).astype(np.float32)


def stratified_split(labels: np.ndarray, fraction: float, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, held) with round(fraction·n_k) of each class k held out; both sorted."""
    labels = np.asarray(labels)
    held = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        idx = idx[gen.permutation(idx.size)]
        n_held = int(round(fraction * idx.size))
        if 0 < fraction and idx.size > 1:
            n_held = min(max(n_held, 1), idx.size - 1)
        held.append(idx[:n_held])
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(labels.size), held)
    return rest, held


def one_hot_rates(labels: np.ndarray, n_classes: int, high: float, low: float) -> np.ndarray:
    """[n, n_classes] float32 target rates (Hz): ``high`` for the label's neuron, ``low`` for the others."""
    out = np.full((labels.size, n_classes), low, np.float32)
    out[np.arange(labels.size), labels] = high
    return out


def check_positive(name: str, value, *, integer: bool = False, allow_zero: bool = False) -> float:
    """A task option that must be a positive (or non-negative) finite number."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
    if ok and integer:
        ok = float(value) == int(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "integer" if integer else "number"
        raise TrainError(f"task option {name}: must be a {'non-negative' if allow_zero else 'positive'} {kind}, got {value!r}")
    return int(value) if integer else float(value)


def set_trial_options(task, n_train, n_val, n_test, structure_seed, rate_high, rate_low) -> None:
    """The options of a task with generated trials, checked and set on ``task``: ``sizes`` (trials per
    split), ``structure_seed`` (fixes the trials' structure), ``rate_high``/``rate_low`` (target rates, Hz)."""
    task.sizes = {"train": check_positive("n_train", n_train, integer=True),
                  "val": check_positive("n_val", n_val, integer=True),
                  "test": check_positive("n_test", n_test, integer=True)}
    task.structure_seed = check_seed(structure_seed)
    task.rate_high = check_positive("rate_high", rate_high, allow_zero=True)
    task.rate_low = check_positive("rate_low", rate_low, allow_zero=True)
