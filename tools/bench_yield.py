"""Benchmark of yield studies (`neurodeploy yield`): boards per second, in-process vs Ray, and one big study.

    python tools/bench_yield.py [--boards 512] [--unit-size 64] [--big 10000] [--no-ray]

Uses the shipped frozen-noise example (examples/frozen_noise: model.json mapped to a config, its 8 input
samples of 0.5 s). Prints a table: engine, workers, boards, wall time (s), boards/s, boards/s per worker;
then, with ``--big N``, the wall time of an N-board study on the fastest engine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neurodeploy.deployment import deploy  # noqa: E402
from neurodeploy.device.profile import load_profile  # noqa: E402
from neurodeploy.study.engines import LocalEngine, RayEngine  # noqa: E402
from neurodeploy.study.run import run_study  # noqa: E402

EX = ROOT / "examples" / "frozen_noise"


def timed(work: Path, name: str, engine, boards: int, unit_size: int) -> float:
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    run_study(work / "config.json", EX / "inputs.npz", out, model_path=EX / "model.json", boards=boards,
              unit_size=unit_size, engine=engine)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", type=int, default=512)
    ap.add_argument("--unit-size", type=int, default=64)
    ap.add_argument("--big", type=int, default=0, help="also time a study of this many boards")
    ap.add_argument("--no-ray", action="store_true")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-yield-"))
    prof = load_profile("dynapse2")
    deploy(EX / "model.json", prof).config.save(work / "config.json")
    cpus = os.cpu_count() or 1
    rows = []
    timed(work, "warm", LocalEngine(), a.unit_size, a.unit_size)          # compile once, untimed
    t = timed(work, "local", LocalEngine(), a.boards, a.unit_size)
    rows.append(("local", 1, a.boards, t))
    if not a.no_ray:
        import ray

        eng = RayEngine(num_cpus=cpus)
        eng.start()
        timed(work, "ray-warm", eng, a.unit_size * cpus, a.unit_size)       # workers start and compile, untimed
        t = timed(work, "ray", eng, a.boards, a.unit_size)
        rows.append(("ray", cpus, a.boards, t))
    print(f"{'engine':8s} {'workers':>7s} {'boards':>7s} {'wall s':>8s} {'boards/s':>9s} {'per worker':>10s}")
    for name, w, n, t in rows:
        print(f"{name:8s} {w:7d} {n:7d} {t:8.1f} {n / t:9.2f} {n / t / w:10.2f}")
    if a.big:
        best = max(rows, key=lambda r: r[2] / r[3])
        eng = LocalEngine() if best[0] == "local" else RayEngine(num_cpus=cpus)
        t = timed(work, "big", eng, a.big, a.unit_size)
        print(f"{a.big}-board study on {best[0]} ({best[1]} worker(s)): {t:.0f} s ({a.big / t:.1f} boards/s)")
    if not a.no_ray:
        ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
