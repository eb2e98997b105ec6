"""Mismatch draws at equal accuracy: the cost of simulating many chips of one network, each within a given spike-count
error of its own fine-step run, neurodeploy.sim against Rockpool's DynapSim.

``tools/bench_sim.py``'s ``mismatch`` row compares the two simulators at the same dt (1 ms). But the two integrate
differently — ours in closed form per step, Rockpool's DynapSim with a forward-Euler step — so at equal dt they are
not equally right. Here every simulator runs D mismatch draws (σ = 0.1: each bias current and capacitance per
neuron and each synapse's weight times 1 + σ·N(0, 1), as in ``bench_sim``) of ``tools/bench_precision.py``'s
networks at each dt, and

- Rockpool's weights are scaled by one factor so that its nominal recurrent N = 64 network fires, on seed 0's raster,
  as many spikes as ours does at the reference step (mean over our draws): matched at Rockpool's reference step by
  default, so that both fire at the same rate where each is right. How hard the network is driven sets how far an
  Euler step is off: ``--calibrate-at 1`` matches at its dt = 1 ms, where its step fires fewer spikes, so its weights
  come out larger; ``--calibrate-rate 50`` matches on a 50 Hz raster, so at 100 Hz its network fires more than ours
  (``tools/bench_precision.py`` matches at 1 ms and the first ``--rates``);

- error (%) = the mean over draws of Σ_n |count_n(dt) − count_n(ref)| / Σ_n count_n(ref), each draw's spike counts
  against the *same draw* simulated at the reference step (``--reference``, default 0.025 ms) by the same simulator
  (mean over ``--seeds`` rasters, each drawn at the reference step and summed into the coarser bins);
- cost = wall time per draw and simulated second (ms/s), after compilation, minimum of ``--repeats`` calls: ours
  :func:`neurodeploy.sim.simulate_draws` (what ``verify`` and the emulator's boards run; the draws split across the
  process's devices where a part is large enough; the process has the flags the command line sets,
  :mod:`neurodeploy.xla_flags`), Rockpool one jitted ``jax.vmap`` over its per-draw parameters at XLA's defaults.

The summary gives each simulator's cheapest dt whose error is at most ``--target`` (default 2 %) and the ratio of
the costs (Rockpool / ours; above 1 ours is cheaper). Networks whose floor (``bench_precision``: the count change of
a 0.1 % weight perturbation) exceeds the target have no such dt on either side; the default is the recurrent
networks at 100 Hz input, whose floor is 0.2–0.4 %.

    python tools/bench_draws_precision.py [--sizes 64,256] [--rates 100] [--kinds rec] [--draws 32]
                                          [--dts 2,1,0.5,0.2,0.1,0.05] [--reference 0.025] [--seeds 1]
                                          [--repeats 3] [--target 2] [--calibrate-at MS] [--calibrate-rate HZ]
                                          [--rockpool /tmp/rpvenv/bin/python] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_precision import DURATION, Rockpool, best_time, binned, entries, error, raster  # noqa: E402
from bench_sim import N_IN, rockpool_draws  # noqa: E402

SIGMA = 0.1


def draw_errors(counts, refs) -> float:
    """Mean over draws of each draw's count error against its own reference ([D, N] each)."""
    return float(np.mean([error(c, r) for c, r in zip(counts, refs)]))


class OursDraws:
    def __init__(self, n_draws: int, fine: float):
        import jax
        from neurodeploy.device.profile import load_profile
        from neurodeploy.sim import build_from_arrays, default_params, sample_mismatch_stack, simulate_draws
        prof = load_profile("dynapse2")
        self.jax, self.simulate_draws, self.n_draws, self.fine = jax, simulate_draws, n_draws, fine
        self.build = lambda n, e, dt: build_from_arrays(N_IN, default_params(prof, n), {}, *e, prof, dt=dt)
        self.stack = lambda net: sample_mismatch_stack(net, jax.random.PRNGKey(0), n_draws, SIGMA)

    def _call(self, kind, n, x_fine, dt):
        net = self.build(n, entries(kind, n), dt)
        draws, x = self.stack(net), self.jax.numpy.asarray(binned(x_fine, dt, self.fine)[None])
        return lambda: self.simulate_draws(net, x, draws)

    def counts(self, kind, n, x_fine, dt):
        return np.asarray(self._call(kind, n, x_fine, dt)()).sum(axis=2)[:, 0]       # [D, N]

    def cost(self, kind, n, x_fine, dt, repeats):
        return best_time(self._call(kind, n, x_fine, dt), repeats) / DURATION / self.n_draws


class RockpoolDraws(Rockpool):
    """Rockpool's DynapSim with per-draw currents and weights, vmapped (``bench_sim``'s mismatch rows)."""

    def _call(self, kind, n, x_fine, dt, n_draws):
        mod = self._module(kind, n, dt, self.gain)
        return rockpool_draws(mod, self.jax.numpy.asarray(binned(x_fine, dt, self.fine)[None]), n_draws, SIGMA)

    def draw_counts(self, kind, n, x_fine, dt, n_draws):
        return np.asarray(self._call(kind, n, x_fine, dt, n_draws)()).sum(axis=2)[:, 0]

    def draw_cost(self, kind, n, x_fine, dt, n_draws, repeats):
        return best_time(self._call(kind, n, x_fine, dt, n_draws), repeats) / DURATION / n_draws


def measure(configs, dts, fine, seeds, repeats, n_draws, counts, cost, log=None):
    """Rows {kind, n, rate, dt, error, cost} of one simulator (``counts``/``cost``: its methods)."""
    rows = []
    for kind, n, rate in configs:
        xs = [raster(rate, s, fine) for s in range(seeds)]
        refs = [counts(kind, n, x, fine) for x in xs]
        for dt in dts:
            row = {"kind": kind, "n": n, "rate": rate, "dt": dt, "draws": n_draws,
                   "error": float(np.mean([draw_errors(counts(kind, n, x, dt), r) for x, r in zip(xs, refs)])),
                   "cost": cost(kind, n, xs[0], dt, repeats),
                   "count": float(np.mean([r.sum(axis=1).mean() for r in refs]))}
            rows.append(row)
            if log:
                log(row)
    return rows


def rockpool_worker() -> int:
    """One JSON request on stdin → one JSON result on stdout (runs under Rockpool's interpreter)."""
    req = json.loads(sys.stdin.readline())
    rp = RockpoolDraws()
    rp.fine = req["fine"]
    rp.calibrate(req["target"], req["target_rate"], req["calibrate_at"] or rp.fine, rp.fine)
    d = req["draws"]
    rows = measure(req["configs"], req["dts"], rp.fine, req["seeds"], req["repeats"], d,
                   lambda k, n, x, dt: rp.draw_counts(k, n, x, dt, d),
                   lambda k, n, x, dt, r: rp.draw_cost(k, n, x, dt, d, r))
    print(json.dumps({"gain": rp.gain, "rows": rows}), flush=True)
    return 0


def cheapest(rows, key, target):
    """The cheapest row of a network whose error is at most ``target`` (a fraction), or None."""
    ok = [r for r in rows if (r["kind"], r["n"], r["rate"]) == key and r["error"] <= target]
    return min(ok, key=lambda r: r["cost"]) if ok else None


def tables(rows, rp_rows, target) -> str:
    rp = {(r["kind"], r["n"], r["rate"], r["dt"]): r for r in rp_rows or []}
    lines = ["| network | input rate | dt (ms) | ours: error / cost | Rockpool: error / cost |", "|---|---|---|---|---|"]
    for r in rows:
        q = rp.get((r["kind"], r["n"], r["rate"], r["dt"]))
        name = f"N = {r['n']}, {'recurrent' if r['kind'] == 'rec' else 'feed-forward'}"
        cells = [name, f"{r['rate']:.0f} Hz", f"{r['dt'] * 1e3:g}", f"{100 * r['error']:.1f} % / {1e3 * r['cost']:.2f} ms",
                 "" if q is None else f"{100 * q['error']:.1f} % / {1e3 * q['cost']:.2f} ms"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"At most {100 * target:g} % error, each at its cheapest such dt (cost per draw and simulated second):", "",
              "| network | ours | Rockpool | Rockpool / ours |", "|---|---|---|---|"]
    for key in dict.fromkeys((r["kind"], r["n"], r["rate"]) for r in rows):
        a, b = cheapest(rows, key, target), cheapest(rp_rows or [], key, target)
        cell = lambda r: "none" if r is None else f"{100 * r['error']:.1f} % at dt {r['dt'] * 1e3:g} ms, {1e3 * r['cost']:.2f} ms"  # noqa: E731
        ratio = f"{b['cost'] / a['cost']:.1f}×" if a and b else "—"
        name = f"{'recurrent' if key[0] == 'rec' else 'feed-forward'} N = {key[1]}, {key[2]:.0f} Hz"
        lines.append(f"| {name} | {cell(a)} | {cell(b)} | {ratio} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="64,256")
    ap.add_argument("--rates", default="100", help="input rates (Hz)")
    ap.add_argument("--kinds", default="rec", help="ff (feed-forward), rec (recurrent) or both")
    ap.add_argument("--draws", type=int, default=32)
    ap.add_argument("--dts", default="2,1,0.5,0.2,0.1,0.05", help="steps (ms), multiples of the reference")
    ap.add_argument("--reference", type=float, default=0.025, metavar="MS", help="the reference step (ms)")
    ap.add_argument("--calibrate-at", type=float, metavar="MS",
                    help="the step (ms) at which Rockpool's weights are matched to ours' count (default: the reference)")
    ap.add_argument("--calibrate-rate", type=float, metavar="HZ",
                    help="the input rate of Rockpool's weight match (default: the first --rates)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--target", type=float, default=2.0, help="error bound of the summary (%%)")
    ap.add_argument("--rockpool", metavar="PYTHON", help="interpreter with rockpool installed")
    ap.add_argument("--rockpool-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    args = ap.parse_args(argv)
    if args.rockpool_worker:
        return rockpool_worker()
    unknown = sorted(set(args.kinds.split(",")) - {"ff", "rec"})
    if unknown or args.draws < 1 or args.seeds < 1 or args.repeats < 1:
        ap.error("--kinds takes ff, rec or ff,rec; --draws, --seeds and --repeats at least 1")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from neurodeploy.xla_flags import apply
    apply()                          # the command line's process flags, before JAX starts
    import jax
    configs = [(k, int(n), float(r)) for k in args.kinds.split(",") for n in args.sizes.split(",")
               for r in args.rates.split(",")]
    dts, fine = [float(d) * 1e-3 for d in args.dts.split(",")], args.reference * 1e-3
    for dt in dts:
        binned(np.zeros((int(round(DURATION / fine)), 1)), dt, fine)      # every dt a multiple of the reference
    print(f"{args.draws} draws, σ = {SIGMA}; ours on {jax.device_count()} device(s); load average at start: "
          f"{os.getloadavg()}", flush=True)
    ours = OursDraws(args.draws, fine)
    rows = measure(configs, dts, fine, args.seeds, args.repeats, args.draws, ours.counts, ours.cost,
                   lambda r: print(json.dumps(r), file=sys.stderr, flush=True))
    rp_rows = None
    if args.rockpool:
        rate_c = args.calibrate_rate or configs[0][2]
        target = float(ours.counts("rec", 64, raster(rate_c, 0, fine), fine).sum(axis=1).mean())
        req = {"configs": configs, "dts": dts, "seeds": args.seeds, "repeats": args.repeats, "target": target,
               "target_rate": rate_c, "draws": args.draws, "fine": fine,
               "calibrate_at": None if args.calibrate_at is None else args.calibrate_at * 1e-3}
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}        # Rockpool at XLA's defaults
        proc = subprocess.run([args.rockpool, os.path.abspath(__file__), "--rockpool-worker"], env=env,
                              input=json.dumps(req) + "\n", capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"Rockpool worker failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        else:
            rp_out = json.loads(proc.stdout.strip().splitlines()[-1])
            rp_rows = rp_out["rows"]
            print(f"Rockpool's weight factor {rp_out['gain']:.4g}: {target:.0f} spikes at {rate_c:g} Hz input, matched at "
                  f"dt = {args.calibrate_at or args.reference:g} ms")
    print(tables(rows, rp_rows, args.target / 100))
    print(f"load average at end: {os.getloadavg()}")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"ours": rows, "rockpool": rp_rows}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
