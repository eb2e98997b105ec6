"""Work-precision benchmark of neurodeploy.sim: spike-count error against the same simulator's fine-step run, and cost.

Networks (tools/bench_sim.py's reference construction): N = 64 and 256 DPI neurons at the profile's default
biases, each with 16 AMPA synapses from 60 Poisson inputs; *recurrent* also with 48 synapses from the N neurons
(75 % AMPA, 25 % GABA), *feed-forward* without them. Inputs: one raster per seed drawn at the finest step
(0.05 ms, rate r per input: 50 Hz moderate, 100 Hz high) for 0.5 s and summed into the coarser bins, so every
dt sees the same events (moved to the start of their bin).

- error (%) = Σ_n |count_n(dt) − count_n(0.05 ms)| / Σ_n count_n(0.05 ms), the per-neuron spike counts against
  the same integration at dt = 0.05 ms, the mean over ``--seeds`` rasters;
- cost = wall time per simulated second (ms/s): batch 1, forward, after compilation, the minimum of
  ``--repeats`` calls of the jitted ``simulate``;
- "old": events at the start of the next bin; "precise": spike times within the step
  (``SimNetwork.precise_timing``, eqs. (P1)–(P4) of :mod:`neurodeploy.sim.model`);
- floor: the error of the fine-step run against itself with the recurrent weights × 1.001 — the count
  difference any small perturbation causes in that network (its sensitivity), below which no dt can be
  told apart from the fine-step run.

``--timed-inputs``: one more column, "timed": precise runs whose coarse bins also get the inputs' lateness
(``simulate(..., input_lateness=...)``, (E1)–(E2) of :mod:`neurodeploy.sim.timed_inputs`): each event of the
0.05 ms raster, at k·0.05 ms, is delivered at step ⌈k·0.05 ms/dt⌉ with its lateness instead of at the start of
its bin; the reference is the same precise fine-step run (there every event is on a bin boundary, a = 0).

``--window MS``: the error of the spike counts in windows of MS ms instead of whole-run counts (Σ over windows
and neurons of |Δcount| / Σ count; a multiple of every dt; ours only): it sees when the spikes fall, which whole-run
counts do not.

``--passage-nodes K``: the networks' ``passage_nodes`` (the Gauss–Legendre rule that times a spike inside its
step, :func:`neurodeploy.sim.dpi.region_passage`; default: the networks' own, 6), for both the runs and their
fine-step reference.

``--rockpool PYTHON``: Rockpool's DynapSim (3.1.0) on the same networks and rasters in a subprocess of that
interpreter (never a dependency of the package), its error against its own 0.05 ms run; dense signed
weights W_in, W_rec in units of Iscale, a common weight factor chosen (bisection) so that the recurrent
N = 64 network fires as ours does at dt = 1 ms, its weights closed over (its faster form).

    python tools/bench_precision.py [--sizes 64,256] [--rates 50,100] [--dts 2,1,0.5,0.2,0.1] [--seeds 3]
                                    [--repeats 3] [--passage-nodes 6] [--timed-inputs] [--window 5]
                                    [--rockpool /tmp/rpvenv/bin/python]
                                    [--plot docs/img/precision.png] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sim import ISCALE, N_IN, bench_entries, dense_signed  # noqa: E402

FINE = 5e-5             # s: the finest step, the reference
DURATION = 0.5          # s
FLOOR_SCALE = 1.001     # the floor's perturbation of the recurrent weights


def entries(kind: str, n: int):
    """The network's entries (src, dst, dendrite, I_w): the bench network, without its recurrent entries for "ff"."""
    e = bench_entries(n)
    if kind == "ff":
        keep = e[0] < N_IN
        e = tuple(a[keep] for a in e)
    return e


def raster(rate: float, seed: int, fine: float = FINE) -> np.ndarray:
    """Poisson input events [T_fine, 60] at the finest step ``fine`` (0/1)."""
    rng = np.random.default_rng(1000 + seed)
    return (rng.random((int(round(DURATION / fine)), N_IN)) < rate * fine).astype(np.float32)


def binned(x: np.ndarray, dt: float, fine: float = FINE) -> np.ndarray:
    """The events of a raster drawn at step ``fine`` summed into bins of ``dt`` (a multiple of ``fine``)."""
    k = int(round(dt / fine))
    if abs(k * fine - dt) > 1e-9 * dt:
        raise SystemExit(f"dt {dt * 1e3:g} ms is not a multiple of the reference step {fine * 1e3:g} ms")
    return x.reshape(-1, k, x.shape[1]).sum(axis=1)


def timed_binned(x: np.ndarray, dt: float):
    """(counts, lateness) [T, 60] of the fine raster's events (at k·FINE) delivered by (E1)–(E2)."""
    from neurodeploy.sim import bin_events
    k, src = np.nonzero(x)
    return bin_events(k * FINE, src, x.shape[1], dt, int(round(DURATION / dt)))


def error(counts, ref) -> float:
    return float(np.abs(counts - ref).sum() / max(ref.sum(), 1.0))


def best_time(fn, repeats: int) -> float:
    import jax
    jax.block_until_ready(fn())                      # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


# ---------------------------------------------------------------------------------------------
# ours
# ---------------------------------------------------------------------------------------------
class Ours:
    def __init__(self, nodes: int | None = None, window: float | None = None):
        import jax
        from neurodeploy.device.profile import load_profile
        from neurodeploy.sim import build_from_arrays, compiler_options, default_params, simulate
        self.jax, self.simulate = jax, simulate
        prof = load_profile("dynapse2")
        self.build = lambda n, e, dt, precise: build_from_arrays(
            N_IN, default_params(prof, n), {}, *e, prof, dt=dt, precise_timing=precise, passage_nodes=nodes)
        opts = compiler_options(batch=1)        # batch-1 forward runs, jitted as neurodeploy.sim.compiler advises
        self.run = jax.jit(lambda net, x: simulate(net, x)[0], compiler_options=opts)
        self.run_timed = jax.jit(lambda net, x, late: simulate(net, x, input_lateness=late)[0], compiler_options=opts)
        self.window = window

    def _counts(self, spikes, dt):
        """Spike counts per neuron [N], or per window (``--window``) and neuron [W, N]."""
        s = np.asarray(spikes)
        if self.window is None:
            return s.sum(axis=0)
        return s.reshape(-1, int(round(self.window / dt)), s.shape[1]).sum(axis=1)

    def counts(self, kind, n, x_fine, dt, precise, scale=1.0, timed=False):
        src, dst, dend, w = entries(kind, n)
        w = np.where(src >= N_IN, w * scale, w)
        net = self.build(n, (src, dst, dend, w), dt, precise)
        if timed:
            return self._counts(self.run_timed(net, *timed_binned(x_fine, dt)), dt)
        return self._counts(self.run(net, binned(x_fine, dt)), dt)

    def cost(self, kind, n, x_fine, dt, precise, repeats, timed=False):
        net = self.build(n, entries(kind, n), dt, precise)
        if timed:
            x, late = (self.jax.numpy.asarray(a) for a in timed_binned(x_fine, dt))
            return best_time(lambda: self.run_timed(net, x, late), repeats) / DURATION
        x = self.jax.numpy.asarray(binned(x_fine, dt))
        return best_time(lambda: self.run(net, x), repeats) / DURATION


# ---------------------------------------------------------------------------------------------
# Rockpool (runs under the other interpreter: imports neither jax at module level nor neurodeploy)
# ---------------------------------------------------------------------------------------------
class Rockpool:
    def __init__(self):
        import logging
        import warnings
        warnings.filterwarnings("ignore")
        logging.disable(logging.WARNING)
        import jax
        from rockpool.devices.dynapse import DynapSim
        from rockpool.nn.combinators import Sequential
        from rockpool.nn.modules import LinearJax
        self.jax = jax
        self.make = lambda w_in, w_rec, dt: Sequential(
            LinearJax(w_in.shape, weight=w_in, has_bias=False),
            DynapSim((w_rec.shape[0], w_rec.shape[0]), w_rec=w_rec, has_rec=True, dt=dt, Iscale=ISCALE))
        self.gain = None

    def _module(self, kind, n, dt, gain):
        w_in, w_rec = dense_signed(entries(kind, n), n)
        return self.make((gain * w_in / ISCALE).astype(np.float32), (gain * w_rec / ISCALE).astype(np.float32), dt)

    def calibrate(self, target: float, rate: float, dt: float = 1e-3, fine: float = FINE) -> float:
        """The weight factor at which the nominal recurrent N = 64 network fires ``target`` spikes at step ``dt``
        (seed 0's raster at input rate ``rate``, drawn at step ``fine``), by bisection."""
        x = binned(raster(rate, 0, fine), dt, fine)
        lo, hi = 0.01, 100.0
        for _ in range(14):
            g = (lo * hi) ** 0.5
            out, _, _ = self._module("rec", 64, dt, g)(x[None], record=False)
            if float(np.asarray(out).sum()) > target:
                hi = g
            else:
                lo = g
        self.gain = (lo * hi) ** 0.5
        return self.gain

    def counts(self, kind, n, x_fine, dt):
        mod = self._module(kind, n, dt, self.gain)
        out, _, _ = mod(binned(x_fine, dt)[None], record=False)
        return np.asarray(out)[0].sum(axis=0)

    def cost(self, kind, n, x_fine, dt, repeats):
        mod = self._module(kind, n, dt, self.gain)
        x = self.jax.numpy.asarray(binned(x_fine, dt)[None])
        ev = self.jax.jit(lambda xx: mod(xx, record=False)[0])
        return best_time(lambda: ev(x), repeats) / DURATION


def rockpool_worker() -> int:
    """One JSON request on stdin ({configs, dts, seeds, repeats, target}) → one JSON result on stdout."""
    req = json.loads(sys.stdin.readline())
    rp = Rockpool()
    gain = rp.calibrate(req["target"], req["target_rate"])
    out = {"gain": gain, "rows": []}
    for kind, n, rate in req["configs"]:
        xs = [raster(rate, s) for s in range(req["seeds"])]
        refs = [rp.counts(kind, n, x, FINE) for x in xs]
        for dt in req["dts"]:
            err = float(np.mean([error(rp.counts(kind, n, x, dt), r) for x, r in zip(xs, refs)]))
            out["rows"].append({"kind": kind, "n": n, "rate": rate, "dt": dt, "error": err,
                                "cost": rp.cost(kind, n, xs[0], dt, req["repeats"]),
                                "count": float(np.mean([r.sum() for r in refs]))})
    print(json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
def measure_ours(configs, dts, seeds, repeats, log, nodes=None, timed=False, window=None):
    ours = Ours(nodes, window)
    rows, floors = [], {}
    for kind, n, rate in configs:
        xs = [raster(rate, s) for s in range(seeds)]
        refs = {p: [ours.counts(kind, n, x, FINE, p) for x in xs] for p in (False, True)}
        if kind == "rec":
            floors[(kind, n, rate)] = float(np.mean([error(ours.counts(kind, n, x, FINE, False, FLOOR_SCALE), r)
                                                     for x, r in zip(xs, refs[False])]))
        for dt in dts:
            row = {"kind": kind, "n": n, "rate": rate, "dt": dt,
                   "count": float(np.mean([r.sum() for r in refs[False]]))}
            for p, name, t in ((False, "old", False), (True, "precise", False), (True, "timed", True))[:3 if timed else 2]:
                row[f"{name}_error"] = float(np.mean([error(ours.counts(kind, n, x, dt, p, timed=t), r)
                                                      for x, r in zip(xs, refs[p])]))
                row[f"{name}_cost"] = ours.cost(kind, n, xs[0], dt, p, repeats, timed=t)
            rows.append(row)
            log(row)
    return rows, floors


def table(rows, floors, rp_rows) -> str:
    rp = {(r["kind"], r["n"], r["rate"], r["dt"]): r for r in rp_rows or []}
    names = ("old", "precise", "timed") if rows and "timed_error" in rows[0] else ("old", "precise")
    head = "| network | input rate | dt (ms) | old: error / cost | precise: error / cost |"
    sep = "|---|---|---|---|---|"
    if len(names) == 3:
        head += " precise, timed inputs: error / cost |"
        sep += "---|"
    if rp:
        head += " Rockpool: error / cost |"
        sep += "---|"
    lines = [head, sep]
    for r in rows:
        key = (r["kind"], r["n"], r["rate"])
        name = f"N = {r['n']}, {'recurrent' if r['kind'] == 'rec' else 'feed-forward'}"
        cells = [name, f"{r['rate']:.0f} Hz", f"{r['dt'] * 1e3:g}"]
        for p in names:
            err = "—" if r["dt"] == FINE else f"{100 * r[f'{p}_error']:.1f} %"
            cells.append(f"{err} / {1e3 * r[f'{p}_cost']:.1f} ms")
        if rp:
            q = rp.get(key + (r["dt"],))
            if q is None:
                cells.append("")
            else:
                err = "—" if r["dt"] == FINE else f"{100 * q['error']:.1f} %"
                cells.append(f"{err} / {1e3 * q['cost']:.1f} ms")
        lines.append("| " + " | ".join(cells) + " |")
    if floors:
        lines.append("")
        lines.append("Floor (fine-step run against itself with the recurrent weights × 1.001): " + ", ".join(
            f"N = {n} at {rate:.0f} Hz {100 * f:.1f} %" for (_, n, rate), f in floors.items()))
    return "\n".join(lines)


def plot(rows, rp_rows, path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = sorted({(r["kind"], r["n"], r["rate"]) for r in rows})
    cols = min(4, len(keys))
    rows_ = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(3.3 * cols, 3.0 * rows_), sharey=True, squeeze=False)
    axes = axes.reshape(-1)
    for ax, key in zip(axes, keys):
        sel = [r for r in rows if (r["kind"], r["n"], r["rate"]) == key and r["dt"] != FINE]
        for p, mark in (("old", "o-"), ("precise", "s-")):
            ax.loglog([1e3 * r[f"{p}_cost"] for r in sel], [max(100 * r[f"{p}_error"], 0.05) for r in sel], mark, label=p)
        rsel = [r for r in rp_rows or [] if (r["kind"], r["n"], r["rate"]) == key and r["dt"] != FINE]
        if rsel:
            ax.loglog([1e3 * r["cost"] for r in rsel], [max(100 * r["error"], 0.05) for r in rsel], "^-", label="Rockpool")
        ax.set_title(f"{'rec' if key[0] == 'rec' else 'ff'} N={key[1]} {key[2]:.0f} Hz", fontsize=9)
        ax.set_xlabel("cost (ms per simulated s)", fontsize=8)
        ax.tick_params(labelsize=7, which="both")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel("count error (%)", fontsize=8)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="64,256")
    ap.add_argument("--rates", default="50,100", help="input rates (Hz)")
    ap.add_argument("--kinds", default="ff,rec", help="ff (feed-forward), rec (recurrent) or both")
    ap.add_argument("--dts", default="2,1,0.5,0.2,0.1,0.05", help="steps (ms); 0.05 is the reference")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--passage-nodes", type=int, help="the networks' passage_nodes (default: the model's)")
    ap.add_argument("--window", type=float, metavar="MS", help="error of the counts in windows of MS ms (default: whole run)")
    ap.add_argument("--timed-inputs", action="store_true",
                    help="also the precise runs with the inputs' lateness in their coarse bins (column 'timed')")
    ap.add_argument("--rockpool", metavar="PYTHON", help="interpreter with rockpool installed")
    ap.add_argument("--rockpool-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--plot", metavar="PNG", help="write the work-precision plot (needs matplotlib)")
    ap.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    ap.add_argument("--from-json", metavar="FILE", help="print the table (and --plot) of a run's --json, measuring nothing")
    args = ap.parse_args(argv)
    if args.rockpool_worker:
        return rockpool_worker()
    if args.from_json:            # table and plot of an earlier run's --json
        with open(args.from_json) as f:
            saved = json.load(f)
        floors = {tuple(json.loads(k.replace("(", "[").replace(")", "]").replace("'", '"'))): v
                  for k, v in saved["floors"].items()}
        print(table(saved["ours"], floors, saved["rockpool"]))
        if args.plot:
            print("plot:", args.plot if plot(saved["ours"], saved["rockpool"], args.plot) else "matplotlib not available")
        return 0
    unknown = sorted(set(args.kinds.split(",")) - {"ff", "rec"})
    if unknown:
        ap.error(f"--kinds: unknown {', '.join(unknown)} (use ff, rec or ff,rec)")
    configs = [(k, int(n), float(r)) for k in args.kinds.split(",") for n in args.sizes.split(",")
               for r in args.rates.split(",")]
    dts = [float(d) * 1e-3 for d in args.dts.split(",")]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rows, floors = measure_ours(configs, dts, args.seeds, args.repeats,
                                lambda r: print(json.dumps(r), file=sys.stderr, flush=True), args.passage_nodes,
                                args.timed_inputs, None if args.window is None else args.window * 1e-3)
    rp_rows = None
    if args.rockpool:
        target = next((r["count"] for r in rows if (r["kind"], r["n"]) == ("rec", 64)), 600.0)
        req = {"configs": configs, "dts": dts, "seeds": args.seeds, "repeats": args.repeats, "target": target,
               "target_rate": configs[0][2]}
        proc = subprocess.run([args.rockpool, os.path.abspath(__file__), "--rockpool-worker"], input=json.dumps(req) + "\n",
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"Rockpool worker failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        else:
            rp_rows = json.loads(proc.stdout.strip().splitlines()[-1])["rows"]
    if args.window:
        print(f"error: of the spike counts in windows of {args.window:g} ms (Rockpool's: of whole-run counts)")
    print(table(rows, floors, rp_rows))
    print(f"load average at end: {os.getloadavg()}")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"ours": rows, "floors": {str(k): v for k, v in floors.items()}, "rockpool": rp_rows}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    if args.plot:
        print("plot:", args.plot if plot(rows, rp_rows, args.plot) else "matplotlib not available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
