"""Benchmark: bias current → code conversions per second (vectorised), and code → current."""

import time

import numpy as np

from neurodeploy.device.profile import load_profile


def main():
    prof = load_profile("dynapse2")
    b = prof.bias
    rng = np.random.default_rng(0)
    print(f"{'parameter':14s} {'n':>8s} {'to_code conv/s':>15s} {'to_current conv/s':>18s} {'median err':>10s} {'max err':>8s}")
    for pname in ("SOIF_LEAK_N", "DEAM_ETAU_P", "SYAM_W0_P"):
        lo, hi = b.range(pname)
        b.to_code(pname, 1e-9, clip=True)  # warm the per-parameter code cache
        for n in (1_000, 10_000, 1_000_000):
            x = np.exp(rng.uniform(np.log(max(lo, 1e-11)), np.log(hi), n))
            t0 = time.perf_counter()
            conv = b.to_code(pname, x)
            t1 = time.perf_counter()
            b.to_current(pname, conv.coarse, conv.fine)
            t2 = time.perf_counter()
            e = np.abs(conv.rel_error)
            print(f"{pname:14s} {n:8d} {n / (t1 - t0):15.3g} {n / (t2 - t1):18.3g} {np.median(e):10.3%} {e.max():8.3%}")


if __name__ == "__main__":
    main()
