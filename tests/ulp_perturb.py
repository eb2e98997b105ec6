"""±1-ulp perturbation harness: are the pinned outputs robust to last-bit float noise?

Different x86-64 machines (AVX2 vs AVX-512: SVML / libm transcendental functions, BLAS kernels,
SIMD reductions) may return results that differ in the last bit. This harness replaces the ``np``
of one module at a time by a proxy whose float-returning functions (np.log, np.exp, np.sum, np.dot,
np.linalg.lstsq, ``np.matmul``, ...) move each element of their result by one ulp up or down
(seeded random direction), and checks that every pinned case (tests/pinning.py) still produces
byte-identical outputs:

    python tools/ulp_harness.py                    # every module, seeds 1 2, the small cases
    python tools/ulp_harness.py --big              # also the big bench networks (slow)
    python tools/ulp_harness.py --together --seeds 1 2 3   # every module perturbed at once
    python tools/ulp_harness.py --modules neurodeploy.device.bias --seeds 1 2 3 --cases example
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Modules of the quantize / bias / map path whose ``np`` is perturbed.
MODULES = (
    "neurodeploy.device.bias", "neurodeploy.device.masks", "neurodeploy.quantize.grouping", "neurodeploy.quantize.weights",
    "neurodeploy.quantize.quantizer", "neurodeploy.device.synapses", "neurodeploy.device.parameter_sets",
    "neurodeploy.mapping.mapper", "neurodeploy.mapping.routing", "neurodeploy.mapping.placement",
    "neurodeploy.mapping.cam_profile", "neurodeploy.detmath",
)

#: numpy functions whose float results may differ in the last bit between machines.
FUNCTIONS = (
    "log", "exp", "log1p", "expm1", "log2", "log10", "power", "sum", "mean", "median", "nanmean", "cumsum",
    "dot", "matmul", "einsum", "inner", "interp", "quantile", "percentile", "geomspace", "logspace",
    "linalg.lstsq", "linalg.norm", "linalg.solve",
)


#: How many ulps :func:`bump` moves a value (``--ulps``).
ULPS = 1


def bump(x, rng: np.random.Generator):
    """``x`` with every float element moved ULPS ulp up or down (random direction); other values unchanged."""
    if isinstance(x, tuple):
        return (bump(x[0], rng),) + x[1:]
    if isinstance(x, float) or (isinstance(x, np.ndarray | np.floating) and np.issubdtype(x.dtype, np.floating)):
        a = np.asarray(x)
        up = rng.random(a.shape) < 0.5
        out = a
        for _ in range(ULPS):
            out = np.where(up, np.nextafter(out, np.inf), np.nextafter(out, -np.inf))
        out = np.where(np.isfinite(a) & (a != 0), out, a).astype(a.dtype)
        return out if isinstance(x, np.ndarray) else type(x)(out[()]) if isinstance(x, float) else out[()]
    return x


class NumpyProxy:
    """Stands in for a module's ``np``: the functions in ``FUNCTIONS`` return ±1-ulp perturbed results."""

    def __init__(self, real, rng: np.random.Generator, prefix: str = ""):
        self._real, self._rng, self._prefix = real, rng, prefix

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        full = self._prefix + name
        if name == "linalg" and not self._prefix:
            return NumpyProxy(attr, self._rng, "linalg.")
        if full in FUNCTIONS and callable(attr):
            def wrapped(*a, **k):
                return bump(attr(*a, **k), self._rng)
            return wrapped
        return attr


class BumpedMatmul(np.ndarray):
    """A module-level float array whose ``a @ b`` results are ±1-ulp perturbed (``@`` bypasses ``np``)."""

    rng: np.random.Generator | None = None

    def __matmul__(self, other):
        return bump(np.asarray(self) @ np.asarray(other), BumpedMatmul.rng)

    def __rmatmul__(self, other):
        return bump(np.asarray(other) @ np.asarray(self), BumpedMatmul.rng)


@contextmanager
def perturbed(module_name: str, seed: int):
    """Within the block, ``module_name``'s np is a :class:`NumpyProxy`, its module-level float arrays are
    :class:`BumpedMatmul` views, and the profile caches are fresh."""
    import neurodeploy.device.profile as prof

    mod = importlib.import_module(module_name)
    real = mod.np
    rng = np.random.default_rng(seed)
    arrays = {k: v for k, v in vars(mod).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"}
    mod.np = NumpyProxy(real, rng)
    BumpedMatmul.rng = rng
    for k, v in arrays.items():
        setattr(mod, k, v.view(BumpedMatmul))
    prof._CACHE.clear()
    try:
        yield
    finally:
        mod.np = real
        for k, v in arrays.items():
            setattr(mod, k, v)
        prof._CACHE.clear()


@contextmanager
def perturbed_all(module_names, seed: int):
    """All of ``module_names`` perturbed at once (each with its own seeded direction stream)."""
    with ExitStack() as stack:
        for i, m in enumerate(module_names):
            stack.enter_context(perturbed(m, seed * 1000 + i))
        yield


def _pin():
    import pinning      # tests/pinning.py, beside this file

    return pinning


def run(modules, seeds, cases, log=print, together: bool = False) -> list[tuple[str, int, str, list[str]]]:
    """Perturb each module (``together``: all of them at once) with each seed; return (module, seed, case,
    differing outputs) of every difference. The reference is the unperturbed output on the machine that runs it."""
    pin = _pin()
    import neurodeploy.device.profile as prof

    prof._CACHE.clear()
    ref = {c: pin.compute(c) for c in cases}
    diffs = []
    groups = [("all", list(modules))] if together else [(m, [m]) for m in modules]
    for m, group in groups:
        for s in seeds:
            with perturbed_all(group, s):
                for c in cases:
                    got = pin.compute(c)
                    bad = sorted(k for k in ref[c] if got[k] != ref[c][k])
                    if bad:
                        diffs.append((m, s, c, bad))
                    log(f"{'DIFF' if bad else 'same'} {m} seed={s} {c} {' '.join(bad)}")
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="*", default=list(MODULES))
    ap.add_argument("--seeds", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--cases", nargs="*", default=None)
    ap.add_argument("--big", action="store_true", help="also the big bench networks")
    ap.add_argument("--together", action="store_true", help="perturb all the modules at once")
    ap.add_argument("--functions", nargs="*", default=None, help="perturb only these (default: FUNCTIONS)")
    ap.add_argument("--ulps", type=int, default=1, help="move each result by this many ulps (default 1)")
    args = ap.parse_args(argv)
    global FUNCTIONS, ULPS
    FUNCTIONS, ULPS = tuple(args.functions or FUNCTIONS), args.ulps
    pin = _pin()
    cases = args.cases or (list(pin.SMALL) + (list(pin.BIG) if args.big else []))
    diffs = run(args.modules, args.seeds, cases, together=args.together)
    print(f"{len(diffs)} perturbed runs changed an output")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
