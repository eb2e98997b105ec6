"""Fit the chip's identifiable constants and factors to the probe measurements.

Per probed neuron m four log-factors θ_m = (a, b, c, e) relative to the nominal profile:

    τ_eff,m = τ_eff,nom·e^a        effective membrane time constant, U_T·C_mem/(κ·(I_tau + I_rest))   (s)
    D_r,m   = D_r,nom·e^b          drive of DC run r (I_gain·I_dc/(I_tau·L·I_spkthr), a multiple of threshold)
    t_ref,m = t_ref,nom·e^c        refractory period at the default code, V_th·C_ref/I_ref              (s)
    D_r,m   = D_r,nom·e^e          drive of AMPA run r (mean synaptic current through the membrane's gain)

and every run's inter-spike interval is eq. (2) of :mod:`.model` (the slow-refractory run scales t_ref by the
ratio of its refractory currents). The loss is the squared error of log ISI over the runs where the neuron
fired at least ``MIN_SPIKES`` times, plus a hinge for runs where it stayed silent but the model makes it fire. It
is minimised for all neurons at once: a grid start for the two drive factors, optax's Adam, then Gauss–Newton
steps (each neuron's step halved until its cost does not rise), whose curvature gives each neuron's uncertainty:

    Cov(θ_m) = (J_mᵀ W_m J_m)⁻¹,   W_m = 1/(s_m² + dt²/(6·span²))   per run

with s_m² the neuron's residual variance (never below the core's median) and the second term the timestamps'
resolution dt over the measured span t_last − t_first.

A per-core constant is the nominal value times the geometric mean of its neurons' factors (the split
between the constant and the factors assumes the factors' log-mean is zero over a core, as mismatch is); its
standard error is the spread of the log-factors over √M (the sampling error of that assumption) combined
with the fit's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..device.chip_profile import FACTORS  # noqa: F401  (the fitted log-factors, in θ's column order)
from .model import isi, membrane_shape
ADAM_STEPS, ADAM_RATE, GN_STEPS = 300, 0.05, 4
#: a run counts for a neuron with at least this many spikes after the settling time (near threshold, fewer spikes
#: mean an interval dominated by the feedback's onset, which the closed form models least well)
MIN_SPIKES = 20


def _design(profile, probes):
    """Per run: (nominal drive D_r,nom, refractory scale, which drive factor (1: dc, 3: ampa)); nominal τ, t_ref."""
    from ..device.physics import charge_per_event, membrane_time_constant, pulse_width, time_constant

    cur = profile.default_currents()
    a = profile.analog
    L = 1.0 + a.I_0 / cur["Itau_mem"]
    gain = cur["Igain_mem"] / (cur["Itau_mem"] * L * cur["Ispkthr"])
    t_pulse = pulse_width(a.C_pulse, cur["Ipulse"], a.V_th)
    D, rscale, which = [], [], []
    for i, run in enumerate(probes.runs):
        c = probes.currents[i]
        rscale.append(cur["Iref"] / c["Iref"])
        if run.probe in ("dc", "refr"):
            D.append(gain * c["Idc"])
            which.append(1)
        else:
            tau_a = time_constant(a.C_ampa, c["Itau_ampa"], a.U_T, a.kappa)
            from .probes import SLOTS

            i_syn = run.rate * SLOTS * cur["Iw_0"] * charge_per_event(c["Igain_ampa"], c["Itau_ampa"], tau_a, t_pulse) * tau_a
            D.append(gain * i_syn)
            which.append(3)
    tau_nom = membrane_time_constant(a.C_mem, cur["Itau_mem"], a.I_0, a.U_T, a.kappa)
    t_ref_nom = pulse_width(a.C_ref, cur["Iref"], a.V_th)
    return (np.array(D), np.array(rscale), np.array(which), tau_nom, t_ref_nom,
            membrane_shape(profile, cur, a.I_0))


def _residuals_fn(design, silent_isi):
    import jax.numpy as jnp

    D, rscale, which, tau_nom, t_ref_nom, shape = design
    onehot = jnp.asarray(np.eye(4)[which])            # [R, 4] the drive factor of each run

    def model_log_isi(theta):                          # theta [M, 4] → [R, M]
        tau = tau_nom * jnp.exp(theta[:, 0])
        t_ref = t_ref_nom * jnp.exp(theta[:, 2])
        drive = jnp.asarray(D)[:, None] * jnp.exp(onehot @ theta.T)
        return jnp.log(isi(tau[None, :], drive, jnp.asarray(rscale)[:, None] * t_ref[None, :], shape))

    def residuals(theta, log_meas, fired, silent):
        m = model_log_isi(theta)
        r = jnp.where(fired, m - log_meas, 0.0)
        hinge = jnp.where(silent, jnp.minimum(m - np.log(silent_isi), 0.0), 0.0)
        return r + hinge

    return residuals


def _design_key(design, silent_isi) -> tuple:
    D, rscale, which, tau_nom, t_ref_nom, shape = design
    return (tuple(D), tuple(rscale), tuple(int(w) for w in which), tau_nom, t_ref_nom, tuple(sorted(shape.items())), silent_isi)


@lru_cache(maxsize=4)
def _solvers(key):
    """(Adam run, per-neuron Jacobian, residuals), jitted once per probe design (``key``, :func:`_design_key`)."""
    import jax
    import jax.numpy as jnp
    import optax

    D, rscale, which, tau_nom, t_ref_nom, shape, silent_isi = key
    residuals = _residuals_fn((np.array(D), np.array(rscale), np.array(which), tau_nom, t_ref_nom, dict(shape)), silent_isi)
    opt = optax.adam(ADAM_RATE)

    @jax.jit
    def adam(theta, *args):
        loss = lambda th: jnp.sum(residuals(th, *args) ** 2)            # noqa: E731

        def step(carry, _):
            th, st = carry
            upd, st = opt.update(jax.grad(loss)(th), st, th)
            return (optax.apply_updates(th, upd), st), None
        (th, _), _ = jax.lax.scan(step, (theta, opt.init(theta)), None, length=ADAM_STEPS)
        return th

    # per-neuron Jacobian [M, R, 4] (neurons are independent: the vmap of one neuron's residuals)
    one = jax.jacfwd(lambda t, lm, f, s: residuals(t[None, :], lm[:, None], f[:, None], s[:, None])[:, 0])
    return adam, jax.jit(jax.vmap(one, in_axes=(0, 1, 1, 1))), jax.jit(residuals)


def fit_factors(profile, probes, measured: dict, correction=None, theta0=None) -> dict:
    """Fit θ for every probed neuron → {"theta": [M, 4], "sigma": [M, 4] (log-space standard errors), "rms": …,
    "fitted": [M] bool, "tau_nom", "t_ref_nom"}. A neuron that fired in fewer than two DC runs is not fitted.
    ``correction`` [R, M]: δ of :mod:`.refine`, subtracted from the measured log-intervals; ``theta0``: start."""
    import jax.numpy as jnp

    design = _design(profile, probes)
    window = probes.duration - probes.settle
    isi_m = np.asarray(measured["isi"], np.float64)
    fired = np.isfinite(isi_m) & (np.asarray(measured["count"]) >= MIN_SPIKES)
    silent = (np.asarray(measured["count"]) == 0)
    log_meas = np.log(np.where(fired, isi_m, 1.0))
    if correction is not None:
        log_meas = log_meas - np.where(np.isfinite(correction), correction, 0.0)
    M = isi_m.shape[1]
    args = (jnp.asarray(log_meas), jnp.asarray(fired), jnp.asarray(silent))
    adam, jac, res = _solvers(_design_key(design, window / 2))
    jac_fn = jac
    res_fn = lambda th: res(th, *args)                                   # noqa: E731
    theta = adam(jnp.asarray(_grid_start(res, args, M) if theta0 is None else theta0), *args)
    theta = np.asarray(theta, np.float64)
    cost = lambda th: (np.asarray(res_fn(jnp.asarray(th)), np.float64) ** 2).sum(axis=0)       # [M]
    for _ in range(GN_STEPS):      # Gauss–Newton, each neuron's step halved until its cost does not rise
        J = np.asarray(jac_fn(jnp.asarray(theta), *args), np.float64)
        r = np.asarray(res_fn(jnp.asarray(theta)), np.float64).T[..., None]            # [M, R, 1]
        H = J.transpose(0, 2, 1) @ J + 1e-6 * np.eye(4)
        step = np.clip(np.linalg.solve(H, J.transpose(0, 2, 1) @ r)[..., 0], -0.5, 0.5)
        c0, scale = cost(theta), np.ones(M)
        for _ in range(4):
            trial = theta - scale[:, None] * step
            worse = cost(trial) > c0
            if not worse.any():
                break
            scale = np.where(worse, scale / 2, scale)
        theta = np.where((cost(trial) <= c0)[:, None], trial, theta)
    theta = jnp.asarray(theta)
    J = np.asarray(jac_fn(theta, *args), np.float64)
    r = np.asarray(res_fn(theta), np.float64)
    n_obs = fired.sum(axis=0)
    dc_runs = np.array([run.probe in ("dc", "refr") for run in probes.runs])
    fitted = (fired[dc_runs].sum(axis=0) >= 2) & (n_obs >= 4)
    # residual scale per neuron, never below the core's median (a neuron the model fits badly gets a wide σ)
    s2_m = (r ** 2).sum(axis=0) / np.maximum(n_obs - 4, 1)
    s2 = float(np.median(s2_m[fitted])) if fitted.any() else 0.0
    s2 = np.maximum(s2_m, s2)[None, :]
    # each observation's variance: the residual scale plus the timestamps' resolution (dt, uniform: dt²/12 per
    # end of (t_last − t_first)) relative to the measured span
    count = np.asarray(measured["count"], np.float64)
    span = np.where(fired, isi_m * np.maximum(count - 1, 1), np.inf)
    var = s2 + (probes.dt ** 2 / 6) / span ** 2                           # [R, M]
    Jw = J / np.sqrt(var.T)[..., None]
    H = Jw.transpose(0, 2, 1) @ Jw + 1e-9 * np.eye(4)
    cov = np.linalg.inv(H)
    sigma = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
    ampa_fired = fired[~dc_runs].sum(axis=0) >= 1
    return {"theta": np.asarray(theta, np.float64), "sigma": sigma, "rms": float(np.sqrt(np.median(s2))), "fitted": fitted,
            "ampa_fitted": fitted & ampa_fired, "tau_nom": design[3], "t_ref_nom": design[4],
            "jacobian": J, "hessian": H, "weights": 1 / var.T}


def _grid_start(residuals, args, M: int) -> np.ndarray:
    """Start of the fit: per neuron the DC drive factor b, then the AMPA drive factor e, best on a grid (τ_eff and
    t_ref nominal) — the loss is flat where the model's drive never reaches threshold, so a local start from the
    nominal chip can stall there."""
    import jax.numpy as jnp

    grid = np.linspace(-1.0, 1.0, 21)
    theta = np.zeros((M, 4))
    for col in (1, 3):
        costs = []
        for g in grid:
            th = theta.copy()
            th[:, col] = g
            costs.append(np.asarray((residuals(jnp.asarray(th), *args) ** 2).sum(axis=0)))
        theta[:, col] = grid[np.argmin(np.stack(costs), axis=0)]
    return theta


def model_log_isi(profile, probes, theta) -> np.ndarray:
    """[R, M] log ISI of :mod:`.model` (eq. (2)) for the probe set at factors θ [M, 4]."""
    import jax.numpy as jnp

    D, rscale, which, tau_nom, t_ref_nom, shape = _design(profile, probes)
    th = np.asarray(theta)
    drive = D[:, None] * np.exp(np.eye(4)[which] @ th.T)
    t_ref = rscale[:, None] * t_ref_nom * np.exp(th[:, 2])[None]
    return np.log(np.asarray(isi(jnp.asarray(tau_nom * np.exp(th[:, 0]))[None], drive, t_ref, shape), np.float64))


def propagate(fit: dict, shifts) -> np.ndarray:
    """[M, 4] shift of θ that each log-ISI change in ``shifts`` [Q, R, M] would cause, combined in quadrature:
    Δθ_q = (J_WᵀJ_W)⁻¹·J_Wᵀ·W^½·δ_q per neuron (the fit's linearisation)."""
    J, H, w = fit["jacobian"], fit["hessian"], fit["weights"]        # [M, R, 4], [M, 4, 4], [M, R]
    total = np.zeros(J.shape[0:1] + (4,))
    for d in shifts:
        d = np.where(np.isfinite(d), d, 0.0).T                          # [M, R]
        g = (J * (w * d)[..., None]).sum(axis=1)                        # Jᵀ W δ  [M, 4]
        total += np.linalg.solve(H, g[..., None])[..., 0] ** 2
    return np.sqrt(total)


def core_summary(theta: np.ndarray, sigma: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The core's log-constant (mean of its neurons' log-factors) and its standard error, per factor."""
    th, sg = theta[ok], sigma[ok]
    if len(th) == 0:
        return np.zeros(theta.shape[1]), np.full(theta.shape[1], np.inf)
    n = len(th)
    spread = th.std(axis=0, ddof=1) if n > 1 else np.full(theta.shape[1], 0.2)
    return th.mean(axis=0), np.sqrt(spread ** 2 / n + (sg ** 2).mean(axis=0) / n)
