"""Hardware-aware constraints of Dynap-SE2, each switchable, each exactly satisfied at the end.

**Fan-in** (64 CAM entries per neuron). A 0/1 mask over the synapse slots keeps, per target neuron,
the ``cam`` slots of largest |w| (every slot is one CAM entry; ties → lower slot index):

    mask[i] = 1  ⇔  rank_{j : dst_j = dst_i}(|w_j|) < cam

The forward pass uses w·mask; the backward pass is the identity (straight-through), so masked
weights keep learning and win their place back when the mask is re-chosen every few steps
(regrowth, as in SR-STE / dynamic sparse training). The final weights are w·mask.

**Bias range.** Trainable log-currents are projected after every step into the range the bias
generator can produce (:meth:`~neurodeploy.train.structure.Structure.current_bounds`), so the
``bias-range`` rule cannot fire on a trained model; weights are clipped to one CAM entry's maximum
current 4·max(SYAM_W*_P).

**Weight grid** (quantization-aware training). :class:`GridQuantizer` runs the SAME quantizer that
``neurodeploy map`` runs (:func:`neurodeploy.quantize.quantizer.quantize_network`: core assignment,
per-core base weights on the DAC grid) on the current model, then, per step, gives each synapse
the current the chip would realise with those base weights (:func:`neurodeploy.quantize.weights.assign`,
spare CAM entries and the NMDA scale included). The step uses w_q in the forward pass and the
identity in the backward pass (straight-through estimator):

    w_used = w + stop_gradient(w_q − w)

The final model holds w_q exactly, so mapping it reproduces its weights (error ≈ 0). Learned delays
(``--learn-delays``) get the same treatment: in the QAT phase each synapse's delay is the one of the four
levels 0, t₀ + t₁, t₀ + t₂, t₀ + t₁ + t₂ of its core (the delay biases ``map`` chooses) nearest to it,
straight-through, so that mapping reproduces the trained delays too; and in both phases each delay's mismatch
has the spread of that level (:meth:`GridQuantizer.delay_spreads`: DLY2's 3× included), as the emulator draws it.
Fine-tuning for a measured chip (``train --chip``) puts them on the levels that chip realises instead
(:mod:`.chip_delays`).
"""

from __future__ import annotations

import numpy as np

from ..device.synapses import largest_per_target
from ..quantize.weights import CoreProblem, assign


def fan_in_mask(w: np.ndarray, dst: np.ndarray, cam: int) -> np.ndarray:
    """0/1 float32 mask [n_syn]: per target neuron the ``cam`` slots of largest |w| (see module doc)."""
    return largest_per_target(np.abs(np.asarray(w, np.float64)), dst, cam).astype(np.float32)


def fan_in(w: np.ndarray, dst: np.ndarray, n_neurons: int) -> np.ndarray:
    """CAM entries per neuron [N]: non-zero synapse slots per target."""
    return np.bincount(dst[np.asarray(w) != 0], minlength=n_neurons)


class GridQuantizer:
    """The per-core weight grid that ``map`` will use, and projection of weights onto it."""

    def __init__(self, structure, profile, seed: int = 0):
        self.st, self.profile, self.seed = structure, profile, seed
        self.cam = profile.geometry.cam_entries_per_neuron
        self.core_of = None

    def refit(self, theta, w: np.ndarray) -> dict:
        """Run the map quantizer on the model (theta's currents, weights ``w``); keep its core grid.
        Returns its weight report (relative RMS error etc.)."""
        from ..quantize.quantizer import quantize_network

        network = self.st.to_network(theta, weights=w)
        qn = quantize_network(network, self.profile, seed=self.seed)
        n = self.st.network.n_neurons
        self.core_of = np.full(n, -1, np.int64)
        self.local = np.zeros(n, np.int64)
        wp = [self.profile.quantity_to_parameter[f"Iw_{b}"] for b in range(4)]
        self.W, self.g, self.members = [], [], []
        for ci, rec in enumerate(qn.cores):
            nb = np.asarray(rec.neurons, np.int64)
            self.core_of[nb] = ci
            self.local[nb] = np.arange(nb.size)
            self.members.append(nb)
            self.W.append(np.array([float(self.profile.bias.to_current(p, rec.parameters[p].coarse, rec.parameters[p].fine))
                                    for p in wp]))
            self.g.append(rec.nmda_scale)
        self.stage_t = [self._stage_delays(rec) for rec in qn.cores]
        self.delay_report = qn.report.get("delays")
        return qn.report.get("weights", {})

    def _stage_delays(self, rec) -> np.ndarray | None:
        """(t₀, t₁, t₂) (s) of a logical core's delay biases, None when the quantizer gave it none."""
        prof = self.profile
        if not prof.models_delays:
            return None
        names = [prof.quantity_to_parameter[f"Idly_{i}"] for i in range(3)]
        if not all(n in rec.parameters for n in names):
            return None
        cur = [float(prof.bias.to_current(n, rec.parameters[n].coarse, rec.parameters[n].fine)) for n in names]
        return np.asarray(prof.delay_times(cur), np.float64)

    def _delay_groups(self):
        """(slot indices, t the bits are chosen on, t the chip realises) of each core with delay biases: here both
        the core's (t₀, t₁, t₂) (s); a measured chip realises other ones (:mod:`neurodeploy.train.chip_delays`)."""
        sl = self.st.slots
        for ci, t in enumerate(self.stage_t):
            sel = np.flatnonzero(self.core_of[sl.dst] == ci)
            if t is not None and sel.size:
                yield sel, t, t

    def delay_values(self, u: np.ndarray, realised: bool = True) -> np.ndarray:
        """Delays [n_syn] (in the structure's ``delay_unit``) the chip realises for ``u`` on the current per-core
        delay levels (:func:`neurodeploy.quantize.delays.assign`); a core without delay biases delays nothing.
        ``realised=False``: the levels of the stage delays the bits are chosen on (:meth:`_delay_groups`)."""
        from ..device.delays import assign as assign_delay, levels

        unit = self.st.delay_unit
        d = np.clip(np.asarray(u, np.float64) * unit, 0.0, self.st.delay_bound)
        out = np.zeros_like(d)
        for sel, t, real in self._delay_groups():
            out[sel] = levels(real if realised else t)[assign_delay(d[sel], t)]
        return (out / unit).astype(np.float32)

    def delay_spreads(self, u: np.ndarray) -> np.ndarray:
        """[n_syn] the delay-mismatch spread (relative to the chip's σ) of the level each delay ``u`` (in
        ``delay_unit``) sits on, eq. (10) of :mod:`neurodeploy.device.delays` with the profile's ``dly_mismatch``
        — what the emulator gives that entry; 1 on a core without delay biases (no delay there)."""
        from ..device.delays import assign as assign_delay, level_spreads

        unit = self.st.delay_unit
        d = np.clip(np.asarray(u, np.float64) * unit, 0.0, self.st.delay_bound)
        out = np.ones_like(d)
        sig = self.profile.analog.dly_mismatch
        for sel, t, real in self._delay_groups():
            out[sel] = level_spreads(real, sig)[assign_delay(d[sel], t)]
        return out.astype(np.float32)

    def values(self, w: np.ndarray) -> np.ndarray:
        """Signed unitless weights [n_syn] the chip realises for ``w`` on the current grid."""
        sl = self.st.slots
        w = np.asarray(w, np.float64)
        q = np.zeros_like(w)
        nz = w != 0
        dend = np.where(sl.auto, np.where(w > 0, 0, 2), sl.dendrite)
        fan = np.bincount(sl.dst[nz], minlength=self.core_of.size)
        budget = np.maximum(self.cam - fan, 0)
        for ci, nb in enumerate(self.members):
            sel = np.flatnonzero(nz & (self.core_of[sl.dst] == ci))
            if sel.size == 0:
                continue
            g = self.g[ci]
            prob = CoreProblem(np.abs(w[sel]) * sl.scale[sel], (dend[sel] == 0) & (g is not None),
                               self.local[sl.dst[sel]], budget[nb])
            a = assign(prob, self.W[ci], g)
            q[sel] = np.sign(w[sel]) * a.value / sl.scale[sel]
        return q.astype(np.float32)
