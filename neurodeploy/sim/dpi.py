"""The DPI circuit equations of Dynap-SE2, as pure JAX functions (SI units throughout).

Sources: Bartolozzi & Indiveri, Neural Computation 19 (2007) — the Differential Pair Integrator
(DPI); Chicca, Stefanini, Bartolozzi & Indiveri, Proc. IEEE 102(9) 2014 — the adaptive exponential
I&F neuron built from a DPI. Notation: I_0 leakage current, U_T thermal voltage, κ subthreshold
slope factor (the profile's mean of κ_n and κ_p), V_th pulse-extender threshold.

Every DPI has the time constant

    τ = U_T·C / (κ·I_tau)                                                         (1)

**Synapse / AHP (linear regime, I_out ≫ I_gain).** ``τ·dI/dt = −I + (I_gain/I_tau)·I_in``. With no
input the current decays as ``exp(−t/τ)`` towards the leakage floor I_0 (it never goes below it):

    I(t + Δt) = I_0 + (I(t) − I_0)·exp(−Δt/τ)                                    (2)

A presynaptic event drives the DPI with I_in = I_w for the pulse width of the pulse extender,

    t_pulse = V_th·C_pulse / I_pulse                                              (3)

and integrating (2)'s linear ODE exactly over the pulse gives the charge per event

    ΔI = (I_gain/I_tau) · I_w · (1 − exp(−t_pulse/τ))                             (4)

(events overlapping in a bin superpose linearly: k events add k·ΔI). The pulse (~10 µs) is far
shorter than a step, so the charge is added in closed form at the start of the bin, never sampled.
This is the DPI's linear regime (I_out ≫ I_gain, where the DPI is the first-order linear filter above),
the model of every synapse; far below I_gain the exact circuit responds multiplicatively to an event
(not modelled).

**Membrane (Chicca et al. 2014).**

    τ_mem·(1 + I_gain/I_mem)·dI_mem/dt + I_mem·(1 + (I_ahp + I_shunt)/I_tau)
        = (I_gain/I_tau)·(I_in − I_ahp − I_shunt − I_tau) + f(I_mem)              (5)

with ``f(I_mem) = (I_a/I_tau)·(I_mem + I_gain)`` the positive feedback. The ``−I_tau`` inside the
bracket is not a second leak: (5) is exactly the DPI's capacitor balance (derived from the circuit:

    C_mem·dV_mem/dt = I_in·I_gain/(I_mem + I_gain) − I_tau − I_ahp − I_shunt + I_a,
    I_mem = I_0·exp(κ·V_mem/U_T)),                                                (6)

whose steady state is ``I_gain·(I_in − I_tau − …)/I_tau``: the input branch of the differential pair
carries I_in·I_gain/(I_mem + I_gain), the leak transistors I_tau, I_ahp, I_shunt. SHUNT enters exactly
as I_ahp does (it discharges the same node).

*Positive feedback (teili's sigmoid form).* ``I_a = G·σ((I_mem − Θ)/W)`` with σ the logistic
function and constants proportional to the neuron's threshold current — G = 0.01·I_spkthr,
Θ = 0.8·I_spkthr, W = 0.02·I_spkthr in the built-in profile (``analog.feedback_*``, uncalibrated model
values; :func:`feedback_constants`; overridable per network).
With the default biases the feedback reaches a few % of the leak near 0.6·I_spkthr, overtakes it
near 0.7·I_spkthr and then drives I_mem to I_spkthr within a fraction of a millisecond: the
explosive spike onset, scaled so that I_spkthr keeps setting the effective threshold.

*Integration.* With y = I_mem + I_gain·ln(I_mem/I_gain) (equivalently z = y/I_gain = w + ln w,
w = I_mem/I_gain), (5) becomes

    dz/dt = F(z) = [ (I_gain/I_tau)·I_in − (L − I_a/I_tau)·(I_mem + I_gain) ] / (τ_mem·I_gain),
    L = 1 + (I_ahp + I_shunt)/I_tau                                              (7)

which is *linear* in z both far below I_gain (where z ≈ ln w, i.e. I_mem grows or decays
exponentially at a constant rate) and far above it (z ≈ w, the first-order filter). Below the
feedback's onset I_b (:func:`onset_current`) one exponential Rosenbrock step per bin,
``z₁ = z₀ + h·φ₁(h·J)·F(z₀)`` with ``J = dF/dz`` and φ₁(x) = (eˣ − 1)/x, is therefore exact in both
regimes and second-order accurate in between; it is stable for any step. z is mapped back to I_mem
by Newton steps on ``u + eᵘ = z`` (u = ln w, :func:`w_from_z`). Inputs and leak are frozen over the step; the input
is the synapses' exact mean over the bin.

Between I_b and I_spkthr (the *passage region*) the feedback makes the dynamics explosive, which a
linearised step cannot follow at dt = 1 ms. There the time to threshold is the integral
``∫ dz/F`` with the bin's inputs (:func:`region_passage`, a Gauss–Legendre rule): the step's trajectory
reaches I_b at ``t_b = ln(1 + J·Δz/F)/J`` (Δz = z_b − z₀) and I_spkthr at ``t_b + T``. If that is
within the bin the neuron spikes then: I_mem is reset to I_0 and held there for
``t_ref = V_th·C_ref/I_ref`` (3) from the spike time on, input blocked; otherwise it ends the bin
where the passage got to.

**Synaptic delays (UNCALIBRATED model).** Each core's delay stage i (bias SYPD_DLYi_P, current
I_dly,i) is modelled as a pulse extender, ``t_dly,i = V_th·C_dly,i/I_dly,i`` (8); a CAM entry with
bits p (precise_delay), m (mismatched_delay) waits ``[p ∨ m]·t_dly,0 + p·t_dly,1 + m·t_dly,2`` (9)
before its pulse (an entry with neither bit is not delayed). Both relations live in
:mod:`neurodeploy.device.physics`; the simulator applies a per-entry delay as in :mod:`.delays`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..device.physics import charge_per_event, pulse_width, time_constant  # noqa: F401  (eqs. (1), (3), (4); defined once there)




def feedback_constants(profile) -> dict[str, float]:
    """Positive-feedback constants from the device profile (``analog.feedback_*``), as fractions of
    each neuron's I_spkthr: gain G, onset Θ, width W."""
    a = profile.analog
    return {"gain": float(a.feedback_gain), "threshold": float(a.feedback_threshold), "norm": float(a.feedback_norm)}

#: Feedback fraction of I_tau that marks the start of the passage region (see :func:`onset_current`).
ONSET_EPS = 0.02
#: The onset's upper clip (a fraction of I_spkthr, :func:`onset_current`): the passage region is at least a quarter
#: of I_spkthr wide.
ONSET_MAX = 0.75
#: :func:`region_passage`'s Gauss–Legendre nodes, the default of a network's ``SimNetwork.passage_nodes`` (with the
#: rate at the region's start, 7 evaluations of the rate per step).
PASSAGE_NODES = 6



# ---------------------------------------------------------------------------------------------
# small numerics
# ---------------------------------------------------------------------------------------------
def phi1(x):
    """φ₁(x) = (eˣ − 1)/x, with φ₁(0) = 1; safe for gradients at x = 0."""
    small = jnp.abs(x) < 1e-4
    xs = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 + 0.5 * x + x * x / 6.0, jnp.expm1(xs) / xs)


def log1p_over_x(x):
    """ln(1 + x)/x, with value 1 at x = 0 (x > −1)."""
    small = jnp.abs(x) < 1e-4
    xs = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - 0.5 * x + x * x / 3.0, jnp.log1p(xs) / xs)


def mean_decay(dt, tau):
    """Mean of exp(−t/τ) over t ∈ [0, dt]: (τ/dt)·(1 − exp(−dt/τ)) = φ₁(−dt/τ)."""
    return phi1(-dt / tau)


@jax.custom_jvp
def w_from_z(z):
    """Solve w + ln w = z for w > 0 (w = I_mem/I_gain): two Newton steps on u = ln w from a close start.

    Start: u = ln(z)·z/(z + 1) for z > 1 (from u = ln(z − u) ≈ ln z − u/z), else u = z − ŵ with
    ŵ = eᶻ/(1 + 0.6·eᶻ) ≈ w (from u = z − w). Newton on g(u) = eᵘ + u − z, δ = g/g'; the last step's
    exponential is the previous one times e^(−δ) ≈ 1 − δ + δ²/2 (|δ| < 10⁻³ there). Four
    transcendental functions; relative error < 6·10⁻⁷ (float32) for z ∈ [−12, 3·10⁵] against a
    converged float64 solve — as accurate as three Newton steps from a cruder start (seven).
    """
    e = jnp.exp(jnp.minimum(z, 1.0))
    lz = jnp.log(jnp.maximum(z, 1.0))
    u = jnp.where(z > 1.0, lz * z / (z + 1.0), z - e / (1.0 + 0.6 * e))
    eu = jnp.exp(u)
    u = u - (eu + u - z) / (eu + 1.0)
    eu = jnp.exp(u)
    delta = (eu + u - z) / (eu + 1.0)
    return eu * (1.0 - delta + 0.5 * delta * delta)


@w_from_z.defjvp
def _w_from_z_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    w = w_from_z(z)
    return w, dz * w / (1.0 + w)


# ---------------------------------------------------------------------------------------------
# circuit relations
# ---------------------------------------------------------------------------------------------
def decay(I, factor, I_0):
    """Eq. (2): I_0 + (I − I_0)·factor, factor = exp(−Δt/τ) (or its mean over a bin)."""
    return I_0 + (I - I_0) * factor


def nmda_gate(I_mem, I_f_nmda):
    """NMDA gate g = I_mem/(I_mem + I_f_nmda): a differential pair comparing V_mem with the gate voltage
    (slope κ/U_T in V_mem), i.e. the logistic function of κ(V_mem − V_nmda)/U_T."""
    return I_mem / (I_mem + I_f_nmda)


def feedback(I_mem, gain, threshold, inv_norm):
    """Positive-feedback current I_a = G·σ((I_mem − Θ)/W) and its slope dI_a/dI_mem (A, A/A); ``inv_norm``
    = 1/W (1/A). (:func:`region_passage` evaluates the same logistic at its nodes, :func:`passage_rate`.)"""
    s = jax.nn.sigmoid((I_mem - threshold) * inv_norm)
    return gain * s, gain * s * (1.0 - s) * inv_norm


class MembraneConstants(NamedTuple):
    """Per-neuron constants of eq. (7), computed once per call (not per step), so that a step has
    multiplications where the equations have divisions (a division costs several multiplications)."""

    I_tau: jax.Array
    I_gain: jax.Array
    tau: jax.Array
    inv_tau_leak: jax.Array      # 1/I_tau
    inv_gain: jax.Array          # 1/I_gain
    ratio: jax.Array             # I_gain/I_tau
    inv_tau: jax.Array           # 1/τ_mem
    inv_tau_gain: jax.Array      # 1/(τ_mem·I_gain)
    fb_gain: jax.Array           # G
    fb_threshold: jax.Array      # Θ
    fb_inv_norm: jax.Array       # 1/W


def membrane_constants(I_tau, I_gain, tau, fb_gain, fb_threshold, fb_norm) -> MembraneConstants:
    return MembraneConstants(I_tau, I_gain, tau, 1.0 / I_tau, 1.0 / I_gain, I_gain / I_tau, 1.0 / tau,
                             1.0 / (tau * I_gain), fb_gain, fb_threshold, 1.0 / fb_norm)


def membrane_step(I_mem, I_in, L, h, c: MembraneConstants):
    """One exponential-Rosenbrock step of eq. (7) over the integration time h (s).

    Returns (z₁, z₀, F, J): the new and old z = w + ln w, the rate F(z₀) (1/s) and its slope J (1/s).
    Valid below the passage region; callers detect reaching z_b and hand over to
    :func:`region_passage` (crossing time from :func:`crossing_time`). ``c``: :func:`membrane_constants`.
    """
    w0 = I_mem * c.inv_gain
    z0 = w0 + jnp.log(w0)
    I_a, dI_a = feedback(I_mem, c.fb_gain, c.fb_threshold, c.fb_inv_norm)
    L_eff = L - I_a * c.inv_tau_leak
    Ip = I_mem + c.I_gain
    F = (c.ratio * I_in - L_eff * Ip) * c.inv_tau_gain
    J = (-L_eff + Ip * dI_a * c.inv_tau_leak) * (w0 / (1.0 + w0)) * c.inv_tau
    Jh = jnp.clip(J * h, -60.0, 30.0)
    z1 = z0 + h * phi1(Jh) * F
    return z1, z0, F, J


def onset_current(I_tau, fb_gain, fb_threshold, fb_norm, I_spkthr, eps=ONSET_EPS):
    """I_b: the membrane current at which the feedback reaches ``eps·I_tau`` (a few % of the leak),
    I_b = Θ + W·logit(eps·I_tau/G), kept within [0.05, 1)·I_spkthr. Below I_b the Rosenbrock step is
    accurate; [I_b, I_spkthr] is the *passage region* handled by :func:`region_passage`."""
    r = jnp.clip(eps * I_tau / jnp.maximum(fb_gain, 1e-30), 1e-30, 0.5)
    I_b = fb_threshold + fb_norm * jnp.log(r / (1.0 - r))
    return jnp.clip(I_b, 0.05 * I_spkthr, ONSET_MAX * I_spkthr)


@functools.lru_cache(maxsize=None)
def gauss_legendre(nodes: int) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """The ``nodes``-point Gauss–Legendre rule on [0, 1] (exact for polynomials of degree 2·nodes − 1): nodes s_k,
    weights w_k (Σ w_k = 1) and cell edges e_k = Σ_(j<k) w_j (k = 0 … nodes; e_k < s_k < e_(k+1), the separation
    theorem of Gauss rules), as floats."""
    x, w = np.polynomial.legendre.leggauss(int(nodes))
    edges = np.concatenate([[0.0], np.cumsum(w / 2)])
    return tuple(float(v) for v in (x + 1) / 2), tuple(float(v) for v in w / 2), tuple(float(v) for v in edges)


def passage_rate(I, I_in, L, c: MembraneConstants, x):
    """The pieces of eq. (7)'s rate in the passage region at I_mem = I (A), with ``x`` = (I − Θ)/W: (I + I_gain,
    D) with ``D = (I_gain/I_tau)·I_in − (L − I_a/I_tau)·(I + I_gain)`` (A), I_a = G·σ(x); dI/dt = I·D/(τ·(I + I_gain))."""
    Ip = I + c.I_gain
    return Ip, c.ratio * I_in - (L - c.fb_gain * c.inv_tau_leak * jax.nn.sigmoid(x)) * Ip


def region_passage(I_lo, I_hi, I_in, L, c: MembraneConstants, r, nodes: int = PASSAGE_NODES):
    """Passage of the membrane from I_lo up to I_hi = I_spkthr, with I_in and L frozen over the bin.

    The time is the integral of eq. (7) over the region (:func:`passage_rate` for D),

        T = ∫ τ·(I + I_gain)/(I·D(I)) dI                                                              (R1)

    by the Gauss–Legendre rule with ``nodes`` nodes I_k = I_lo + s_k·ΔI (ΔI = I_hi − I_lo, :func:`gauss_legendre`):
    ``T = Σ_k Δt_k``, ``Δt_k = w_k·ΔI·τ·(I_k + I_gain)/(I_k·D(I_k))`` (s). The integrand is smooth where the
    neuron passes (D > 0), so the rule converges fast: at the built-in profile's constants, on passages of
    10 µs to 1 ms from the onset or from inside the region, 6 nodes are within 1.5 % of the converged integral and
    14 within 0.002 %, where the midpoint rule on 8 intervals is off by up to 18 % (tests/test_sim_passage.py): the
    feedback's logistic turns over within a few W in a region ~20·W wide. Where D ≤ 0 at a node (an
    equilibrium in the region: the membrane settles below threshold) that node's Δt_k is practically infinite
    (D is floored at 10⁻⁹·I_k).

    Returns (T, I_r): the passage time (s) and the current reached after the available time r (s; I_hi when
    T ≤ r). The rule's weights split [I_lo, I_hi] into cells [e_k, e_(k+1)]·ΔI, each holding its node and crossed
    in Δt_k; in the cell whose start time t_k = Σ_(j<k) Δt_j is the last ≤ r the rate is constant,
    I_r = I_lo + ΔI·(e_k + w_k·(r − t_k)/Δt_k) — except in the first cell (length ℓ = w_0·ΔI), where the rate
    at I_lo itself, v_0 = I_lo·D(I_lo)/(τ·(I_lo + I_gain)) (A/s), starts a rate linear in time that crosses
    the cell in Δt_0: with u = r/Δt_0 and V = v_0·Δt_0 clipped to [0, 2ℓ],

        I_r = I_lo + V·u + (ℓ − V)·u²                                                               (R2)

    (a partial passage, e.g. every step at dt ≪ 1 ms, then starts at the right rate: with (R2) a run at
    0.05 ms is converged in the nodes, without it not). ``nodes`` + 1 evaluations of the rate, each one
    logistic function and one division; an unrolled loop of elementwise operations (XLA fuses it).
    ``c``: :func:`membrane_constants`.
    """
    s, w, e = gauss_legendre(nodes)
    dI = I_hi - I_lo
    x0 = (I_lo - c.fb_threshold) * c.fb_inv_norm            # (I_k − Θ)/W = x0 + s_k·b
    b = dI * c.fb_inv_norm
    tdI = c.tau * dI
    t = jnp.zeros_like(I_lo)                                # time to reach the start of cell k
    for k in range(len(s)):
        I_k = I_lo + s[k] * dI
        Ip, D = passage_rate(I_k, I_in, L, c, x0 + s[k] * b)
        dt_k = (w[k] * tdI) * Ip / (I_k * jnp.maximum(D, 1e-9 * I_k))
        if k == 0:
            dt_0, t_sel, dt_sel = dt_k, t, dt_k
            e_sel, w_sel = jnp.zeros_like(t), jnp.full_like(t, w[0])
        else:                                               # the cell r ends in: the last that starts ≤ r
            here = t <= r
            t_sel, dt_sel = jnp.where(here, t, t_sel), jnp.where(here, dt_k, dt_sel)
            e_sel, w_sel = jnp.where(here, e[k], e_sel), jnp.where(here, w[k], w_sel)
        t = t + dt_k
    f = jnp.clip((r - t_sel) / dt_sel, 0.0, 1.0)
    I_r = I_lo + dI * (e_sel + w_sel * f)
    Ip, D = passage_rate(I_lo, I_in, L, c, x0)              # (R2) in the first cell
    ell = w[0] * dI
    V = jnp.clip(I_lo * D * dt_0 / (c.tau * Ip), 0.0, 2.0 * ell)
    u = jnp.clip(r / dt_0, 0.0, 1.0)
    I_r = jnp.where(r < dt_0, I_lo + V * u + (ell - V) * u * u, I_r)
    return t, jnp.where(t <= r, I_hi, I_r)


def crossing_time(z0, z_th, F, J, h, crossed):
    """Time (s, from the start of the integration window) at which the step's trajectory
    z(t) = z₀ + t·φ₁(J·t)·F reaches z_th: t_c = ln(1 + J·(z_th − z₀)/F)/J. Only meaningful where
    ``crossed``; elsewhere returns h."""
    dz = jnp.maximum(z_th - z0, 0.0)
    Fs = jnp.where(crossed, F, 1.0)
    Fs = jnp.where(Fs > 0, Fs, 1.0)
    x = jnp.maximum(J * dz / Fs, -1.0 + 1e-6)
    t = (dz / Fs) * log1p_over_x(x)
    return jnp.where(crossed, jnp.clip(t, 0.0, h), h)
