"""Well-scaled trainable coordinates for a :class:`~neurodeploy.sim.network.SimNetwork`.

Raw amperes make poor training coordinates (gradients ~1e-8 w.r.t. a weight current, ~1e+10 w.r.t.
a leak current). A :class:`Parametrization` maps a pytree ``theta`` of O(1) numbers onto a network:

    theta = {"log_currents": {q: [N]}, "weights": [n_syn]}

    I_q[n]    = I_ref_q[n] · exp(theta.log_currents[q][n])                      (log-currents)
    I_w[k]    = max(sign_k · theta.weights[syn_k], 0) · scale_k                   (unitless weights)

``I_ref`` are the network's currents when the parametrization was made (so ``theta = init()`` is
the network itself); ``syn_k``, ``sign_k`` and ``scale_k`` (A per unit weight) come from a
:class:`~neurodeploy.sim.network.SpecIndex` — a spec's signed weights w and ``weight_scale`` — or, for a
network built from arrays, one synapse per entry with sign +1. With ``build_from_spec(...,
sign_pairs=True)`` an "auto" synapse has an AMPA (+) and a GABA (−) entry, so its weight can change
sign during training. Usage::

    par = Parametrization.from_spec_index(net, index)
    theta = par.init()
    loss = lambda th: f(simulate(par.apply(net, th), x)[0])
    g = jax.grad(loss)(theta)
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..profile import NEURON_QUANTITIES
from .errors import SimError
from .network import DTYPE, SimNetwork, SpecIndex


@dataclass(frozen=True)
class Parametrization:
    ref_currents: dict
    entry_synapse: np.ndarray
    entry_sign: np.ndarray
    entry_scale: np.ndarray
    init_weights: np.ndarray
    trainable: tuple

    @classmethod
    def from_spec_index(cls, net: SimNetwork, index: SpecIndex, currents=NEURON_QUANTITIES) -> "Parametrization":
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

    def init(self) -> dict:
        """theta that reproduces the network the parametrization was made from."""
        return {"log_currents": {q: jnp.zeros_like(jnp.asarray(v, DTYPE)) for q, v in self.ref_currents.items()},
                "weights": jnp.asarray(self.init_weights, DTYPE)}

    def weights(self, theta) -> jnp.ndarray:
        """Entry weight currents I_w [S] (A) of theta."""
        w = jnp.asarray(theta["weights"])[..., self.entry_synapse]
        return jnp.maximum(self.entry_sign * w, 0.0) * self.entry_scale

    def currents(self, theta) -> dict:
        return {q: jnp.asarray(self.ref_currents[q], DTYPE) * jnp.exp(theta["log_currents"][q]) for q in self.trainable}

    def apply(self, net: SimNetwork, theta) -> SimNetwork:
        """The network with theta's currents and weights (differentiable w.r.t. theta)."""
        cur = dict(net.currents)
        cur.update(self.currents(theta))
        return net.replace(currents=cur, weight=self.weights(theta))
