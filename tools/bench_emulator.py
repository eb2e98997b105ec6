"""Benchmark: emulator speed (simulated seconds per wall second) and verify time.

* a full chip (1024 neurons) and a full 4-chip board (4096 neurons), fan-in 64 (weight_scale 3e-7: ~30 Hz mean activity), 60 inputs at 50 Hz,
  T = 1000 steps of 1 ms (1 s simulated), nominal chip, after jit warm-up;
* verify (float + emulated, 32 mismatch trials, vmapped) of a 256-neuron network, 4 samples × 500 ms,
  wall time including compilation.

    python tools/bench_emulator.py [--quick]
"""

import sys
from pathlib import Path
import time

import numpy as np

from neurodeploy.backends.emulator import Emulator
from neurodeploy.deployment import deploy
from neurodeploy.device.profile import load_profile
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # tests/networks.py: the synthetic networks
from networks import random_network  # noqa: E402
from neurodeploy.verification import verify


def network_with_outputs(network):
    """Read out 8 neurons (the synthetic default reads 2) so rate correlations have something to say."""
    from neurodeploy.network import network_from_dict

    raw = network.to_json_dict()
    raw["outputs"] = [{"population": "neurons", "indices": list(range(8))}]
    return network_from_dict(raw)


def poisson(rng, batch, T, n, rate, dt):
    return (rng.random((batch, T, n)) < rate * dt).astype(np.float32)


def main(argv):
    prof = load_profile("dynapse2")
    rng = np.random.default_rng(0)
    dt = 1e-3
    sizes = [1024] if "--quick" in argv else [1024, 4096]
    print(f"{'network':28s} {'map s':>6s} {'compile s':>9s} {'run s':>6s} {'sim s / wall s':>14s} {'µs / step':>9s}")
    for n in sizes:
        network = random_network(n, 64, seed=0, weight_scale=3e-7)
        t0 = time.perf_counter()
        cfg = deploy(network, prof).config
        t_map = time.perf_counter() - t0
        emu = Emulator(cfg, prof, dt=dt)
        T = 1000
        x = poisson(rng, 1, T, network.n_inputs, 50.0, dt)
        t0 = time.perf_counter()
        emu.run(x[:, :50], dt)
        emu.run(x, dt)
        t_compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = emu.run(x, dt)
        t_run = time.perf_counter() - t0
        label = f"{n} neurons ({n // 1024} chip{'s' if n > 1024 else ''}), fan-in 64"
        print(f"{label:28s} {t_map:6.2f} {t_compile:9.2f} {t_run:6.2f} {T * dt / t_run:14.2f} {t_run / T * 1e6:9.0f}"
              f"   ({int(res.spikes.sum())} spikes)")
    network = network_with_outputs(random_network(256, 48, seed=1, weight_scale=3e-7))
    cfg = deploy(network, prof).config
    x = poisson(rng, 4, 500, network.n_inputs, 50.0, dt)
    t0 = time.perf_counter()
    r = verify(network, cfg, prof, x, dt, trials=32, mismatch=0.1)
    print(f"verify 256 neurons, 4 samples x 500 ms, 32 trials: {time.perf_counter() - t0:.1f} s wall "
          f"(incl. compilation); output rates {r['reference_rates_hz']} Hz; quantization-only rate r "
          f"{r['quantization_only']['rate_correlation']['median']:.3f}, with mismatch "
          f"{r['quantization_and_mismatch']['rate_correlation']['median']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
