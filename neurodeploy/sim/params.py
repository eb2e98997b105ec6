"""Well-scaled trainable coordinates for a :class:`~neurodeploy.sim.network.SimNetwork`.

Raw amperes make poor training coordinates (gradients ~1e-8 w.r.t. a weight current, ~1e+10 w.r.t.
a leak current). A :class:`Parametrization` maps a pytree ``theta`` of O(1) numbers onto a network:

    theta = {"log_currents": {q: [G]}, "weights": [n_syn]}

    I_q[n]    = I_ref_q[n] · exp(theta.log_currents[q][group[n]])                (log-currents)
    I_w[k]    = max(sign_k · theta.weights[syn_k], 0) · scale_k    ("pair" entries, signed synapses)
    I_w[k]    = |theta.weights[syn_k]| · scale_k                   ("abs" entries, fixed-dendrite synapses)

``group`` maps each neuron to its trainable current: by default one per neuron (G = N); with
``neuron_group`` (e.g. the population index of each neuron) a current is SHARED by a group — as on
the chip, where the biases of a core are shared by its 256 neurons. ``I_ref`` are the network's
currents when the parametrization was made (so ``theta = init()`` is the network itself); ``syn_k``,
``sign_k`` and ``scale_k`` (A per unit weight) come from a
:class:`~neurodeploy.sim.network.NetworkIndex` — a network's signed weights w and ``weight_scale`` — or, for a
network built from arrays, one synapse per entry with sign +1. With ``build_from_network(...,
sign_pairs=True)`` an "auto" synapse has an AMPA (+) and a GABA (−) entry, so its weight can change
sign during training. An "abs" entry (``entry_abs``; a synapse on a fixed dendrite such as NMDA) uses
|w|, so its gradient never vanishes for good the way ``max(w, 0)`` does once w < 0.

An optional ``mask`` [n_syn] (0/1) multiplies the weights (e.g. a fan-in mask). Usage::

    par = Parametrization.from_network_index(net, index)
    theta = par.init()
    loss = lambda th: f(simulate(par.apply(net, th), x)[0])
    g = jax.grad(loss)(theta)
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..device.profile import NEURON_QUANTITIES
from .errors import SimError
from .network import DTYPE, SimNetwork, NetworkIndex


@dataclass(frozen=True)
class Parametrization:
    ref_currents: dict
    entry_synapse: np.ndarray
    entry_sign: np.ndarray
    entry_scale: np.ndarray
    init_weights: np.ndarray
    trainable: tuple
    entry_abs: np.ndarray | None = None       # [S] bool: I_w = |w|·scale (else max(sign·w, 0)·scale)
    neuron_group: np.ndarray | None = None    # [N] int: trainable-current group of each neuron (None: per neuron)

    @classmethod
    def from_network_index(cls, net: SimNetwork, index: NetworkIndex, currents=NEURON_QUANTITIES) -> "Parametrization":
        return cls._make(net, index.entry_synapse, index.entry_sign, index.synapse_scale[index.entry_synapse],
                         index.synapse_w, currents)

    @classmethod
    def from_network(cls, net: SimNetwork, weight_scale: float | None = None, currents=NEURON_QUANTITIES) -> "Parametrization":
        """One trainable weight per entry, ``I_w = w·weight_scale`` (default: the mean non-zero weight, else 1 nA)."""
        w = np.asarray(net.weight, dtype=np.float64)
        if weight_scale is None:
            nz = w[w > 0]
            weight_scale = float(nz.mean()) if nz.size else 1e-9
        s = w.shape[0]
        return cls._make(net, np.arange(s), np.ones(s, np.int64), np.full(s, weight_scale), w / weight_scale, currents)

    @classmethod
    def from_entries(cls, net: SimNetwork, entry_synapse, entry_sign, entry_scale, init_weights, *,
                     currents=(), entry_abs=None, neuron_group=None) -> "Parametrization":
        """General form: entries → synapses (``entry_synapse``, ``entry_sign`` ±1, ``entry_scale`` A per
        unit), initial unitless synapse weights, trainable ``currents`` shared by ``neuron_group`` [N]
        (int, e.g. population index; None: one per neuron), ``entry_abs`` [S] bool (|w| entries)."""
        p = cls._make(net, np.asarray(entry_synapse), np.asarray(entry_sign), np.asarray(entry_scale),
                      np.asarray(init_weights), currents)
        ea = None if entry_abs is None else np.asarray(entry_abs, bool)
        if ea is not None and ea.shape != p.entry_synapse.shape:
            raise SimError(f"entry_abs: expected shape {p.entry_synapse.shape}, got {ea.shape}")
        ng = None
        if neuron_group is not None:
            ng = np.asarray(neuron_group, np.int32)
            if ng.shape != (net.n_neurons,) or (ng.size and ng.min() < 0):
                raise SimError(f"neuron_group: expected {net.n_neurons} non-negative group indices, got shape {ng.shape}")
        return cls(p.ref_currents, p.entry_synapse, p.entry_sign, p.entry_scale, p.init_weights, p.trainable, ea, ng)

    @classmethod
    def _make(cls, net, entry_synapse, entry_sign, entry_scale, init_weights, currents):
        unknown = [q for q in currents if q not in NEURON_QUANTITIES]
        if unknown:
            raise SimError(f"trainable currents: unknown {', '.join(unknown)} (known: {', '.join(NEURON_QUANTITIES)})")
        if entry_synapse.shape[0] != net.n_synapses:
            raise SimError(f"parametrization: {entry_synapse.shape[0]} entries, but the network has {net.n_synapses}")
        return cls(ref_currents={q: np.asarray(net.currents[q]) for q in currents},
                   entry_synapse=np.asarray(entry_synapse, np.int32), entry_sign=np.asarray(entry_sign, np.float32),
                   entry_scale=np.asarray(entry_scale, np.float32), init_weights=np.asarray(init_weights, np.float32),
                   trainable=tuple(currents))

    @property
    def n_groups(self) -> int:
        """Number of values per trainable current (groups, or neurons)."""
        if self.neuron_group is None:
            return int(next(iter(self.ref_currents.values())).shape[0]) if self.ref_currents else 0
        return int(self.neuron_group.max()) + 1 if self.neuron_group.size else 0

    def init(self) -> dict:
        """theta that reproduces the network the parametrization was made from."""
        return {"log_currents": {q: jnp.zeros(self.n_groups, DTYPE) for q in self.ref_currents},
                "weights": jnp.asarray(self.init_weights, DTYPE)}

    def weights(self, theta, mask=None) -> jnp.ndarray:
        """Entry weight currents I_w [S] (A) of theta (synapse weights times ``mask`` [n_syn] if given)."""
        w = jnp.asarray(theta["weights"])
        if mask is not None:
            w = w * mask
        w = w[..., self.entry_synapse]
        signed = jnp.maximum(self.entry_sign * w, 0.0)
        if self.entry_abs is not None:
            signed = jnp.where(self.entry_abs, jnp.abs(w), signed)
        return signed * self.entry_scale

    def group_factor(self, theta, q) -> jnp.ndarray:
        """exp(log_currents[q]) per neuron [N]."""
        lc = jnp.asarray(theta["log_currents"][q])
        return jnp.exp(lc if self.neuron_group is None else lc[self.neuron_group])

    def currents(self, theta) -> dict:
        return {q: jnp.asarray(self.ref_currents[q], DTYPE) * self.group_factor(theta, q) for q in self.trainable}

    def apply(self, net: SimNetwork, theta, mask=None) -> SimNetwork:
        """The network with theta's currents and weights (differentiable w.r.t. theta)."""
        cur = dict(net.currents)
        cur.update(self.currents(theta))
        return net.replace(currents=cur, weight=self.weights(theta, mask))
