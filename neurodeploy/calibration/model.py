"""The spike-timing model the fit inverts: the steady inter-spike interval of a DPI neuron under a constant input.

With a constant input current I_in (the DC input, or the mean of a synapse driven by a regular event
train), the membrane of :mod:`neurodeploy.sim.dpi` (eq. (7), x = I_mem/I_spkthr, g = I_gain/I_spkthr)
charges from its reset I_0 to threshold I_spkthr in

    T_c = τ_eff · ∫_{x₀}^{1} (1 + g/x) / (D − (1 − A·σ((x − Θ)/W)/L)·(x + g)) dx           (1)

    τ_eff = τ_mem/L = U_T·C_mem/(κ·(I_tau + I_rest))     effective membrane time constant (s)
    D     = (I_gain/I_tau)·I_in/(L·I_spkthr)              drive: the steady state as a fraction of threshold
    A     = G/I_tau, Θ, W                                 the positive feedback (profile ``analog.feedback_*``)

and then stays refractory for t_ref = V_th·C_ref/I_ref, so the inter-spike interval is

    ISI = t_ref + T_c(τ_eff, D)                                                             (2)

(the simulator integrates the same equation: exactly below the feedback's onset, by quadrature in the
passage region). Under an event train of rate ν on entries of weight I_w with a pulse t_pulse ≪ τ_syn,
the synapse's mean current is ν·I_w·(I_gain,syn/I_tau,syn)·t_pulse (eq. (4) of the simulator integrated
over τ_syn), so the same (2) holds with that I_in once the synapse has settled.

The integral runs on a fixed grid (log-spaced from x₀ to 0.05, then uniform to 1: 600 points, trapezoid
rule); everything is jax, so the fit differentiates through it.
"""

from __future__ import annotations

import numpy as np

#: grid of x = I_mem/I_spkthr for the integral (1)
_N_LOG, _N_LIN, _X_SPLIT = 120, 480, 0.05
#: smallest denominator of (1) kept (a neuron whose drive never reaches threshold gets a huge interval)
_MIN_DEN = 1e-4


def membrane_shape(profile, currents: dict, I_0: float) -> dict:
    """The dimensionless constants of (1) for nominal currents (A): x₀, g, A/L, Θ, W (fractions of I_spkthr)."""
    a = profile.analog
    it, ig, ith = currents["Itau_mem"], currents["Igain_mem"], currents["Ispkthr"]
    L = 1.0 + I_0 / it
    return {"x0": I_0 / ith, "g": ig / ith, "A_over_L": a.feedback_gain * ith / it / L,
            "theta": float(a.feedback_threshold), "width": float(a.feedback_norm)}


def _grid(x0: float) -> np.ndarray:
    lo = np.geomspace(x0, _X_SPLIT, _N_LOG, endpoint=False)
    return np.concatenate([lo, np.linspace(_X_SPLIT, 1.0, _N_LIN)])


def _leak(x, shape: dict):
    """The denominator's leak term of (1), (1 − A·σ((x − Θ)/W)/L)·(x + g), with the simulator's feedback
    (:func:`neurodeploy.sim.dpi.feedback`) in units of I_spkthr."""
    from ..sim.dpi import feedback

    a_sig, _ = feedback(x, shape["A_over_L"], shape["theta"], 1.0 / shape["width"])
    return (1.0 - a_sig) * (x + shape["g"])


def charge_time(tau_eff, D, shape: dict):
    """T_c (s) of (1) for arrays τ_eff (s) and D (broadcast); huge where D never reaches threshold."""
    import jax.numpy as jnp

    x = jnp.asarray(_grid(shape["x0"]))
    leak = _leak(x, shape)
    num = 1.0 + shape["g"] / x
    den = jnp.asarray(D)[..., None] - leak
    f = num / jnp.maximum(den, _MIN_DEN)
    integral = jnp.sum(0.5 * (f[..., 1:] + f[..., :-1]) * jnp.diff(x), axis=-1)
    return jnp.asarray(tau_eff) * integral


def isi(tau_eff, D, t_ref, shape: dict):
    """The inter-spike interval (2) (s)."""
    return t_ref + charge_time(tau_eff, D, shape)


def threshold_drive(shape: dict) -> float:
    """The smallest D at which (1)'s denominator stays positive: the neuron fires for D above it."""
    return float(np.max(np.asarray(_leak(_grid(shape["x0"]), shape))))
