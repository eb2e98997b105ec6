"""Core assignment: neurons that share a core must share every bias (all biases are per core).

Each neuron's parameter set is its vector of bias codes — the (coarse, fine) code nearest to each
current it needs — for the parameters that matter to it; parameters that cannot affect it are
"don't care" (the AHP without adaptation, I_dc without the DC latch, the NMDA gate when unused,
a synapse type it receives nothing on). Neurons with compatible code vectors form one group;
two neurons whose currents map to the same codes are identical on the chip, so grouping on codes
loses nothing. A group larger than a core is split into chunks of ≤ 256 neurons in index order
(locality), or sorted by the scale of their incoming weights when those differ widely, so that
each core's four shared base weights fit its synapses.

When the groups need more cores than the board has, neurons are clustered (k-means on log-
currents, capacity ≤ 256 per cluster) into as many cores as are available, each cluster taking
the median log-current of its members; the per-neuron parameter error this introduces is
reported, never applied silently — or refused with ``strict=True`` (rule ``shared-parameters``).
The logs and exps are :mod:`neurodeploy.detmath`'s (the same bits on every machine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import detmath
from ..device.profile import NEURON_QUANTITIES
from ..rules import fail, raise_all
from ..rules.network import bias_range_messages, cores_message, shared_parameters_message
from ..device.parameter_sets import cores_needed, neuron_codes, parameter_groups


@dataclass
class LogicalCore:
    """Neurons (global indices) that will share one physical core, and their shared currents."""

    neurons: np.ndarray
    currents: dict[str, float]                        # quantity → shared current (A); absent = don't care
    clustered: bool = False
    param_error: dict[str, float] = field(default_factory=dict)   # quantity → max |rel. error| over members


def _split_by_weight_scale(neurons: np.ndarray, scale: np.ndarray, cap: int, spread: float = 2.0) -> list[np.ndarray]:
    """Chunks of ≤ cap neurons. Index order (which usually follows the network's locality, keeping
    each core's sources — and so its tags — few) unless the incoming weight scales of the neurons
    differ by more than ``spread`` (90th / 10th percentile): then by weight scale, so each core's
    shared base weights fit its synapses."""
    n_chunks = -(-len(neurons) // cap)
    if n_chunks == 1:
        return [neurons]
    s = scale[neurons]
    pos = s[s > 0]
    if pos.size and np.percentile(pos, 90) > spread * np.percentile(pos, 10):
        neurons = neurons[np.argsort(s, kind="stable")]
    return [c for c in np.array_split(neurons, n_chunks)]


def _kmeans_capacity(X: np.ndarray, K: int, cap: int, rng: np.random.Generator, iters: int = 20) -> np.ndarray:
    """Capacity-constrained k-means (each cluster ≤ cap points); deterministic for a seeded rng."""
    n = X.shape[0]
    # k-means++ initialisation
    centers = [X[rng.integers(n)]]
    for _ in range(1, K):
        d = np.min(((X[:, None, :] - np.stack(centers)[None]) ** 2).sum(-1), axis=1)
        p = d / d.sum() if d.sum() > 0 else np.full(n, 1 / n)
        centers.append(X[rng.choice(n, p=p)])
    C = np.stack(centers)
    labels = np.zeros(n, np.int64)
    for _ in range(iters):
        D = ((X[:, None, :] - C[None]) ** 2).sum(-1)          # [n, K]
        # points with the largest regret (2nd best − best) choose first
        part = np.sort(D, axis=1)
        regret = (part[:, 1] - part[:, 0]) if K > 1 else np.zeros(n)
        order = np.argsort(-regret, kind="stable")
        room = np.full(K, cap)
        new = np.empty(n, np.int64)
        for i in order:
            for k in np.argsort(D[i], kind="stable"):
                if room[k] > 0:
                    new[i] = k
                    room[k] -= 1
                    break
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for k in range(K):
            m = labels == k
            if np.any(m):
                C[k] = X[m].mean(0)
    return labels


def assign_cores(network, profile, params: dict[str, np.ndarray], rel: np.ndarray, weight_scale_in: np.ndarray,
                 max_cores: int, *, strict: bool = False, seed: int = 0) -> list[LogicalCore]:
    """Group neurons into logical cores (≤ neurons_per_core each, ≤ max_cores cores)."""
    cap = profile.geometry.neurons_per_core
    m = cores_message(network.n_neurons, max_cores, profile)
    if m:
        fail("cores", m)
    raise_all([("bias-range", m) for m in bias_range_messages(network, profile, params, rel)])
    groups = parameter_groups(neuron_codes(network, profile, params, rel))
    need = cores_needed(groups, cap)
    cores: list[LogicalCore] = []
    if need <= max_cores:
        for g in groups:
            for chunk in _split_by_weight_scale(g, weight_scale_in, cap):
                cores.append(LogicalCore(np.sort(chunk), _shared(profile, params, rel, chunk)))
        return cores
    if strict:
        fail("shared-parameters", shared_parameters_message(len(groups), need, max_cores))
    # cluster in log-current space over the relevant quantities
    X = detmath.log(np.stack([params[q] for q in NEURON_QUANTITIES], axis=1))   # bit-reproducible log
    X = np.where(rel, X, np.nan)
    col_mean = np.nanmean(np.where(np.isnan(X).all(0, keepdims=True), 0.0, X), axis=0)
    Xf = np.where(np.isnan(X), col_mean, X)
    Xf = np.where(np.isnan(Xf), 0.0, Xf)
    labels = _kmeans_capacity(Xf, max_cores, cap, np.random.default_rng(seed))
    for k in range(max_cores):
        members = np.flatnonzero(labels == k)
        if members.size == 0:
            continue
        shared = _shared(profile, params, rel, members, median=True)
        err = {}
        for qi, q in enumerate(NEURON_QUANTITIES):
            m = members[rel[members, qi]]
            if m.size and q in shared:
                err[q] = float(np.max(np.abs(shared[q] / params[q][m] - 1)))
        cores.append(LogicalCore(members, shared, clustered=True, param_error=err))
    return cores


def _shared(profile, params, rel, members: np.ndarray, median: bool = False) -> dict[str, float]:
    """The core's current per quantity: the members' (identical-code) value, or the median in log."""
    out = {}
    for qi, q in enumerate(NEURON_QUANTITIES):
        m = members[rel[members, qi]]
        if m.size == 0:
            continue
        vals = params[q][m]
        out[q] = float(detmath.exp(np.median(detmath.log(vals)))) if median else float(vals[0])
    return out
