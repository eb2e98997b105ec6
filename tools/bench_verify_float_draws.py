"""Benchmark of verify's float-network draws: one vmapped call of all draws vs units of 8 draws, in process and on Ray.

    python tools/bench_verify_float_draws.py [--trials 32 128] [--neurons 0] [--no-ray]

Uses the shipped frozen-noise example (examples/frozen_noise: model.json, its 8 input samples of 0.5 s), or with
``--neurons N`` a random recurrent network of N neurons (fan-in 64, tests/networks.py) on 8 samples of 500 steps of
20 Hz Poisson input (dt = 1 ms). Each row
computes the nominal chip and TRIALS mismatch draws (σ = 0.1) of the float network and sums its output counts;
``one call`` vmaps all of them at once, ``units of 8`` is what ``verify`` runs
(:func:`neurodeploy.verification.float_draws.float_counts`). Every row runs once untimed first (compilation, Ray
workers starting), then the median of 3 timed runs. Prints: engine, workers, trials, wall time (s), draws/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # tests/networks.py: the synthetic networks

from neurodeploy.device.profile import load_profile  # noqa: E402
from neurodeploy.importers import load_network  # noqa: E402
from neurodeploy.study.engines import LocalEngine, RayEngine  # noqa: E402
from neurodeploy.verification.float_draws import float_counts, float_draws  # noqa: E402

EX = ROOT / "examples" / "frozen_noise"


def one_call(network, profile, x, dt, trials):
    """All 1 + trials draws in one vmapped call (the counts over the whole trial)."""
    import jax

    from neurodeploy.sim import build_from_network, simulate

    net, _ = build_from_network(network, profile)
    draws, out = float_draws(network, profile, trials, 0.1, 0), network.output_indices()
    return np.asarray(jax.vmap(lambda m: simulate(net, x, m, dt=dt)[0][..., out])(draws)).sum(axis=2)


def example(prof):
    z = np.load(EX / "inputs.npz")
    return load_network(EX / "model.json", profile=prof), np.asarray(z["spikes"], np.float32), float(z["dt"])


def random(n: int):
    from networks import random_network

    x = (np.random.default_rng(1).random((8, 500, 60)) < 20 * 1e-3).astype(np.float32)
    return random_network(n, 64, seed=0), x, 1e-3


def timed(fn) -> float:
    fn()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--neurons", type=int, default=0, help="a random network of this many neurons (0: the example)")
    ap.add_argument("--no-ray", action="store_true")
    a = ap.parse_args(argv)
    prof = load_profile("dynapse2")
    network, x, dt = example(prof) if not a.neurons else random(a.neurons)
    win = (0, x.shape[1])
    engines = [("local", 1, LocalEngine())]
    if not a.no_ray:
        cpus = os.cpu_count() or 1
        eng = RayEngine(num_cpus=cpus)
        eng.start()
        engines.append(("ray", cpus, eng))
    rows = []
    for n in a.trials:
        rows.append(("one call (in process)", 1, n, timed(lambda: one_call(network, prof, x, dt, n))))
        for name, workers, eng in engines:
            rows.append((f"units of 8 ({name})", workers, n,
                         timed(lambda: float_counts(eng, network, prof, x, dt, win, n, 0.1, 0))))
    print(f"float network: {network.n_neurons} neurons, {x.shape[0]} samples x {x.shape[1]} steps, "
          f"{os.cpu_count()} CPU(s)")
    print(f"{'engine':<24} {'workers':>7} {'trials':>6} {'wall (s)':>9} {'draws/s':>8}")
    for name, workers, n, t in rows:
        print(f"{name:<24} {workers:>7} {n:>6} {t:>9.3f} {(n + 1) / t:>8.1f}")


if __name__ == "__main__":
    main()
