"""Per-core weight quantization: 4 shared base weights, a 4-bit mask per CAM entry.

On Dynap-SE2 every CAM entry of a core selects a subset of the core's four base weight
currents W = (I_w0, I_w1, I_w2, I_w3) (parameters SYAM_W0_P..SYAM_W3_P) with its 4-bit mask:

    S(mask) = Σ_b mask_b · W_b          (A; 16 possible values, mask 0000 = no current)

The sign comes from the dendrite (AMPA/NMDA excite, GABA/SHUNT inhibit), so quantization works
on magnitudes: the target of synapse i is t_i = |w_i| · weight_scale (A).

Two resources add levels beyond the plain 16:

* spare CAM entries — a neuron with fan-in f < 64 has 64 − f free entries; a second entry with
  the same tag makes the synapse's current S(m1) + S(m2) (the chip adds the two entries' charge);
* the NMDA dendrite as a second excitatory scale — on a core whose NMDA gate is unused, NMDA with
  the AMPA time constant and its own gain behaves like AMPA scaled by
  g = (I_gain_nmda/I_tau_nmda) / (I_gain_ampa/I_tau_ampa), so an excitatory entry can give
  S(m) or g·S(m) (32 levels).

The optimiser alternates (i) assignment: each synapse takes the nearest single-entry level, and
the spare entries of each neuron go to the synapses whose error they cut most; (ii) a least-
squares refit of W given the assignment (rows = how often each base weight is selected, scaled
by the entry's scale). Restarts: the best uniform 1-2-4-8 grid, target quantiles, and seeded
perturbations. W is then snapped to the DAC grid of SYAM_W*_P and refined by coordinate search
over neighbouring codes. The result is never worse than the best uniform 1-2-4-8 grid on the
DAC (that grid is one of the candidates). Deterministic for a given seed.

Reproducible across machines: the errors are exactly rounded sums (:func:`neurodeploy.detmath.rel_rms`),
a candidate (start, iterate, NMDA scale, DAC neighbour, final W) replaces an earlier one only when
better by more than :data:`neurodeploy.detmath.REL_TOL` relative, the uniform-grid scan uses
bit-reproducible log/exp, and the least-squares solutions are rounded to :data:`W_DIGITS` significant
digits — so a last-bit difference of numpy / BLAS / LAPACK on another CPU changes no decision and
no written value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import detmath
from ..device.masks import Alphabet


#: Significant digits kept of a least-squares solution (LAPACK results differ in the last bits between CPUs).
W_DIGITS = 10


def round_sig(x, digits: int = W_DIGITS) -> np.ndarray:
    """x rounded to ``digits`` significant (decimal) digits, elementwise."""
    x = np.asarray(x, dtype=np.float64)
    return np.array([float(f"{v:.{digits - 1}e}") for v in x.ravel().tolist()]).reshape(x.shape)


def best_index(errors) -> int:
    """Index of the smallest error; a later candidate wins only when better by more than REL_TOL."""
    best = 0
    for i, e in enumerate(errors):
        if detmath.less(e, errors[best]):
            best = i
    return best


def _nearest(levels: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index into ``levels`` of the nearest level to each target (ties → lower level)."""
    order = np.argsort(levels, kind="stable")
    s = levels[order]
    i = np.searchsorted(s, t)
    lo = np.clip(i - 1, 0, len(s) - 1)
    hi = np.clip(i, 0, len(s) - 1)
    pick = np.where(np.abs(s[lo] - t) <= np.abs(s[hi] - t), lo, hi)
    return order[pick]


@dataclass
class Assignment:
    """Quantized synapses of one core: option index of the first and (optional) spare entry."""

    first: np.ndarray           # [n] option index into the synapse's alphabet
    second: np.ndarray          # [n] option index, −1 = no spare entry
    value: np.ndarray           # [n] realised current (A)


@dataclass
class CoreProblem:
    """Targets of one core's synapses: magnitude (A), class (0: plain, 1: NMDA-scalable), owner neuron."""

    target: np.ndarray                  # [n] A, > 0
    scalable: np.ndarray                # [n] bool: may use the NMDA-scaled options
    owner: np.ndarray                   # [n] local neuron index (for the spare budget)
    spare_budget: np.ndarray            # [n_neurons] spare CAM entries available per neuron
    alphabets: dict = field(default_factory=dict)


def _pair_table(vals: np.ndarray):
    """All unordered pairs (i ≤ j) of option values: sums, i, j (sorted by sum)."""
    k = len(vals)
    i, j = np.triu_indices(k)
    s = vals[i] + vals[j]
    order = np.argsort(s, kind="stable")
    return s[order], i[order], j[order]


def assign(prob: CoreProblem, W: np.ndarray, g: float | None, use_spares: bool = True) -> Assignment:
    """Best assignment for fixed base weights W (and NMDA scale g where allowed)."""
    t = prob.target
    n = t.size
    first = np.zeros(n, np.int64)
    second = np.full(n, -1, np.int64)
    value = np.zeros(n)
    pair_val = np.zeros(n)
    pair_i = np.zeros(n, np.int64)
    pair_j = np.zeros(n, np.int64)
    for cls, gg in ((False, None), (True, g)):
        sel = prob.scalable == cls
        if not np.any(sel):
            continue
        alpha = Alphabet.make(gg if cls else None)
        vals = alpha.values(W)
        idx = _nearest(vals, t[sel])
        first[sel] = idx
        value[sel] = vals[idx]
        if use_spares:
            ps, pi, pj = _pair_table(vals)
            k = _nearest(ps, t[sel])
            pair_val[sel], pair_i[sel], pair_j[sel] = ps[k], pi[k], pj[k]
    if use_spares and np.any(prob.spare_budget > 0):
        gain = (value - t) ** 2 - (pair_val - t) ** 2
        order = np.lexsort((-gain, prob.owner))           # by owner, then largest gain first
        owner_sorted = prob.owner[order]
        start = np.searchsorted(owner_sorted, owner_sorted, side="left")
        rank = np.arange(n) - start
        grant_sorted = (rank < prob.spare_budget[owner_sorted]) & (gain[order] > 0)
        grant = np.zeros(n, bool)
        grant[order] = grant_sorted
        first = np.where(grant, pair_i, first)
        second = np.where(grant, pair_j, -1)
        value = np.where(grant, pair_val, value)
    return Assignment(first, second, value)


def design_rows(prob: CoreProblem, a: Assignment, g: float | None) -> np.ndarray:
    rows = np.zeros((prob.target.size, 4))
    for cls, gg in ((False, None), (True, g)):
        sel = prob.scalable == cls
        if not np.any(sel):
            continue
        r = Alphabet.make(gg if cls else None).rows()
        rows[sel] += r[a.first[sel]]
        has2 = sel & (a.second >= 0)
        rows[has2] += r[a.second[has2]]
    return rows


def rel_rms(value: np.ndarray, target: np.ndarray) -> float:
    """Relative RMS error sqrt(Σ(v − t)² / Σt²), exactly rounded sums (order- and machine-independent)."""
    return detmath.rel_rms(value, target)


def uniform_grid_error(target: np.ndarray, n_steps: int = 96) -> tuple[float, float]:
    """Best uniform 1-2-4-8 grid (levels k·s, k = 0..15, continuous s): (rel. RMS error, step s).

    Coarse scan of s over [max/40, max/7.5] on ≤ 4000 targets, then a fine scan around the best.
    """
    t = np.asarray(target, dtype=np.float64)
    if t.size == 0:
        return 0.0, 0.0
    tmax = float(t.max())
    sub = t if t.size <= 4000 else t[:: max(1, t.size // 4000)]

    def scan(steps):
        k = np.clip(np.rint(sub[None, :] / steps[:, None]), 0, 15)
        d = k * steps[:, None] - sub[None, :]
        return float(steps[best_index(np.sum(d * d, axis=1).tolist())])   # near-ties → the earlier step

    def geomspace(a, b, n):     # np.geomspace with bit-reproducible log/exp
        return a * detmath.exp(np.linspace(0.0, 1.0, n) * detmath.log(np.array([b / a]))[0])

    coarse = geomspace(tmax / 40, tmax / 7.5, n_steps)
    s = scan(coarse)
    ratio = coarse[1] / coarse[0]
    s = scan(geomspace(s / ratio, s * ratio, 24))
    q = np.clip(np.rint(t / s), 0, 15) * s
    return rel_rms(q, t), s


def _refit(prob: CoreProblem, a: Assignment, g, W_prev: np.ndarray, w_min: float) -> np.ndarray:
    A = design_rows(prob, a, g)
    used = np.any(A > 0, axis=0)
    W = W_prev.copy()
    if not np.any(used):
        return W
    sol, *_ = np.linalg.lstsq(A[:, used], prob.target, rcond=None)
    W[used] = np.maximum(round_sig(sol), w_min)
    return W


def optimise_continuous(prob: CoreProblem, g: float | None, rng: np.random.Generator, *,
                        restarts: int = 4, iters: int = 12, w_min: float = 1e-12,
                        step: float | None = None) -> tuple[np.ndarray, float]:
    """Alternating assignment / least squares with restarts; returns (W [4], rel. RMS error).

    ``step``: the best uniform-grid step (computed when not given), the first start.
    """
    t = prob.target
    s = uniform_grid_error(t)[1] if step is None else step
    starts = [s * np.array([1.0, 2.0, 4.0, 8.0])]
    q = np.quantile(t, [0.1, 0.25, 0.5, 0.9])
    starts.append(np.sort(q) * np.array([1.0, 1.0, 1.0, 0.6]))
    for _ in range(restarts):
        starts.append(starts[0] * rng.uniform(0.7, 1.3, 4))
    best_W, best_e = starts[0], np.inf
    for W in starts:
        W = np.maximum(np.asarray(W, float), w_min)
        e_prev = np.inf
        for _ in range(iters):
            a = assign(prob, W, g)
            e = rel_rms(a.value, t)
            if detmath.less(e, best_e):
                best_W, best_e = W.copy(), e
            if e >= e_prev * (1 - 1e-6):
                break
            e_prev = e
            W = _refit(prob, a, g, W, w_min)
    return best_W, best_e


def snap_to_dac(prob: CoreProblem, W: np.ndarray, g: float | None, grid: np.ndarray, *,
                neighbours: int = 3, sweeps: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """Snap W to the sorted DAC current grid, then coordinate search ±``neighbours`` codes.

    Returns (W on the grid, indices into ``grid``, rel. RMS error).
    """
    idx = np.clip(np.searchsorted(grid, W), 0, len(grid) - 1)
    lower = np.clip(idx - 1, 0, len(grid) - 1)
    idx = np.where(np.abs(grid[lower] - W) < np.abs(grid[idx] - W), lower, idx)

    def err(ix):
        return rel_rms(assign(prob, grid[ix], g).value, prob.target)

    best = err(idx)
    for _ in range(sweeps):
        improved = False
        for b in range(4):
            for d in range(-neighbours, neighbours + 1):
                if d == 0:
                    continue
                cand = idx.copy()
                cand[b] = np.clip(cand[b] + d, 0, len(grid) - 1)
                e = err(cand)
                if detmath.less(e, best):
                    best, idx, improved = e, cand, True
        if not improved:
            break
    return grid[idx], idx, best


@dataclass
class CoreResult:
    W: np.ndarray            # [4] base weights on the DAC grid (A)
    grid_index: np.ndarray   # [4] index into the DAC grid
    g: float | None          # NMDA scale used (None: not used)
    assignment: Assignment
    error: float             # rel. RMS error of this core's synapses
    uniform_error: float     # best continuous uniform 1-2-4-8 grid, no spares, no NMDA


def _subproblem(prob: CoreProblem, max_synapses: int, rng: np.random.Generator) -> CoreProblem:
    """A subset of whole neurons (so spare budgets keep their meaning) with ≤ max_synapses synapses."""
    if prob.target.size <= max_synapses:
        return prob
    owners = np.unique(prob.owner)
    counts = np.bincount(prob.owner, minlength=prob.spare_budget.size)[owners]
    perm = rng.permutation(owners.size)
    keep_n = np.searchsorted(np.cumsum(counts[perm]), max_synapses) + 1
    keep = np.zeros(prob.spare_budget.size, bool)
    keep[owners[perm[:keep_n]]] = True
    sel = keep[prob.owner]
    return CoreProblem(prob.target[sel], prob.scalable[sel], prob.owner[sel], prob.spare_budget)


def quantize_core(prob: CoreProblem, grid: np.ndarray, *, g_candidates=(1 / 16, 1 / 8, 1 / 4, 1 / 2),
                  seed: int = 0, max_fit_synapses: int = 3000, use_nmda: bool = True) -> CoreResult:
    """Choose base weights on the DAC ``grid`` (sorted currents) and entries for one core.

    ``g_candidates`` are tried as NMDA scales when some synapses are scalable and ``use_nmda``;
    the best (on a subsample) is kept. The final W is chosen among the optimised solution and
    the uniform 1-2-4-8 grid snapped to the DAC, by the error on all synapses.
    """
    rng = np.random.default_rng(seed)
    t = prob.target
    uni_err, step = uniform_grid_error(t)
    if t.size == 0:
        W = grid[np.clip(np.searchsorted(grid, [1e-9, 2e-9, 4e-9, 8e-9]), 0, len(grid) - 1)]
        a = Assignment(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        return CoreResult(W, np.searchsorted(grid, W), None, a, 0.0, 0.0)
    sub = _subproblem(prob, max_fit_synapses, rng)
    gs: list[float | None] = [None]
    if use_nmda and np.any(prob.scalable):
        gs += list(g_candidates)
    # pick the NMDA scale with a short run from the uniform start, then optimise it fully
    scout = [(optimise_continuous(sub, g, rng, restarts=0, iters=4, step=step), g) for g in gs]
    g = scout[best_index([r[0][1] for r in scout])][1]
    W, _ = optimise_continuous(sub, g, rng, restarts=2, iters=10, step=step)
    Wd, ix, _ = snap_to_dac(sub, W, g, grid, neighbours=2, sweeps=1)
    # candidates on all synapses: the optimised solution and the DAC-snapped uniform grid
    cands = [(ix, g)]
    uni = np.clip(np.searchsorted(grid, step * np.array([1, 2, 4, 8])), 0, len(grid) - 1)
    cands.append((uni, None))
    results = []
    for cix, cg in cands:
        a = assign(prob, grid[cix], cg)
        results.append((rel_rms(a.value, t), cix, cg, a))
    e, cix, cg, a = results[best_index([r[0] for r in results])]
    return CoreResult(grid[cix], cix, cg, a, e, uni_err)
