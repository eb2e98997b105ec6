"""Bias generator: (coarse, fine) DAC codes ↔ circuit currents.

Forward:  I(p, c, f) = T[type(p)][c][f] · s_p(T[type(p)][c][f])

where T is the measured bias-generator table (amperes; 6 coarse × 256 fine, N and P branch)
and s_p the parameter's scale factor. In ``curve`` mode s_p is the measured scale curve of the
parameter's transistor geometry, interpolated linearly in (log I, log s) and held constant
outside the measured range (with :mod:`neurodeploy.detmath`'s log/exp, so that every code's
current has the same bits on every machine); in ``constant`` mode (or for a parameter with no known geometry)
s_p is the parameter's constant factor.

Inverse: the table is not monotonic in fine (dips at DAC segment edges), so the inverse
searches all 6·256 codes: the currents of all codes are precomputed and sorted per parameter,
and a target current is located by binary search and compared with its two neighbours —
exact nearest-code search, O(log n) per current, vectorised over arrays of currents. Minimising
|I_code − I| is the same as minimising the relative error |I_code − I|/I. Ties go to the lowest
code (coarse·256 + fine).

Resolution floor: within coarse 0 the table steps by ≈ 0.28 pA (N) per fine step, so for
circuit currents near 10 pA the worst-case relative error of the nearest code is ≈ 1.5 %, and
it grows as 1/I below that (≈ 15 % at 1 pA). Above ≈ 30 pA every parameter is better than 0.5 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import detmath
from ..errors import BiasRangeError


@dataclass(frozen=True)
class Conversion:
    """Result of a current → code conversion (arrays broadcast like the input)."""

    parameter: str
    target: np.ndarray      # requested current (A)
    coarse: np.ndarray      # int
    fine: np.ndarray        # int
    current: np.ndarray     # current of the chosen code (A)
    rel_error: np.ndarray   # (current − target) / target
    clipped: np.ndarray     # bool: target was outside the reachable range and was clipped


class BiasGenerator:
    """Vectorised code ↔ current conversion for every parameter of a profile."""

    def __init__(self, profile):
        self.profile = profile
        bg = profile.bias_generator
        self.n_coarse, self.n_fine = bg.coarse_levels, bg.fine_levels
        self._codes: dict[str, np.ndarray] = {}     # parameter → current of every code [coarse*fine]
        self._sorted: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # ---- forward -----------------------------------------------------------------------
    def scale(self, parameter: str, table_current) -> np.ndarray:
        """Scale factor s_p at the given generator (table) current(s)."""
        p = self.profile.parameter(parameter)
        x = np.asarray(table_current, dtype=np.float64)
        if self.profile.bias_generator.scale_mode == "constant" or p.geometry is None:
            return np.full_like(x, p.constant_scale)
        curve = self.profile.scale_curves[f"{p.type}{p.geometry}"]
        # bit-reproducible log/exp: every code's current is written out, and decides codes and weights
        return detmath.interp_loglog(np.maximum(x, 1e-30), self.profile.scale_currents, curve)

    def scale_source(self, parameter: str) -> str:
        p = self.profile.parameter(parameter)
        if self.profile.bias_generator.scale_mode == "constant":
            return f"constant {p.constant_scale}"
        if p.geometry is None:
            return f"constant {p.constant_scale} (no measured curve for this parameter)"
        return f"curve {p.type}{p.geometry}"

    def all_codes(self, parameter: str) -> np.ndarray:
        """Current (A) of every code of a parameter, index = coarse·n_fine + fine."""
        if parameter not in self._codes:
            p = self.profile.parameter(parameter)
            t = self.profile.table[0 if p.type == "N" else 1].reshape(-1)
            cur = t * self.scale(parameter, t)
            cur.setflags(write=False)
            self._codes[parameter] = cur
            order = np.argsort(cur, kind="stable")
            self._sorted[parameter] = (cur[order], order)
        return self._codes[parameter]

    def to_current(self, parameter: str, coarse, fine) -> np.ndarray:
        """Circuit current (A) of code(s) (coarse, fine). Raises on codes out of range."""
        c = np.asarray(coarse)
        f = np.asarray(fine)
        if np.any((c < 0) | (c >= self.n_coarse)) or np.any((f < 0) | (f >= self.n_fine)):
            raise BiasRangeError(
                f"{parameter}: code (coarse={c.tolist()}, fine={f.tolist()}) out of range: coarse 0..{self.n_coarse-1}, fine 0..{self.n_fine-1}")
        return self.all_codes(parameter)[c.astype(np.int64) * self.n_fine + f.astype(np.int64)]

    def range(self, parameter: str) -> tuple[float, float]:
        """(smallest, largest) current the parameter can produce (A)."""
        s, _ = self._sorted_codes(parameter)
        return float(s[0]), float(s[-1])

    def _sorted_codes(self, parameter):
        self.all_codes(parameter)
        return self._sorted[parameter]

    # ---- inverse -----------------------------------------------------------------------
    def to_code(self, parameter: str, current, *, clip: bool = False, rtol: float = 0.005) -> Conversion:
        """Nearest code(s) to the target current(s) (A).

        A target outside [min, max] of the reachable currents by more than ``rtol`` (relative)
        raises :class:`BiasRangeError` naming the parameter, the value and the range, unless
        ``clip`` is true: then it maps to the end of the range and ``clipped`` marks it.
        """
        target = np.asarray(current, dtype=np.float64)
        if not np.all(np.isfinite(target)):
            raise BiasRangeError(f"{parameter}: current {target[~np.isfinite(target)].ravel()[0]} is not a finite number")
        vals, order = self._sorted_codes(parameter)
        lo, hi = vals[0], vals[-1]
        outside = (target < lo * (1 - rtol)) | (target > hi * (1 + rtol))
        if np.any(outside) and not clip:
            bad = target[outside].ravel()[0]
            raise BiasRangeError(
                f"{parameter}: current {bad:.4g} A is outside the reachable range {lo:.4g} A .. {hi:.4g} A "
                f"({self.scale_source(parameter)}); change the network's value or allow clipping",
                rule="bias-range")
        t = np.clip(target, lo, hi)
        i = np.searchsorted(vals, t, side="left")
        i_hi = np.minimum(i, len(vals) - 1)
        i_lo = np.maximum(i - 1, 0)
        # nearest of the two neighbours; ties → lower current, then lowest code (stable sort)
        pick = np.where(np.abs(vals[i_lo] - t) <= np.abs(vals[i_hi] - t), i_lo, i_hi)
        # among equal currents keep the lowest code index: move left while equal
        val = vals[pick]
        first = np.searchsorted(vals, val, side="left")
        code = order[first]
        cur = self.all_codes(parameter)[code]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(target != 0, (cur - target) / target, np.where(cur == 0, 0.0, np.inf))
        return Conversion(parameter, target, code // self.n_fine, code % self.n_fine, cur, rel, outside)
