"""The delay grid of a core: three shared delay stages, two delay bits per CAM entry.

Every core has three delay biases SYPD_DLY0_P..SYPD_DLY2_P; with the (uncalibrated) model of
:mod:`neurodeploy.device.physics`, eq. (8), stage i delays by t_i = V_th·C_dly,i/I_dly,i (s). Each CAM
entry's bits (p = ``precise_delay``, m = ``mismatched_delay``) pick one of four delays, eq. (9):

    d(p, m) = [p ∨ m]·t₀ + p·t₁ + m·t₂   ∈ {0, t₀ + t₁, t₀ + t₂, t₀ + t₁ + t₂}     (s)

Under mismatch (σ the chip's relative spread) stage i varies with σ·s_i, s_i the profile's ``dly_mismatch``
(DLY2, a minimum-size transistor: s₂ = 3); an entry's delay is one factor 1 + σ_e·ξ (ξ ~ N(0, 1)) with the
relative spread of the sum of the stages it uses, eq. (10):

    σ_e/σ = √([p ∨ m]·(s₀t₀)² + p·(s₁t₁)² + m·(s₂t₂)²) / d(p, m)     (1 where d = 0)           (10)

This module holds that grid — the levels, the nearest level of a target, each level's spread (10), each stage's
DAC grid and the longest delay — which the decoder (the emulator), training (delay constraints and the mismatch it
trains against), the design rules and the quantizer share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import physics

#: The four bit combinations (p, m) in level order, and their design rows ([p ∨ m], p, m).
LEVEL_BITS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], bool)
ROWS = np.array([[0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]], float)


@dataclass
class StageGrid:
    """The delays one stage can produce, sorted: ``time`` (s) and the (coarse, fine) code of each."""

    parameter: str
    time: np.ndarray     # [G] s, increasing
    code: np.ndarray     # [G, 2] (coarse, fine)


def stage_grids(profile) -> list[StageGrid]:
    """Each delay stage's DAC grid: every code's current I (A) → t = V_th·C_dly,i/I (s), distinct times only."""
    out = []
    a = profile.analog
    for i in range(3):
        pname = profile.quantity_to_parameter[f"Idly_{i}"]
        cur = profile.bias.all_codes(pname)
        t = physics.delay_time(getattr(a, f"C_dly{i}"), cur, a.V_th)
        t_u, first = np.unique(t, return_index=True)
        n_fine = profile.bias.n_fine
        out.append(StageGrid(pname, t_u, np.stack([first // n_fine, first % n_fine], 1)))
    return out


def max_delay(grids: list[StageGrid]) -> float:
    """The longest delay an entry can be given (s): t₀ + t₁ + t₂ with every stage at its longest."""
    return float(sum(g.time[-1] for g in grids))


def levels(x: np.ndarray) -> np.ndarray:
    """[4] the four delays (s) of stage delays x = (t₀, t₁, t₂), in :data:`LEVEL_BITS` order."""
    return ROWS @ np.asarray(x, float)


def entry_spread(t0, t1, t2, precise, mismatched, stage_sigma) -> np.ndarray:
    """[n] each entry's delay spread relative to the chip's σ, eq. (10): stage times t_i (s, per entry or
    scalar), bits p = ``precise``, m = ``mismatched``, ``stage_sigma`` = (s₀, s₁, s₂); 1 for a zero delay."""
    p, m = np.asarray(precise, bool), np.asarray(mismatched, bool)
    t0, t1, t2 = (np.asarray(t, float) for t in (t0, t1, t2))
    s0, s1, s2 = (float(v) for v in stage_sigma)
    d = (p | m) * t0 + p * t1 + m * t2
    var = (p | m) * (t0 * s0) ** 2 + p * (t1 * s1) ** 2 + m * (t2 * s2) ** 2
    return np.where(d > 0, np.sqrt(var) / np.where(d > 0, d, 1.0), 1.0)


def level_spreads(x: np.ndarray, stage_sigma) -> np.ndarray:
    """[4] the spread (10) of each of the four levels of stage delays x = (t₀, t₁, t₂), in :data:`LEVEL_BITS` order."""
    x = np.asarray(x, float)
    return entry_spread(x[0], x[1], x[2], LEVEL_BITS[:, 0], LEVEL_BITS[:, 1], stage_sigma)


def assign(target: np.ndarray, x: np.ndarray) -> np.ndarray:
    """[n] level index (0..3) nearest to each target delay (ties → the lower level index)."""
    err = np.abs(levels(x)[None, :] - target[:, None])
    return np.argmin(err, axis=1)


