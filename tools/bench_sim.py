"""Benchmark of neurodeploy.sim: µs per simulated step (after jit warm-up).

Network: N DPI neurons at the profile's default biases, 60 Poisson inputs at ~20 Hz, a random
sparse fan-in of 64 synapses per neuron drawn from [inputs; neurons] (AMPA 60 %, NMDA 10 %, GABA
25 %, SHUNT 5 %), half the neurons adapting; T = 500 steps at dt = 1 ms. Reports the forward pass
for N ∈ {64, 256, 1024, 4096} × batch ∈ {1, 32}, a value-and-grad step (log-current / unitless
weight coordinates) for N ∈ {64, 256} at batch 32, and 32 mismatch draws of N = 256 in one
``jax.vmap`` call against 32 batch items. Timings are the best of a few repeats.

    python tools/bench_sim.py [--quick] [--skip-4096x32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from neurodeploy.profile import load_profile  # noqa: E402
from neurodeploy.sim import (Parametrization, build_from_arrays, default_params, sample_mismatch_stack,  # noqa: E402
                             simulate)

T, N_IN, FAN_IN, RATE, DT = 500, 60, 64, 20.0, 1e-3
SCALE = {0: 5e-8, 1: 3e-8, 2: 6e-8, 3: 3e-10}           # A per synapse, by dendrite


def bench_network(profile, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    src = np.concatenate([rng.choice(N_IN + n, FAN_IN, replace=False) for _ in range(n)])
    dst = np.repeat(np.arange(n), FAN_IN)
    dend = rng.choice(4, n * FAN_IN, p=[0.6, 0.1, 0.25, 0.05])
    w = rng.uniform(0.5, 1.5, n * FAN_IN) * np.vectorize(SCALE.get)(dend)
    inp = src < N_IN
    w[inp] *= 3.0                                         # the few input synapses drive the network
    a = profile.analog
    p = default_params(profile, n)
    p["Idc"][:] = 8e-9
    p["Iw_ahp"][:] = 2e-9
    p["Ipulse_ahp"][:] = a.V_th * a.C_pulse_ahp / 1e-4
    flags = {"adaptation": np.arange(n) % 2 == 0, "dc": np.ones(n, bool)}
    return build_from_arrays(N_IN, p, flags, src, dst, dend, w, profile, dt=DT)


def poisson(batch: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return jnp.asarray((rng.random((batch, T, N_IN)) < RATE * DT).astype(np.float32))


def best_time(fn, repeats: int) -> float:
    jax.block_until_ready(fn())                            # warm-up (compilation)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat per case, skip 4096 x 32")
    ap.add_argument("--skip-4096x32", action="store_true", help="skip the largest forward case")
    args = ap.parse_args(argv)
    reps = 1 if args.quick else 3
    prof = load_profile("dynapse2")
    print(f"neurodeploy.sim benchmark: T={T} steps, dt={DT * 1e3:g} ms, {N_IN} Poisson inputs at {RATE:g} Hz, "
          f"fan-in {FAN_IN}; jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs")
    print()
    print(f"{'case':34s} {'N':>5s} {'batch':>5s} {'us/step':>9s} {'x real time':>11s} {'rate (Hz)':>9s}")
    results = {}
    nets = {}
    for n in (64, 256, 1024, 4096):
        nets[n] = bench_network(prof, n)
        for b in (1, 32):
            if n == 4096 and b == 32 and (args.quick or args.skip_4096x32):
                print(f"{'forward':34s} {n:5d} {b:5d} {'skipped':>9s}")
                continue
            x = poisson(b)
            net = nets[n]
            dt_s = best_time(lambda: simulate(net, x)[0], reps if n * b < 4096 * 32 else 1)
            rate = float(np.asarray(simulate(net, x)[0]).mean()) / DT
            us = dt_s / T * 1e6
            results[("fwd", n, b)] = us
            print(f"{'forward':34s} {n:5d} {b:5d} {us:9.1f} {DT * 1e6 / us:11.1f} {rate:9.1f}", flush=True)

    for n in (64, 256):
        net = nets[n]
        par = Parametrization.from_network(net)
        x = poisson(32)

        def loss(th, net=net, par=par, x=x):
            s, _, _ = simulate(par.apply(net, th), x)
            return jnp.mean((s.mean(axis=1) / DT - 10.0) ** 2)

        vg = jax.jit(jax.value_and_grad(loss))
        th = par.init()
        us = best_time(lambda: vg(th), reps) / T * 1e6
        results[("grad", n, 32)] = us
        print(f"{'value-and-grad':34s} {n:5d} {32:5d} {us:9.1f} {DT * 1e6 / us:11.1f} {'':>9s}", flush=True)

    n = 256
    net = nets[n]
    draws = sample_mismatch_stack(net, jax.random.PRNGKey(0), 32)
    x1 = poisson(1)
    vm = jax.jit(jax.vmap(lambda m: simulate(net, x1, m)[0]))
    us_vm = best_time(lambda: vm(draws), reps) / T * 1e6
    print(f"{'32 mismatch draws (vmap, batch 1)':34s} {n:5d} {32:5d} {us_vm:9.1f} {DT * 1e6 / us_vm:11.1f} {'':>9s}")
    us_b = results[("fwd", 256, 32)]
    print()
    print(f"vmapped mismatch / batch time (N=256, 32): {us_vm / us_b:.2f}x (target <= 2x)")
    if ("fwd", 1024, 1) in results:
        print(f"N=1024 batch 1: {results[('fwd', 1024, 1)]:.0f} us/step (target <= 300)")
    if ("fwd", 4096, 1) in results:
        print(f"N=4096 batch 1: {results[('fwd', 4096, 1)]:.0f} us/step (target < 1000, real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
