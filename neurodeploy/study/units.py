"""One unit of a yield study: a fixed group of emulated boards, each drawn from its own seed.

Board b of a study with seed s is the emulated chip ``neurodeploy emulate --seed s+b --mismatch σ``
draws: its mismatch key is PRNGKey(s + b), whatever unit, engine, worker or order computes it. A
unit is the boards [u·U, (u+1)·U) (U the unit size, recorded in the study's manifest), run in one
vmapped call; the result depends only on (config, input, σ, s, u, U).

Per board: the output spike counts per sample (over the read-out window), and from them, against the
reference counts ``ref`` (the float network, or the nominal emulated board when no model is given):
``rate_correlation`` (median over outputs of Pearson r across samples), ``relative_rate_error``
(Σ|Δcount| / Σ reference count) and, with labels, ``accuracy`` and ``firing_rate_ratio`` on the
read-out channels (counts @ R) — the metrics of ``neurodeploy verify``.
"""

from __future__ import annotations

import numpy as np

from ..verification import metrics as vm


def board_seeds(seed: int, unit: int, unit_size: int, boards: int) -> list[int]:
    """The seeds of unit ``unit``'s boards (the last unit may be short)."""
    lo = unit * unit_size
    return [seed + b for b in range(lo, min(lo + unit_size, boards))]


def board_metrics(counts: np.ndarray, ref: np.ndarray, labels, R: np.ndarray, duration: float) -> list[dict]:
    """Metrics of each board: ``counts`` [boards, samples, n_out], ``ref`` [samples, n_out]."""
    r = vm.pearson_r(ref, counts)                                   # [boards, n_out]
    rel = vm.relative_rate_error(ref, counts)                       # [boards]
    out = []
    for i in range(counts.shape[0]):
        m = {"rate_correlation": round(float(np.median(r[i])), 6), "relative_rate_error": round(float(rel[i]), 6)}
        if labels is not None:
            m["accuracy"] = round(float(vm.accuracy(counts[i] @ R, labels)), 6)
            if R.shape[1] >= 2:
                m["firing_rate_ratio"] = round(float(vm.firing_rate_ratio(counts[i] @ R, labels, duration)), 6)
        out.append(m)
    return out


def run_unit(cfg, profile, x: np.ndarray, dt: float, window, sigma: float, seeds: list[int], chip=None,
             precise_timing: bool = False, lateness=None) -> np.ndarray:
    """Output counts [len(seeds), samples, n_out] over the window of the boards drawn from ``seeds`` (with a chip
    profile ``chip`` and ``profile`` its measured profile: that measured chip times a residual draw of σ).
    ``precise_timing``: the boards run with precise spike timing (eqs. (P1)–(P4) of :mod:`neurodeploy.sim.model`),
    ``lateness`` (with it) the inputs' lateness, x's shape (:meth:`~neurodeploy.input_times.SpikeTimes.timed`)."""
    from ..backends.emulator import Emulator

    outputs = Emulator(cfg, profile, dt=dt, precise_timing=precise_timing).run_boards(x, dt, sigma, seeds, chip=chip,
                                                                                       lateness=lateness).outputs
    w0, w1 = window
    return outputs[:, :, w0:w1].sum(axis=2)
