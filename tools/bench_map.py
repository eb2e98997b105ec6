"""Benchmark: quantize → map → config stage times and weight errors.

Random sparse recurrent networks (tests/networks.py random_network: Gaussian weights, 60 inputs,
locality by blocks of 1024 neurons). Prints one row per (N, fan-in).

    python tools/bench_map.py [--quick]
"""

import sys
from pathlib import Path
import time

from neurodeploy.mapping.mapper import map_quantized
from neurodeploy.device.profile import load_profile
from neurodeploy.quantize.quantizer import quantize_network
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # tests/networks.py: the synthetic networks
from networks import random_network  # noqa: E402


def main(argv):
    prof = load_profile("dynapse2")
    prof.bias.all_codes("SYAM_W0_P")
    cases = [(64, 48), (256, 48), (1024, 48), (1024, 64), (4096, 64)]
    if "--quick" in argv:
        cases = cases[:2]
    print(f"{'N':>5} {'fan-in':>6} {'chips':>5} {'cores':>5} {'quantize s':>10} {'map s':>7} {'config s':>8} "
          f"{'total s':>8} {'weight err':>10} {'uniform':>8} {'spares':>7} {'nmda':>7}")
    for n, fan in cases:
        network = random_network(n, fan, seed=0)
        t0 = time.perf_counter()
        q = quantize_network(network, prof)
        t1 = time.perf_counter()
        d = map_quantized(q, prof)
        t2 = time.perf_counter()
        d.config.dumps()
        t3 = time.perf_counter()
        w = d.report["weights"]
        p = d.report["placement"]
        print(f"{n:5d} {fan:6d} {p['chips']:5d} {p['cores']:5d} {t1 - t0:10.3f} {t2 - t1:7.3f} {t3 - t2:8.3f} {t3 - t0:8.3f} "
              f"{w['relative_rms_error']:10.4f} {w['uniform_grid_error']:8.4f} {w['spare_entries_used']:7d} {w['nmda_scale_entries']:7d}")


if __name__ == "__main__":
    main(sys.argv[1:])
