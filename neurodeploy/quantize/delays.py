"""Per-core delay quantization: 3 shared delay stages, 2 delay bits per CAM entry.

The grid itself — stage i delays by t_i = V_th·C_dly,i/I_dly,i (s), and each CAM entry's bits
(p = ``precise_delay``, m = ``mismatched_delay``) pick one of four delays — is :mod:`neurodeploy.device.delays`:

    d(p, m) = [p ∨ m]·t₀ + p·t₁ + m·t₂   ∈ {0, t₀ + t₁, t₀ + t₂, t₀ + t₁ + t₂}     (s)

— linear in x = (t₀, t₁, t₂) with the design row r(p, m) = ([p ∨ m], p, m). For the target delays
d_j of a core's entries (s), the quantizer minimises the squared error Σ_j (d(p_j, m_j) − d_j)² by
alternating (i) assignment: each entry takes the nearest of the four levels (a target 0 takes
bits 00, exactly 0), and (ii) a bounded least-squares refit of x given the bits (each t_i within its
stage's range; the 3-variable problem is solved exactly over its active sets). Restarts: the best
uniform choice (t₀ = t₁ = t₂), target quantiles, and seeded perturbations. x is then snapped to each
stage's DAC grid (every (coarse, fine) code through the measured bias generator) and refined by
coordinate search over neighbouring codes — x and x with t₁, t₂ swapped (the same levels, which the
continuous problem cannot tell apart; the stages' grids can), the better kept, so that delays on the
quantizer's own levels map back onto them. The final choice is the better of that and the best
uniform choice on the DAC, by the error on all entries: never worse than uniform (up to the tie-break:
when swapping the roles of stages 1 and 2 keeps the nominal error within 0.1 % and lowers the entries'
delay variance under mismatch — DLY2, a minimum-size transistor, has 3× the spread — the swap is kept).
Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from ..device.delays import LEVEL_BITS, ROWS, StageGrid, assign, levels, stage_grids


def _err2(target: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((levels(x)[assign(target, x)] - target) ** 2))


def _bounded_lstsq(A: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, x_prev: np.ndarray) -> np.ndarray:
    """min ‖A x − b‖² subject to lo ≤ x ≤ hi, exactly: every variable free, at lo or at hi (3³ active sets).
    A variable no row uses keeps ``x_prev``."""
    used = np.any(A != 0, axis=0)
    best, best_x = np.inf, x_prev.copy()
    for state in product((0, 1, 2), repeat=int(used.sum())):
        x = x_prev.copy()
        idx = np.flatnonzero(used)
        free = [i for i, s in zip(idx, state) if s == 0]
        for i, s in zip(idx, state):
            if s:
                x[i] = lo[i] if s == 1 else hi[i]
        if free:
            rhs = b - A[:, [i for i in range(3) if i not in free]] @ x[[i for i in range(3) if i not in free]]
            sol, *_ = np.linalg.lstsq(A[:, free], rhs, rcond=None)
            if np.any(sol < lo[free]) or np.any(sol > hi[free]):
                continue
            x[free] = sol
        c = float(np.sum((A @ x - b) ** 2))
        if c < best:
            best, best_x = c, x
    return best_x


def optimise_continuous(target: np.ndarray, lo: np.ndarray, hi: np.ndarray, starts: list, *, iters: int = 12):
    """Alternating assignment / bounded least squares from each start; (best x [3] (s), squared error)."""
    best_x, best_e = None, np.inf
    for x in starts:
        x = np.clip(np.asarray(x, float), lo, hi)
        e_prev = np.inf
        for _ in range(iters):
            a = assign(target, x)
            e = float(np.sum((levels(x)[a] - target) ** 2))
            if e < best_e:
                best_x, best_e = x.copy(), e
            if e >= e_prev * (1 - 1e-9):
                break
            e_prev = e
            x = _bounded_lstsq(ROWS[a], target, lo, hi, x)
    return best_x, best_e


def _nearest_index(grid: np.ndarray, t: float) -> int:
    i = int(np.clip(np.searchsorted(grid, t), 0, grid.size - 1))
    if i > 0 and abs(grid[i - 1] - t) <= abs(grid[i] - t):
        return i - 1
    return i


def uniform_choice(target: np.ndarray, grids: list[StageGrid], max_targets: int = 4000) -> np.ndarray:
    """The best uniform choice of the three biases: one delay t for all stages (levels 0, 2t, 2t, 3t), t scanned
    over stage 0's DAC grid (each stage then at its grid point nearest to t); returns the [3] grid indices."""
    sub = target if target.size <= max_targets else target[:: max(1, target.size // max_targets)]
    ts = grids[0].time
    lv = np.array([0.0, 2.0, 3.0])[None, :, None] * ts[:, None, None]              # [G, 3 distinct levels, 1]
    err = np.min(np.abs(lv - sub[None, None, :]), axis=1) ** 2                       # [G, n]
    t = float(ts[int(np.argmin(err.sum(1)))])
    return np.array([_nearest_index(g.time, t) for g in grids])


def snap_to_dac(target: np.ndarray, x: np.ndarray, grids: list[StageGrid], *, neighbours: int = 4, sweeps: int = 3):
    """x → the nearest grid point of each stage, then coordinate search ±``neighbours`` codes: [3] grid indices."""
    ix = np.array([_nearest_index(g.time, float(xi)) for g, xi in zip(grids, x)])
    times = lambda k: np.array([g.time[j] for g, j in zip(grids, k)])  # noqa: E731
    best = _err2(target, times(ix))
    for _ in range(sweeps):
        improved = False
        for i in range(3):
            for d in range(-neighbours, neighbours + 1):
                cand = ix.copy()
                cand[i] = np.clip(cand[i] + d, 0, grids[i].time.size - 1)
                e = _err2(target, times(cand))
                if e < best * (1 - 1e-12):
                    best, ix, improved = e, cand, True
        if not improved:
            break
    return ix


@dataclass
class CoreDelays:
    """One core's delay quantization: stage delays on the DAC, their codes, each entry's bits and delay."""

    t: np.ndarray            # [3] s
    codes: list              # [3] (coarse, fine) of SYPD_DLY0..2_P
    precise: np.ndarray      # [n] bool
    mismatched: np.ndarray   # [n] bool
    value: np.ndarray        # [n] s, the nominal realised delay
    rms_error: float         # s
    uniform_rms_error: float  # s, the best uniform choice of the three biases


def _starts(target: np.ndarray, x_uni: np.ndarray, rng: np.random.Generator, restarts: int) -> list:
    """Starting stage delays: the uniform choice, quantiles of the delayed targets (both orders of the two
    one-stage levels), and a seeded random walk (factors 0.7..1.3) from the last of those."""
    starts = [x_uni]
    pos = target[target > 0]
    if pos.size:
        L = np.quantile(pos, [1 / 6, 1 / 2, 5 / 6])
        for a, b in ((L[0], L[1]), (L[1], L[0])):      # levels t0+t1 = a, t0+t2 = b, t0+t1+t2 = L[2]
            top = max(L[2], max(a, b) * 1.01)
            starts.append(np.array([max(a + b - top, 0.05 * min(a, b)), top - b, top - a]))
    for _ in range(restarts):
        starts.append(starts[-1] * rng.uniform(0.7, 1.3, 3))
    return starts


def spread_cost(target: np.ndarray, t: np.ndarray, stage_sigma) -> float:
    """Σ_j Σ_i (used_ij·s_i·t_i)² (s²): the entries' delay variance per unit chip σ² — stage i (σ s_i relative,
    the profile's ``dly_mismatch``: DLY2 is a minimum-size transistor) contributes when the entry's level uses it."""
    a = assign(target, t)
    used = ROWS[a] * (np.asarray(stage_sigma, float) * t)[None, :]
    return float(np.sum(used ** 2))


def _swapped(target, ix, grids, stage_sigma, tol: float = 1e-3):
    """The same levels with stages 1 and 2 swapped (t₀ + t₁ ↔ t₀ + t₂: nominally the same delays, snapped to the
    DAC grids) when its RMS error is within ``tol`` of the other's (relative, plus ``tol`` of the targets' RMS) and
    it is less sensitive to mismatch
    (:func:`spread_cost`); else ``ix``. Puts the large delays on the precise stage, the small ones on DLY2."""
    times = lambda k: np.array([g.time[j] for g, j in zip(grids, k)])  # noqa: E731
    t = times(ix)
    sw = snap_to_dac(target, np.array([t[0], t[2], t[1]]), grids)
    n = max(target.size, 1)
    rms, rms_sw = np.sqrt(_err2(target, t) / n), np.sqrt(_err2(target, times(sw)) / n)
    close = rms_sw <= rms * (1 + tol) + tol * float(np.sqrt(np.mean(target ** 2)))
    if close and spread_cost(target, times(sw), stage_sigma) < spread_cost(target, t, stage_sigma):
        return sw
    return ix


def quantize_core_delays(target: np.ndarray, grids: list[StageGrid], *, seed: int = 0, restarts: int = 3,
                         max_fit: int = 3000, stage_sigma=(1.0, 1.0, 1.0)) -> CoreDelays:
    """Choose the core's three delay biases and each entry's bits for target delays ``target`` [n] (s).

    Of two solutions with nearly (0.1 %) the same nominal error — the precise and the mismatched stage swap
    roles — the one less sensitive to mismatch is kept (``stage_sigma``: each stage's σ relative to the chip's)."""
    rng = np.random.default_rng(seed)
    target = np.asarray(target, float)
    lo = np.array([g.time[0] for g in grids])
    hi = np.array([g.time[-1] for g in grids])
    sub = target if target.size <= max_fit else target[rng.permutation(target.size)[:max_fit]]
    times = lambda k: np.array([g.time[j] for g, j in zip(grids, k)])  # noqa: E731
    uni = uniform_choice(target, grids)
    x, _ = optimise_continuous(sub, lo, hi, _starts(sub, times(uni), rng, restarts))
    opt = snap_to_dac(sub, x, grids)
    alt = snap_to_dac(sub, x[[0, 2, 1]], grids)     # the same levels, stages 1 and 2 swapped: equal before snapping
    if _err2(sub, times(alt)) < _err2(sub, times(opt)):
        opt = alt
    e_uni, e_opt = _err2(target, times(uni)), _err2(target, times(opt))
    ix = opt if e_opt <= e_uni else uni
    sw = _swapped(target, ix, grids, stage_sigma)
    if _err2(target, times(sw)) <= e_uni:          # the tie-break never makes it worse than uniform
        ix = sw
    e_opt = _err2(target, times(ix))
    t = times(ix)
    a = assign(target, t)
    n = max(target.size, 1)
    return CoreDelays(t, [tuple(int(c) for c in g.code[j]) for g, j in zip(grids, ix)], LEVEL_BITS[a, 0].copy(),
                      LEVEL_BITS[a, 1].copy(), levels(t)[a], float(np.sqrt(e_opt / n)),
                      float(np.sqrt(e_uni / n)))


def _core_report(ci: int, target: np.ndarray, r: CoreDelays) -> dict:
    err = r.value - target
    level = r.precise.astype(int) + 2 * r.mismatched.astype(int)
    return {"core": ci, "synapses": int(target.size), "delayed": int(np.count_nonzero(target > 0)),
            "rms_error_s": float(f"{r.rms_error:.6g}"), "max_error_s": float(f"{np.max(np.abs(err), initial=0):.6g}"),
            "uniform_rms_error_s": float(f"{r.uniform_rms_error:.6g}"),
            "stage_delays_s": [float(f"{t:.6g}") for t in r.t],
            "entries_per_bits": {k: int(np.sum(level == i)) for i, k in enumerate(("00", "p", "m", "pm"))}}


def delay_model(profile) -> str:
    """What the delay report says of the stage model: calibrated (C_dly0..2 measured on the chip) or not."""
    if profile.analog.delay_calibrated:
        return "calibrated (delay stages measured on the chip: profile analog.delay_calibrated true)"
    return "uncalibrated (profile analog.delay_calibrated false)"


def _overall(target: np.ndarray, value: np.ndarray, per_core: list[dict], model: str) -> dict:
    n = max(target.size, 1)
    den = float(np.sum(target ** 2))
    uni2 = sum(r["uniform_rms_error_s"] ** 2 * r["synapses"] for r in per_core)
    e2 = float(np.sum((value - target) ** 2))
    rel = lambda x: float(f"{np.sqrt(x / den):.6g}") if den > 0 else 0.0  # noqa: E731
    return {"synapses": int(target.size), "delayed": int(np.count_nonzero(target > 0)),
            "rms_error_s": float(f"{np.sqrt(e2 / n):.6g}"), "relative_rms_error": rel(e2),
            "max_error_s": float(f"{np.max(np.abs(value - target), initial=0):.6g}"),
            "uniform_rms_error_s": float(f"{np.sqrt(uni2 / n):.6g}"), "uniform_relative_rms_error": rel(uni2),
            "model": model, "per_core": per_core}


def quantize_network_delays(delay: np.ndarray, core_of: np.ndarray, live: np.ndarray, profile, seed: int = 0):
    """Delay quantization of a whole network: ``delay`` [S] target delays (s), ``core_of`` [S] the logical core of
    each synapse's target, ``live`` [S] whether the synapse has a CAM entry (a weight quantized to zero has none).

    Returns (the four :data:`~neurodeploy.quantize.quantized_json.DELAY_COLUMNS` as lists, {core: {SYPD_DLYi_P: (coarse,
    fine)}} for the cores with a delayed entry, the report: RMS/max error (s) and the best uniform choice's, per core
    and overall, over the entries). Cores without a delayed entry keep bits 00 and write no delay bias."""
    grids = stage_grids(profile)
    S = delay.size
    precise, mismatched, value = np.zeros(S, bool), np.zeros(S, bool), np.zeros(S)
    codes: dict[int, dict[str, tuple[int, int]]] = {}
    per_core = []
    for ci in np.unique(core_of[live & (delay > 0)]):
        sel = np.flatnonzero(live & (core_of == ci))
        r = quantize_core_delays(delay[sel], grids, seed=seed + int(ci), stage_sigma=profile.analog.dly_mismatch)
        precise[sel], mismatched[sel], value[sel] = r.precise, r.mismatched, r.value
        codes[int(ci)] = {g.parameter: c for g, c in zip(grids, r.codes)}
        per_core.append(_core_report(int(ci), delay[sel], r))
    cols = {"delay": delay.tolist(), "precise_delay": precise.tolist(), "mismatched_delay": mismatched.tolist(),
            "delay_value": value.tolist()}
    return cols, codes, _overall(delay[live], value[live], per_core, delay_model(profile))
