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


def leak_factor(I_tau_mem, I_ahp, I_shunt):
    """L = 1 + (I_ahp + I_shunt)/I_tau_mem (dimensionless), eq. (7) of :mod:`neurodeploy.sim.dpi`: the membrane
    leaks at L/τ_mem and settles at (I_gain/I_tau)·I_in/L. At rest I_shunt sits at its floor I_0 (and I_ahp at 0
    without adaptation), so L = 1 + I_0/I_tau_mem: ~1.1 at τ_mem = 20 ms on the built-in profile."""
    return 1.0 + (I_ahp + I_shunt) / I_tau_mem


def membrane_time_constant(C, I_tau, I_rest, U_T, kappa):
    """The membrane's effective time constant τ_mem/L = U_T·C/(κ·(I_tau + I_rest)) (s), I_rest = I_ahp + I_shunt at
    rest (:func:`leak_factor`)."""
    return time_constant(C, I_tau + I_rest, U_T, kappa)


def membrane_tau_current(tau, C, I_rest, U_T, kappa):
    """The inverse of :func:`membrane_time_constant`: I_tau = U_T·C/(κ·τ) − I_rest (A); ≤ 0 when τ is longer than
    the leak I_rest alone allows."""
    return tau_current(tau, C, U_T, kappa) - I_rest


def unit_event_current(tau_mem, I_spkthr, I_gain_mem, I_tau_mem, tau_syn, I_gain_syn, I_tau_syn, t_pulse, L=1.0):
    """Weight current I_w (A) whose input event moves the membrane by one threshold in integrated response,
    the DPI counterpart of a unit LIF weight (an event raising v by v_threshold − v_reset).

    Linear regime (I_syn, I_mem ≫ I_gain): an event adds ΔI_syn = q·I_w, q = charge_per_event (4), which
    decays with τ_syn and drives the membrane filter τ_mem·dI_mem/dt = −L·I_mem + (I_gain_mem/I_tau_mem)·I_syn
    (L: :func:`leak_factor`; τ_mem here is the effective τ_mem/L). For L = 1 the membrane's excursion is

        ΔI_mem(t) = (I_gain_mem/I_tau_mem)·q·I_w·τ_syn/(τ_mem − τ_syn)·(e^(−t/τ_mem) − e^(−t/τ_syn)),

    the CubaLIF's Δv(t) = w·(v_th − v_reset)·τ_mem/(τ_mem − τ_syn)·(e^(−t/τ_mem) − e^(−t/τ_syn)) with the
    same time constants. Equal integrals, ∫ΔI_mem dt = (I_gain_mem/I_tau_mem)·q·I_w·τ_syn and
    ∫Δv dt = w·(v_th − v_reset)·τ_mem, give (with L, the DPI's integral is 1/L of the above)

        I_w = L·τ_mem·I_spkthr / ((I_gain_mem/I_tau_mem)·q·τ_syn)

    per unit weight: the same response to any event train in the mean (a steady rate ν gives the mean
    excursion w·ν·τ_mem thresholds in both) and the same single-event waveform when the time constants
    agree. The membrane's offset I_tau_mem (eq. 5) and the exponential regime below I_gain_mem are neglected
    (I_tau_mem, I_gain_mem ≪ I_spkthr).
    """
    q = charge_per_event(I_gain_syn, I_tau_syn, tau_syn, t_pulse)
    return L * tau_mem * I_spkthr / (gain_ratio(I_gain_mem, I_tau_mem) * q * tau_syn)


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
