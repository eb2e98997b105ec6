"""A network's synapses as columns (the quantizer's and the design rules' view of a Network)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dendrites import dendrite_index


@dataclass
class Synapses:
    """All synapses of a network as parallel arrays."""

    src: np.ndarray      # global source: 0..n_in−1 inputs, n_in + j neuron j
    dst: np.ndarray      # global neuron index
    target: np.ndarray   # weight current |w|·weight_scale (A)
    dend: np.ndarray     # dendrites.Dendrite index: 0 ampa, 1 nmda, 2 gaba, 3 shunt
    proj: np.ndarray     # projection index
    delay: np.ndarray | None = None   # synaptic delay (s); None: the network gives no delays

    def take(self, sel) -> "Synapses":
        return Synapses(self.src[sel], self.dst[sel], self.target[sel], self.dend[sel], self.proj[sel],
                        None if self.delay is None else self.delay[sel])

    def dendrites_in(self, n_neurons: int) -> np.ndarray:
        """[N, 4] bool: neuron receives at least one synapse on each dendrite."""
        out = np.zeros((n_neurons, 4), bool)
        out[self.dst, self.dend] = True
        return out


def synapses_of(network) -> Synapses:
    """Every projection's non-zero weights, with target weight current |w|·weight_scale (A) and, when any
    projection gives a ``delay``, every synapse's delay (s; 0 where its projection gives none)."""
    off = network.offsets()
    parts = []
    for k, pr in enumerate(network.projections):
        pre, post, w = network.projection_coo(k)
        src = pre if pr.source == "input" else pre + network.n_inputs + off[pr.source]
        dst = post + off[pr.target]
        d = network.projection_delay(k) if network.has_delays else None
        parts.append((src, dst, np.abs(w) * pr.weight_scale, dendrite_index(pr.synapse, w), np.full(w.shape, k),
                      np.zeros(w.shape) if d is None else d))
    if not parts:
        z = np.zeros(0, np.int64)
        return Synapses(z, z, np.zeros(0), z, z)
    cols = [np.concatenate([p[i] for p in parts]).astype(t)
            for i, t in enumerate((np.int64, np.int64, np.float64, np.int64, np.int64, np.float64))]
    return Synapses(*cols[:5], cols[5] if network.has_delays else None)


def largest_per_target(magnitude: np.ndarray, dst: np.ndarray, cam: int) -> np.ndarray:
    """[S] bool: for each target neuron, its ``cam`` synapses of largest ``magnitude`` (ties: first listed).

    The fan-in rule of the chip — a neuron has ``cam`` CAM entries — as training (the fan-in mask of
    :mod:`neurodeploy.train.constraints`) and deployment (:func:`keep_largest`) both apply it."""
    magnitude = np.asarray(magnitude, np.float64)
    dst = np.asarray(dst)
    order = np.lexsort((np.arange(magnitude.size), -magnitude, dst))
    d = dst[order]
    rank = np.arange(d.size) - np.searchsorted(d, d, side="left")
    keep = np.zeros(d.size, bool)
    keep[order] = rank < cam
    return keep


def keep_largest(syn: Synapses, cam: int) -> np.ndarray:
    """[S] bool: each neuron's ``cam`` synapses of largest target current (ties: first listed)."""
    return largest_per_target(syn.target, syn.dst, cam)
