"""The arithmetic floor of each row of tools/bench_sim.py: what its compiled program cannot do faster.

For each row, the optimised HLO of the compiled call (XLA's CPU backend, on the machine that runs the
bench) is read and every operation of two kinds is counted, loops multiplied by their trip count:

- **matrix products** (``dot``): each distinct product (operand shapes, contracted and batch axes) is
  timed alone in a ``lax.scan``, one product per step, operands at the same shapes, minus the same scan
  without the product;
- **transcendental functions and divisions** (exp, expm1, log, log1p, logistic, tanh, power, sqrt,
  rsqrt; divide): each (function, array size) is timed alone, chained 8 deep inside one fused loop
  (so it runs from registers, at its best throughput), in ns per element.

The floor is Σ count × time. Everything else — multiplications, additions, selects, comparisons, the
memory traffic between XLA's loops, the loops' own overhead, gathers — counts as zero, so the floor is a
lower bound of the row's time *for the program XLA compiled*: a row cannot become faster than its floor
without removing products or transcendental functions from the model's step. With
``--compare-rockpool PYTHON`` the same is done for Rockpool's DynapSim program, and the performance target
(ours ≤ Rockpool's time / 1.5 for the batched and training rows, / 10 for batch 1 and the draws) is
printed next to our floor.

    python tools/bench_floor.py [--rows fwd256b32,train64,...] [--repeats 5] [--compare-rockpool PYTHON]

The compiled forward step holds per neuron 11 transcendental functions (7 exp, 2 log, expm1, log1p)
and 46 divisions (~20 of them the x/1 of :mod:`neurodeploy.sim.fusion`); at N = 256 batch 32 its one
product is [32, 316] x [316, 512]. Measurements: docs/performance-history.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_sim as bs  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from hlo_ops import _dims, floor_of  # noqa: E402   (the HLO reader, shared with its tests)

#: The performance targets per row: our time ≤ Rockpool's / factor.
TARGET = {"fwd1024": 10.0, "fwd4096": 10.0, "fwd256b32": 1.5, "train64": 1.5, "frozen": 1.5, "mismatch": 10.0}


# ---------------------------------------------------------------------------------------------
# timing the counted operations alone
# ---------------------------------------------------------------------------------------------
def _best(fn, *args, repeats=7) -> float:
    import jax
    jax.block_until_ready(fn(*args))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t)
    return min(ts)


def op_cost(op: str, n: int, cache: dict, steps: int = 200) -> float:
    """Seconds per element of ``op`` on an array of n floats, 8 chained applications in one loop."""
    if (op, n) in cache:
        return cache[(op, n)]
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax
    f = {"exponential": jnp.exp, "exponential-minus-one": jnp.expm1, "log": lambda v: jnp.log(jnp.abs(v) + 1.0),
         "log-plus-one": lambda v: jnp.log1p(jnp.abs(v)), "logistic": jax.nn.sigmoid, "tanh": jnp.tanh,
         "power": lambda v: jnp.abs(v) ** 0.7, "sqrt": lambda v: jnp.sqrt(jnp.abs(v)),
         "rsqrt": lambda v: lax.rsqrt(jnp.abs(v) + 1.0), "divide": lambda v: 1.0 / (v + 5.0)}[op]
    x0 = jnp.asarray(np.random.default_rng(0).uniform(-3, 3, n).astype(np.float32))

    def run(x, chained: bool):
        def step(c, _):
            y = c
            for _ in range(8):
                y = (f(y) if chained else y) * 0.5 + c * 0.5
            return y, None
        return lax.scan(step, x, None, length=steps)[0]
    with_op = _best(jax.jit(lambda x: run(x, True)), x0)
    without = _best(jax.jit(lambda x: run(x, False)), x0)
    cache[(op, n)] = max(with_op - without, 0.0) / (8 * steps * n)
    return cache[(op, n)]


def dot_cost(sig, cache: dict, steps: int = 200) -> float:
    """Seconds per call of the product ``sig`` (lhs shape, rhs shape, dimension numbers), alone in a scan."""
    if sig in cache:
        return cache[sig]
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax
    a_shape, b_shape, attrs = sig
    a = dict(attrs)
    num = lambda k: tuple(int(v) for v in a.get(k, "").split(",") if v)  # noqa: E731
    dn = ((num("lhs_contracting_dims"), num("rhs_contracting_dims")), (num("lhs_batch_dims"), num("rhs_batch_dims")))
    rng = np.random.default_rng(0)
    lhs = jnp.asarray(rng.normal(size=_dims(a_shape)).astype(np.float32))
    rhs = jnp.asarray(rng.normal(size=_dims(b_shape)).astype(np.float32))

    def run(l0, r, product: bool):
        def step(c, _):
            out = lax.dot_general(l0 + c, r, dn) if product else l0 + c
            return c + 1e-30 * out.reshape(-1)[0], None
        return lax.scan(step, jnp.float32(0.0), None, length=steps)[0]
    with_dot = _best(jax.jit(lambda a, b: run(a, b, True)), lhs, rhs)
    without = _best(jax.jit(lambda a, b: run(a, b, False)), lhs, rhs)    # the loop and the operand's update alone
    cache[sig] = max(with_dot - without, 0.0) / steps
    return cache[sig]




# ---------------------------------------------------------------------------------------------
def rockpool_worker() -> int:
    """Under Rockpool's interpreter: per row, its median time (one JSON line)."""
    rp = bs.Rockpool("constant")
    for line in sys.stdin:
        row, repeats = json.loads(line)
        rp.prepare(row)
        fn = rp.fns[row]
        ts = [bs.timed(fn)[0] for _ in range(repeats)]
        print(json.dumps({"t": statistics.median(ts)}), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="fwd1024,fwd4096,fwd256b32,train64,frozen,mismatch")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls of each row (median)")
    ap.add_argument("--compare-rockpool", metavar="PYTHON", help="interpreter with rockpool installed (the targets)")
    ap.add_argument("--rockpool-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rockpool_worker:
        return rockpool_worker()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in TARGET]
    if unknown:
        ap.error(f"unknown rows {unknown} (known: {', '.join(TARGET)})")
    remote = None
    if args.compare_rockpool:
        remote = subprocess.Popen([args.compare_rockpool, os.path.abspath(__file__), "--rockpool-worker"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    ours, caches = bs.Ours(), ({}, {})
    print(f"arithmetic floor per row (tools/bench_floor.py): {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          "floor = products + transcendental functions + divisions of the compiled program, each timed alone")
    hdr = f"{'row':38s} {'ours':>8s} {'floor':>8s} {'products':>9s} {'transc.':>8s} {'divs':>7s}"
    print(hdr + (f" {'Rockpool':>9s} {'target':>8s} {'floor/target':>12s}" if remote else ""))
    for row in rows:
        label, unit, _ = bs.ROWS[row]
        ours.prepare(row)
        jitted, call_args = ours.calls[row]
        text = jitted.lower(*call_args).compile().as_text()
        t = statistics.median(ours.time(row) for _ in range(args.repeats))
        fl = floor_of(text, lambda op, n: op_cost(op, n, caches[0]), lambda sig: dot_cost(sig, caches[1]))
        total = sum(fl.values())
        sc = lambda s: bs._scale(row, s)  # noqa: E731
        line = (f"{label + ' (' + unit + ')':38s} {sc(t):8.1f} {sc(total):8.1f} {sc(fl['products']):9.1f} "
                f"{sc(fl['transcendental']):8.1f} {sc(fl['divisions']):7.1f}")
        if remote:
            remote.stdin.write(json.dumps([row, args.repeats]) + "\n")
            rp = json.loads(remote.stdout.readline())
            target = rp["t"] / TARGET[row]
            line += f" {sc(rp['t']):9.1f} {sc(target):8.1f} {total / target:12.2f}"
        print(line, flush=True)
    if remote:
        remote.stdin.close()
        remote.wait(timeout=60)
    print("floor/target > 1: the target is below what the compiled step's products and transcendental functions "
          "alone take on the machine that ran this")
    return 0


if __name__ == "__main__":
    sys.exit(main())
