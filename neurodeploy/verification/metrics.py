"""Fidelity metrics of a deployment: spike-count agreement, accuracy, firing-rate ratio (pure numpy).

Shapes: ``counts`` [..., B, n_out] spike counts of the model outputs per input sample; ``ref``
[B, n_out] the reference (float network without mismatch); ``duration`` the sample length (s).

* Pearson r per output neuron between reference and deployed counts across the B samples (an
  output that is silent in both is perfect agreement, r = 1; silent in one only, r = 0). Across fewer
  than :data:`MIN_SAMPLES_FOR_R` samples that r is undefined (one sample: no spread) or meaningless (two:
  always ±1), and r over the pooled (sample, output) counts of so few samples is no gate either (on a
  one-sample, 6-output NIR example the float network's own 10 % mismatch already moves it to 0.85): verify
  reports the correlation as not applicable (:func:`correlation_kind`) and the relative rate error
  decides;
* mean absolute rate difference per output neuron (Hz) = mean_B |Δcount| / duration;
* relative rate error = Σ_B,out |Δcount| / Σ_B,out reference count — the deployment's rate error in
  units of the reference's own rate (0 = identical counts; 1 = off by as much as the reference fires);
  scale-aware where correlation and accuracy are not (a 20× rate increase keeps r and accuracy);
* accuracy = mean_B [the label's output has the top count, alone] — strict: a sample whose top
  count is shared (a silent sample included) is wrong (the training tasks' convention);
* firing-rate ratio (FRR) of the decision neurons: for the samples of class k, the mean rate of
  output k over the mean rate of the other outputs; FRR = geometric mean over classes. > 1 means
  the right neuron fires more; rates get +1/duration (one spike) so silence gives a finite ratio.
"""

from __future__ import annotations

import numpy as np


def pearson_r(ref: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[..., n_out] Pearson r across samples (axis −2) between ``ref`` [B, n_out] and ``counts`` [..., B, n_out]."""
    a = ref - ref.mean(axis=-2, keepdims=True)
    b = counts - counts.mean(axis=-2, keepdims=True)
    num = (a * b).sum(axis=-2)
    den = np.sqrt((a * a).sum(axis=-2) * (b * b).sum(axis=-2))
    both_const = ((a * a).sum(axis=-2) == 0) & ((b * b).sum(axis=-2) == 0)
    same = np.all(np.broadcast_to(ref, counts.shape) == counts, axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    return np.where(both_const & same, 1.0, r)


#: Fewest samples for a per-output correlation across samples (below: :func:`correlation_kind`).
MIN_SAMPLES_FOR_R = 3


def correlation_kind(ref: np.ndarray) -> str:
    """Which rate correlation the reference ``ref`` [B, n_out] supports: ``"per_output"`` (r across samples,
    B ≥ :data:`MIN_SAMPLES_FOR_R`) or ``"not_applicable"``."""
    return "per_output" if np.asarray(ref).shape[0] >= MIN_SAMPLES_FOR_R else "not_applicable"


def rate_difference(ref: np.ndarray, counts: np.ndarray, duration: float) -> np.ndarray:
    """[..., n_out] mean absolute firing-rate difference (Hz)."""
    return np.abs(counts - ref).mean(axis=-2) / duration


def relative_rate_error(ref: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[...] Σ|counts − ref| / Σ ref over samples and outputs (a silent reference counts as 1 spike)."""
    diff = np.abs(counts - ref).sum(axis=(-2, -1))
    return diff / max(float(np.sum(ref)), 1.0)


def accuracy(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[...] fraction of samples whose most active output is the label, alone (ties and silence: wrong)."""
    top = counts.max(axis=-1, keepdims=True)
    unique = (counts == top).sum(axis=-1) == 1
    return (unique & (np.argmax(counts, axis=-1) == labels)).mean(axis=-1)


def firing_rate_ratio(counts: np.ndarray, labels: np.ndarray, duration: float) -> np.ndarray:
    """[...] FRR (see module doc); needs n_out ≥ 2 and labels in 0..n_out−1."""
    n_out = counts.shape[-1]
    rates = (counts + 1.0) / duration
    logs = []
    for k in range(n_out):
        sel = labels == k
        if not np.any(sel):
            continue
        r = rates[..., sel, :].mean(axis=-2)                # [..., n_out]
        others = np.delete(r, k, axis=-1).mean(axis=-1)
        logs.append(np.log(r[..., k] / others))
    return np.exp(np.mean(logs, axis=0))


def summarise(x: np.ndarray, worst: str = "low") -> dict:
    """Median and worst 5 % (the 5th percentile when low is bad, the 95th when high is bad)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    q = 5 if worst == "low" else 95
    return {"median": float(np.median(x)), "worst_5pct": float(np.percentile(x, q)), "min": float(x.min()),
            "max": float(x.max())}
