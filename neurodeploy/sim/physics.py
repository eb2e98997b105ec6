"""Every circuit relation of the DPI that a stage outside the simulator needs — defined once, here.

These are plain arithmetic on floats, numpy arrays or jax arrays alike (the type of the inputs
decides), and this module does not import jax: the profile, the importers, the NIR export and the
quantizer use it without loading the simulator. ``neurodeploy.sim.dpi`` imports its relations from here.
Notation as in :mod:`neurodeploy.sim.dpi` (SI units: A, F, V, s).

    τ = U_T·C / (κ·I_tau)                 time constant of a DPI                      (1)
    t_pulse = V_th·C / I_pulse            pulse-extender width (and t_ref, with C_ref, I_ref)  (3)
    ΔI/I_w = (I_gain/I_tau)·(1 − e^(−t_pulse/τ))   charge per event per ampere of weight (4)
    I_mem,∞ = (I_gain/I_tau)·I_dc         membrane steady state under a DC input (no other input, I_mem ≫ I_gain)
    t_dly,i = V_th·C_dly,i / I_dly,i      delay of synaptic delay stage i (0, 1, 2)            (8)
    d = [p ∨ m]·t_dly,0 + p·t_dly,1 + m·t_dly,2   delay of a CAM entry with bits p (precise), m (mismatched)  (9)
"""

from __future__ import annotations

import numpy as np


def _expm1(x):
    """e^x − 1 for floats, numpy arrays and jax arrays (jax.numpy only when given a jax array)."""
    if type(x).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp

        return jnp.expm1(x)
    return np.expm1(x)


def time_constant(C, I_tau, U_T, kappa):
    """τ = U_T·C/(κ·I_tau)  (s), eq. (1)."""
    return U_T * C / (kappa * I_tau)


def tau_current(tau, C, U_T, kappa):
    """The inverse of (1): I_tau = U_T·C/(κ·τ)  (A) for a time constant τ (s)."""
    return time_constant(C, tau, U_T, kappa)


def pulse_width(C, I_pulse, V_th):
    """t_pulse = V_th·C/I_pulse  (s); also the refractory period t_ref = V_th·C_ref/I_ref, eq. (3)."""
    return V_th * C / I_pulse


def pulse_current(width, C, V_th):
    """The inverse of (3): I_pulse = V_th·C/t_pulse  (A)."""
    return pulse_width(C, width, V_th)


def charge_per_event(I_gain, I_tau, tau, t_pulse):
    """ΔI per ampere of weight current: (I_gain/I_tau)·(1 − exp(−t_pulse/τ))  (dimensionless), eq. (4)."""
    return (I_gain / I_tau) * (-_expm1(-t_pulse / tau))


def gain_ratio(I_gain, I_tau):
    """The DPI's gain I_gain/I_tau (dimensionless): its output per unit input in the linear regime."""
    return I_gain / I_tau


def same_tau_current(I_tau_ref, C_ref, C):
    """I_tau giving a DPI of capacitance C the time constant of one with (C_ref, I_tau_ref): I_tau_ref·C/C_ref (A).

    (The quantizer uses it to give an unused NMDA dendrite AMPA's time constant, so that NMDA becomes a
    second excitatory weight scale g = gain_ratio(I_gain_nmda, I_tau_nmda) / gain_ratio(I_gain_ampa, I_tau_ampa).)
    """
    return I_tau_ref * C / C_ref


def dc_current(fraction, I_spkthr, I_tau_mem, I_gain_mem):
    """I_dc whose membrane steady state (I_gain/I_tau)·I_dc is ``fraction`` of the threshold: f·I_spkthr·I_tau/I_gain (A)."""
    return fraction * I_spkthr * I_tau_mem / I_gain_mem


def dc_fraction(I_dc, I_spkthr, I_tau_mem, I_gain_mem):
    """The inverse of :func:`dc_current`: the steady state I_dc·I_gain/(I_spkthr·I_tau) as a fraction of threshold."""
    return I_dc * I_gain_mem / (I_spkthr * I_tau_mem)


def delay_time(C, I_dly, V_th):
    """t_dly = V_th·C_dly/I_dly  (s): one stage of the synaptic delay circuit, eq. (8) — a pulse extender
    whose capacitor is discharged by I_dly (UNCALIBRATED model, see the profile's ``analog.C_dly*``)."""
    return V_th * C / I_dly


def delay_current(t_dly, C, V_th):
    """The inverse of (8): I_dly = V_th·C_dly/t_dly  (A)."""
    return delay_time(C, t_dly, V_th)


def entry_delay(t0, t1, t2, precise, mismatched):
    """Delay of a CAM entry (s), eq. (9): an entry with neither bit bypasses the delay circuit (0 s);
    either bit routes it through the base stage DLY0, plus DLY1 when ``precise`` and DLY2 when
    ``mismatched`` — the four values 0, t0 + t1, t0 + t2, t0 + t1 + t2 (a modelling assumption)."""
    p = np.asarray(precise, dtype=bool)
    m = np.asarray(mismatched, dtype=bool)
    return (p | m) * t0 + p * t1 + m * t2
