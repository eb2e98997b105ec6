"""Same input and seed → byte-identical outputs on any machine.

Another CPU (AVX-512 vs AVX2: SVML vs libm transcendental functions, BLAS / LAPACK kernels, SIMD
reductions) may return numpy results that differ in the last bit. tests/ulp_perturb.py moves every
such result (np.log, np.exp, np.sum, np.linalg.lstsq, ``@``, ...) in the quantize / bias / map modules
by ±1 ulp; the outputs of the pinned cases must not change. The full sweep (every module on its own,
several seeds, every pinned case) runs with ``python tools/ulp_harness.py [--big]``; here: all the
modules at once, on the example and one bench case.
"""

import numpy as np
import pytest

from neurodeploy import detmath

import ulp_perturb as harness


@pytest.mark.parametrize("seed", [1, 2])
def test_outputs_unchanged_by_ulp_perturbations(seed):
    diffs = harness.run(harness.MODULES, [seed], ["example", "bench-64x48"], log=lambda *_: None, together=True)
    assert diffs == []


def test_harness_detects_a_sensitive_output():
    """The harness itself works: perturbing np.unique, whose result is the base-weight DAC grid (every
    synapse's written current is a sum of its values), changes the outputs — and np is restored afterwards."""
    import neurodeploy.quantize.quantizer as qz

    fns = harness.FUNCTIONS
    harness.FUNCTIONS = fns + ("unique",)
    try:
        diffs = harness.run(["neurodeploy.quantize.quantizer"], [1], ["bench-64x48"], log=lambda *_: None)
    finally:
        harness.FUNCTIONS = fns
    assert qz.np is np
    assert diffs and "quantized" in diffs[0][3]


def test_detmath_log_exp_accuracy():
    """detmath's reproducible log / exp agree with numpy's to a few ulp (and on special values)."""
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(-690, 690, 20000))
    ref = np.log(x)
    assert np.max(np.abs(detmath.log(x) - ref) / np.spacing(np.abs(ref))) <= 4
    y = rng.uniform(-690, 690, 20000)
    assert np.max(np.abs(detmath.exp(y) - np.exp(y)) / np.spacing(np.exp(y))) <= 4
    assert detmath.log(0.0) == -np.inf and np.isnan(detmath.log(-1.0)) and detmath.exp(-np.inf) == 0.0
    assert detmath.exp(0.0) == 1.0 and detmath.log(1.0) == 0.0


def test_detmath_choices():
    """Near-ties (within REL_TOL) keep the earlier candidate; sums are exactly rounded."""
    from neurodeploy.quantize.weights import best_index

    assert best_index([1.0, 1.0 - 1e-12, 2.0]) == 0
    assert best_index([1.0, 0.99, 0.99 * (1 - 1e-12)]) == 1
    assert detmath.fsum([1e16, 1.0, -1e16]) == 1.0
    assert detmath.rel_rms([1.0, 2.0], [1.0, 2.0]) == 0.0 and detmath.rel_rms([0.0], [0.0]) == 0.0
