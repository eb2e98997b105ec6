"""Bit-reproducible float helpers: the same bits on every IEEE-754 machine.

numpy's transcendental functions (np.log, np.exp, ...) and BLAS-backed products (``@``, np.dot,
np.linalg) may differ in the last bit between machines (AVX-512 SVML vs libm, OpenBLAS kernels),
and the deployment's outputs are written with full float precision, so the quantize stage uses
these instead wherever a result reaches an output or a discrete decision:

* :func:`log`, :func:`exp` — range reduction by frexp / ldexp (exact) and a fixed polynomial
  evaluated with elementwise +, −, ×, ÷ only (each correctly rounded by IEEE 754, on any SIMD width);
  accurate to a few ulp, which is far below the measured curves they interpolate;
* :func:`interp_loglog` — linear interpolation of log y in log x, held constant outside the range;
* :func:`fsum`, :func:`rel_rms` — exactly rounded sums (math.fsum), independent of summation order;
* :func:`less` — "better by more than a relative tolerance" for choosing between candidates.
"""

from __future__ import annotations

import math

import numpy as np

_LN2_HI = 6.93147180369123816490e-01      # ln 2 split (fdlibm): k·_LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_SQRT_HALF = 0.70710678118654757
_ATANH = [1.0 / (2 * k + 1) for k in range(13)]          # z + z³/3 + z⁵/5 + …, |z| ≤ 0.172
_EXP = [1.0 / math.factorial(k) for k in range(19)]       # Σ rᵏ/k!, |r| ≤ 0.347

#: Relative margin by which a candidate must be better to replace an earlier one (see :func:`less`).
REL_TOL = 1e-9


def log(x) -> np.ndarray:
    """Natural log of x (float64 array), bit-reproducible; 0 → −inf, < 0 → nan, inf → inf, like np.log."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x) & (x > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        special = np.where(x == 0, -np.inf, np.where(x > 0, x, np.nan))    # inf stays inf, nan stays nan
    return np.where(ok, _log_positive(np.where(ok, x, 1.0)), special)


def _log_positive(x: np.ndarray) -> np.ndarray:
    m, e = np.frexp(x)
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e).astype(np.float64)
    z = (m - 1.0) / (m + 1.0)
    z2 = z * z
    p = np.full_like(z, _ATANH[-1])
    for c in reversed(_ATANH[:-1]):
        p = p * z2 + c
    return e * _LN2_HI + (2.0 * z * p + e * _LN2_LO)


def exp(y) -> np.ndarray:
    """e**y (float64 array), bit-reproducible; y ≥ 700 → inf, y ≤ −700 → 0 (no subnormals), nan → nan."""
    y = np.asarray(y, dtype=np.float64)
    ok = np.abs(y) < 700.0
    with np.errstate(over="ignore", invalid="ignore"):
        special = np.where(y > 0, np.inf, np.where(y < 0, 0.0, y))      # |y| ≥ 700 (or nan)
    return np.where(ok, _exp_small(np.where(ok, y, 0.0)), special)


def _exp_small(y: np.ndarray) -> np.ndarray:
    k = np.rint(y * _INV_LN2)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = np.full_like(r, _EXP[-1])
    for c in reversed(_EXP[:-1]):
        p = p * r + c
    return np.ldexp(p, k.astype(np.int64))


def interp_loglog(x, xp, fp) -> np.ndarray:
    """y(x) for positive x by linear interpolation of log fp in log xp (xp increasing), constant outside."""
    lx, lxp, lfp = log(np.maximum(np.asarray(x, dtype=np.float64), 1e-300)), log(xp), log(fp)
    j = np.clip(np.searchsorted(lxp, lx, side="right") - 1, 0, len(lxp) - 2)
    u = np.clip((lx - lxp[j]) / (lxp[j + 1] - lxp[j]), 0.0, 1.0)
    return exp(lfp[j] + u * (lfp[j + 1] - lfp[j]))


def fsum(x) -> float:
    """Exactly rounded sum of the elements of x (order-independent)."""
    return math.fsum(np.asarray(x, dtype=np.float64).ravel().tolist())


def rel_rms(value, target) -> float:
    """sqrt(Σ(value − target)² / Σ target²), with exactly rounded sums (0 when all targets are 0)."""
    v, t = np.asarray(value, dtype=np.float64), np.asarray(target, dtype=np.float64)
    den = fsum(t * t)
    d = v - t
    return math.sqrt(fsum(d * d) / den) if den > 0 else 0.0


def less(a: float, b: float, rtol: float = REL_TOL) -> bool:
    """a is better (smaller) than b by more than ``rtol`` relative — near-ties keep b (the earlier)."""
    return a < b if math.isinf(b) else a < b - rtol * abs(b)
