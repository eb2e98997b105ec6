"""Training losses (JAX). Notation: c[b, k] the spike count of read-out channel k in the readout
window of trial b (an output neuron, or the summed neurons of a "sum" read-out; for ``rate_mse`` a
group's count is divided by its size, so r is a per-neuron rate) (W bins of width dt), y[b] the label, v[b] ∈ {0, 1} whether trial b counts
(trials without a target class — frozen-noise's unseen noise — have v = 0), B' = Σ_b v[b].

Cross-entropy on output spike counts (``ce``), with inverse temperature β (per spike):

    L_ce = −(1/B') Σ_b v[b] · log softmax(β·c[b])[y[b]]

Cross-entropy on the output synaptic current plus on the counts (``ce_current``):

    L_cur = L_ce + CE(β_I · Ī[b, :], y[b]),   Ī[b, k] = mean_window(I_ampa + I_nmda − I_gaba) / I_rheo[k]

with I_rheo = I_tau_mem·I_spkthr/I_gain_mem the input current whose steady-state membrane current
reaches threshold (so Ī ≈ 1 at threshold), β_I = :data:`BETA_CURRENT`. The synaptic currents are
recorded selectively (record=("I_ampa", "I_nmda", "I_gaba")); the term still has a gradient when
no output fires and rewards a margin in the drive, not only in the spikes.

MSE to target rates (``rate_mse``; the frozen-noise tutorial's objective), r = c/(W·dt) (Hz),
r* the target rates, r_n a normalising rate (the largest target, ≥ 1 Hz), over ALL B trials (a trial
without a target class has target rates too — frozen-noise's training noise: low on every output):

    L_rate = (1/(B·K)) Σ_b Σ_k ((r[b, k] − r*[b, k]) / r_n)²

Firing-rate-ratio hinge (``ratio_weight`` > 0; the frozen-noise tutorial's FRR), F* the target ratio:

    L_frr = (1/B') Σ_b v[b] · max(0, log F* − log((c[b, y] + 1) / (max_{k≠y} c[b, k] + 1)))

computed per mismatch draw, so it asks every simulated chip for the margin, not just the average.

Noise term (``noise_weight`` > 0): on the trials without a target class (v = 0: unseen-noise trials) the most
active read-out channel is pushed down, so that no channel answers noise — on any simulated chip, since it is
computed per mismatch draw as well:

    L_noise = (1/(B − B')) Σ_b (1 − v[b]) · log(1 + max_k c[b, k])

Rate regulariser (optional, on every neuron, λ ≥ 0, r_max in Hz, R[b, n] the mean rate over the trial):

    L_reg = λ · mean_{b,n} (max(R[b, n] − r_max, 0) / r_max)²

The chip caps firing at one spike per neuron and bin; the simulator enforces it, so no loss term
is needed for that.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LOSSES = ("ce", "ce_current", "rate_mse")
BETA_CURRENT = 5.0


def _masked_mean(x, valid):
    return jnp.sum(x * valid) / jnp.maximum(jnp.sum(valid), 1.0)


def ce_counts(counts, labels, valid, beta: float = 1.0):
    """L_ce (see module docstring); counts [B, K], labels [B] int, valid [B] 0/1."""
    logp = jax.nn.log_softmax(beta * counts, axis=-1)
    nll = -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
    return _masked_mean(nll, valid)


def current_logits(rec, outputs, window, I_rheo):
    """Ī [B, K] (see module docstring) from recorded currents ``rec`` (name → [B, T, N])."""
    t0, t1 = window
    I_in = rec["I_ampa"] + rec["I_nmda"] - rec["I_gaba"]
    return jnp.mean(I_in[:, t0:t1][..., outputs], axis=1) / I_rheo[outputs]


def rate_mse(counts, target_rates, valid, window_s: float):
    """L_rate (see module docstring); target_rates [B, K] (Hz), window_s = W·dt (s)."""
    r = counts / window_s
    rn = jnp.maximum(jnp.max(target_rates), 1.0)
    err = jnp.mean(((r - target_rates) / rn) ** 2, axis=-1)
    return _masked_mean(err, valid)


def ratio_hinge(counts, labels, valid, target: float = 8.0):
    """L_frr (see module docstring)."""
    sup = jnp.take_along_axis(counts, labels[:, None], axis=-1)[:, 0]
    others = jnp.where(jax.nn.one_hot(labels, counts.shape[-1]) > 0, -jnp.inf, counts)
    ratio = jnp.log(sup + 1.0) - jnp.log(jnp.max(others, axis=-1) + 1.0)
    return _masked_mean(jnp.maximum(jnp.log(target) - ratio, 0.0), valid)


def noise_top(counts, valid):
    """L_noise (see module docstring); 0 without trials that lack a target class."""
    neg = 1.0 - valid
    return jnp.sum(jnp.log1p(jnp.max(counts, axis=-1)) * neg) / jnp.maximum(jnp.sum(neg), 1.0)


def rate_regulariser(spikes, dt: float, lam: float, r_max: float):
    """L_reg (see module docstring); spikes [B, T, N]."""
    if lam <= 0:
        return 0.0
    rate = jnp.mean(spikes, axis=1) / dt
    return lam * jnp.mean((jnp.maximum(rate - r_max, 0.0) / r_max) ** 2)


def accuracy(counts, labels, valid):
    """Fraction of counted trials whose most active output is the label, strictly: a trial whose top
    count is shared by several outputs (a silent trial included) is wrong — the convention of the
    tasks' metrics (:func:`neurodeploy.train.task.classification_metrics`)."""
    top = jnp.max(counts, axis=-1, keepdims=True)
    unique = jnp.sum(counts == top, axis=-1) == 1
    hit = (unique & (jnp.argmax(counts, axis=-1) == labels)).astype(jnp.float32)
    return _masked_mean(hit, valid)
