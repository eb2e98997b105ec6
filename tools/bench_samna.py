"""Benchmark: the samna backend's host-side work, on the samna TEST DOUBLE (tests/fake_samna).

Times neurodeploy's own code paths — config → samna objects, read-back comparison, read-back
→ config, input scheduling and output decoding — for a 1-core and a full 4-chip config. The
samna objects are the double's (pure Python), so the conversion columns bound what real samna's
C++ objects would cost from above; they say nothing about the board or USB link.

    python tools/bench_samna.py [--quick]
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fake_samna  # noqa: E402  (the test double, not samna)

from neurodeploy.backends.fpga import OutputDecoder, raster_events  # noqa: E402
from neurodeploy.deployment import deploy  # noqa: E402
from neurodeploy.device.profile import load_profile  # noqa: E402
from neurodeploy.importers import load_network  # noqa: E402
from networks import random_network  # noqa: E402


def timed(f, *a):
    t = time.perf_counter()
    out = f(*a)
    return out, time.perf_counter() - t


def main(argv):
    prof = load_profile("dynapse2")
    root = Path(__file__).resolve().parents[1]
    cases = [("frozen_noise (1 core)", load_network(root / "examples/frozen_noise/model.json", profile=prof), 1)]
    if "--quick" not in argv:
        cases.append(("random 4096 x 64 (4 chips)", random_network(4096, 64, seed=0), 4))
    print(f"{'config':28s} {'chips':>5s} {'neurons':>7s} {'to_samna s':>10s} {'diff s':>7s} {'from_samna s':>12s} "
          f"{'schedule 10 s':>13s} {'decode 1e5 ev':>13s}")
    for name, network, chips in cases:
        cfg = deploy(network, prof, chips=chips).config
        samna = fake_samna.make_samna([], n_chips=chips)
        sys.modules["samna"] = samna
        from neurodeploy.backends.samna import diff_samna, from_samna, to_samna

        scfg, t_to = timed(to_samna, cfg, samna)
        _, t_diff = timed(diff_samna, scfg, scfg.copy())
        _, t_from = timed(from_samna, scfg, cfg)
        rng = np.random.default_rng(0)
        raster = (rng.random((10_000, len(cfg.inputs))) < 0.05).astype(np.float32)     # 10 s at 1 ms, 50 Hz per channel
        ev, t_sched = timed(raster_events, raster, 1e-3, cfg)
        dec = OutputDecoder.from_config(cfg)
        keys = list(dec.keys)
        pick = rng.integers(0, len(keys), 100_000)
        x, y, g = (np.array([keys[i][j] for i in pick]) for j in range(3))
        _, t_dec = timed(dec.decode, np.sort(rng.integers(0, 10_000_000, 100_000)), g, x, y, 10_000, 1e-3)
        n = sum(len(k.neurons) for c in cfg.chips for k in c.cores)
        print(f"{name:28s} {len(cfg.chips):5d} {n:7d} {t_to:10.2f} {t_diff:7.2f} {t_from:12.2f} {t_sched:12.3f}s {t_dec:12.3f}s"
              f"   ({len(ev)} input events)")
        del sys.modules["samna"]


if __name__ == "__main__":
    main(sys.argv[1:])
