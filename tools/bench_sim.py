"""Benchmark of neurodeploy.sim on fixed rows, optionally side by side with Rockpool's DynapSim.

Network (the reference construction, built the same way on both sides so that anyone can compare): N DPI
neurons at the profile's default biases, each with 16 input synapses (AMPA) drawn from 60 Poisson inputs at
50 Hz and 48 recurrent synapses (75 % AMPA, 25 % GABA) drawn from the N neurons; T = 500 steps at
dt = 1 ms; weights set so that the network fires ~20 Hz. Rows (``--rows`` keys in brackets):

- forward, µs per step: N = 64 batch 1 (fwd64), N = 256 batch 1 (fwd256), N = 1024 batch 1 (fwd1024),
  N = 4096 batch 1 (fwd4096), N = 256 batch 32 (fwd256b32);
- train step (value_and_grad of a rate loss + Adam via optax), ms per step: N = 64 batch 32, weights
  (train64); the frozen-noise task, 2 neurons, 60 inputs, batch 2 (frozen); N = 64 batch 32 with every
  circuit current trainable too (train64cur, neurodeploy only);
- 32 mismatch draws of N = 256 in one ``jax.vmap`` call, ms per draw (mismatch); the same draws split across the
  process's devices as ``verify`` and the emulator run them (:func:`neurodeploy.sim.shards.over_draws`; Rockpool's
  side: its vmap) (mismatchsplit);
- compile (first call minus a steady call), s, per row;
- peak RSS of one value-and-grad step of N = 256, batch 32, T = 500 (subprocess, target ≤ 4 GB;
  ``--no-rss`` skips it).

    python tools/bench_sim.py [--repeats 3] [--stat median|min] [--processes 1] [--rows fwd1024,train64,...]
                              [--no-rss] [--xla-defaults] [--compare-rockpool /tmp/rockpool-venv/bin/python]
                              [--rockpool-weights constant|argument] [--rockpool-xla-flags FLAGS]

Our rows are jitted as a user's own code should jit the simulator: with ``neurodeploy.sim.compiler_options(batch)``
(:mod:`neurodeploy.sim.compiler`; batch 1 for the batch-1 forward rows), in a process with the XLA flags the CLI
sets (:mod:`neurodeploy.xla_flags`: small time loops compiled whole, one host device per core, across which the
simulator splits a batch, :mod:`neurodeploy.sim.shards`); ``--xla-defaults`` runs them with XLA's defaults instead
(one device). Rockpool's rows keep XLA's defaults (``--rockpool-xla-flags`` gives its side flags of its own).

``--compare-rockpool PYTHON`` runs Rockpool's DynapSim (3.1.0: one combined synapse per neuron, so the
connectivity is given as dense signed matrices W_in [60, N], W_rec [N, N], weights / Iscale) in a
subprocess of that interpreter, interleaved row by row and repeat by repeat with ours, and prints
the ratio Rockpool / neurodeploy per row. Its weight scale is calibrated to ~20 Hz as well. Rockpool's
mismatch draws scale every synapse's weight (per-draw W_in and W_rec) besides its currents, as ours do
per CAM entry.

``--rockpool-weights`` (forward rows): DynapSim's step computes the recurrent input as
``dot(w_rec.T, spikes)``. With the weights closed over (``constant``, constants of the jitted call, the
default) XLA folds the transpose at compile time. With the weights an *argument* of the jitted call
(``argument``) — as in any training step and in a vmap over per-draw weights — the optimised HLO copies
``transpose(w_rec)``, the whole [N, N] matrix, inside the loop body every step, which dominates at batch 1.
The default is Rockpool's faster form, so the ratios printed by default are against the faster Rockpool.

Timings are noisy on a shared machine: rows are interleaved, each is the median of ``--repeats`` (``--stat min``:
the minimum, the least disturbed call of each side), and the load average is printed at the start and the end.
A process can also run a row at a different speed for its whole life (the same training step 74 ms in one
process and 100 ms in another, at 1.5× the CPU time): ``--processes K`` repeats the rows in K fresh process
pairs, ours and Rockpool's, reports each side's median over its processes and prints the range of the K pairs'
ratios. Measurements: docs/performance-history.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

T, DT, N_IN, K_IN, K_REC, RATE = 500, 1e-3, 60, 16, 48, 50.0
W_IN, W_EXC, W_INH = 3e-8, 6e-9, 4e-8          # A per synapse (× U(0.5, 1.5)): ~20 Hz
W_FROZEN, W_FROZEN_REC = 6e-9, 3e-8            # frozen-noise: 60 inputs → 2 neurons (AMPA), 2 → 2 (GABA)
TARGET_HZ = 10.0
ISCALE = 1e-8                                   # Rockpool's weight unit (A)

ROWS = {  # key: (label, unit, ours-only)
    "fwd64": ("forward N=64 b1, per step", "us", False),
    "fwd256": ("forward N=256 b1, per step", "us", False),
    "fwd1024": ("forward N=1024 b1, per step", "us", False),
    "fwd4096": ("forward N=4096 b1, per step", "us", False),
    "fwd256b32": ("forward N=256 b32, per step", "us", False),
    "train64": ("train step N=64 b32 T=500", "ms", False),
    "frozen": ("frozen-noise train step (2 n, b2)", "ms", False),
    "train64cur": ("train step, all currents, N=64 b32", "ms", True),
    "mismatch": ("32 mismatch draws N=256, per draw", "ms", False),
    "mismatchsplit": ("32 draws N=256 split, per draw", "ms", False),
}


# ---------------------------------------------------------------------------------------------
# the networks (numpy only: shared with the Rockpool worker)
# ---------------------------------------------------------------------------------------------
def bench_entries(n: int, seed: int = 0):
    """The reference construction's network of N neurons (module docstring): synapse entries (src into
    [inputs; neurons], dst, dendrite 0 AMPA / 2 GABA, I_w in A)."""
    rng = np.random.default_rng(seed)
    k_rec = min(K_REC, n)
    src_in = np.concatenate([rng.choice(N_IN, K_IN, replace=False) for _ in range(n)])
    src_rec = np.concatenate([rng.choice(n, k_rec, replace=False) for _ in range(n)]) + N_IN
    dst = np.concatenate([np.repeat(np.arange(n), K_IN), np.repeat(np.arange(n), k_rec)])
    inh = rng.random(n * k_rec) < 0.25
    dend = np.concatenate([np.zeros(n * K_IN, int), np.where(inh, 2, 0)])
    w = np.concatenate([np.full(n * K_IN, W_IN), np.where(inh, W_INH, W_EXC)]) * rng.uniform(0.5, 1.5, dst.size)
    return np.concatenate([src_in, src_rec]), dst, dend, w


def frozen_entries(seed: int = 0):
    """The frozen-noise task's network: every input → both neurons (AMPA), each neuron → the other (GABA)."""
    rng = np.random.default_rng(seed)
    src = np.concatenate([np.repeat(np.arange(N_IN), 2), [N_IN + 1, N_IN]])
    dst = np.concatenate([np.tile([0, 1], N_IN), [0, 1]])
    dend = np.concatenate([np.zeros(2 * N_IN, int), [2, 2]])
    w = np.concatenate([W_FROZEN * rng.uniform(0.5, 1.5, 2 * N_IN), [W_FROZEN_REC, W_FROZEN_REC]])
    return src, dst, dend, w


def dense_signed(entries, n: int):
    """Dense signed matrices W_in [60, N], W_rec [N, N] (A; GABA negative) of the entries."""
    src, dst, dend, w = entries
    sw = np.where(dend == 2, -w, w)
    W = np.zeros((N_IN + n, n))
    np.add.at(W, (src, dst), sw)
    return W[:N_IN], W[N_IN:]


def poisson(batch: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, T, N_IN)) < RATE * DT).astype(np.float32)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    _block(out)
    return time.perf_counter() - t, out


def _block(x):
    import jax
    return jax.block_until_ready(x)


# ---------------------------------------------------------------------------------------------
# neurodeploy's side
# ---------------------------------------------------------------------------------------------
class Ours:
    """Prepares and runs each row on neurodeploy.sim; ``prepare`` returns (first-call s, rate Hz)."""

    def __init__(self, xla_defaults: bool = False):
        import functools

        import jax
        import jax.numpy as jnp
        import optax

        from neurodeploy.sim import compiler_options
        # the rows' own jits take the simulator's compile options, as a user's jit should (neurodeploy.sim.compiler):
        # a batch-1 forward row those of batch 1
        self.jit = jax.jit if xla_defaults else functools.partial(jax.jit, compiler_options=compiler_options())
        self.jit1 = jax.jit if xla_defaults else functools.partial(jax.jit, compiler_options=compiler_options(batch=1))

        from neurodeploy.device.profile import load_profile
        from neurodeploy.sim import Parametrization, build_from_arrays, default_params, sample_mismatch_stack, simulate
        self.jax, self.jnp, self.optax = jax, jnp, optax
        self.prof = load_profile("dynapse2")
        self.P, self.simulate, self.stack = Parametrization, simulate, sample_mismatch_stack
        self.build = lambda n, e: build_from_arrays(N_IN, default_params(self.prof, n), {}, *e, self.prof, dt=DT)
        self.calls = {}     # row → (jitted function, its arguments): tools/bench_floor.py reads their HLO

    def _train(self, net, x, currents=()):
        jax, jnp, optax = self.jax, self.jnp, self.optax
        par = self.P.from_network(net, currents=currents)
        opt = optax.adam(1e-2)

        def loss(th):
            s, _, _ = self.simulate(par.apply(net, th), x)
            return jnp.mean((s.mean(axis=1) / DT - TARGET_HZ) ** 2)

        @self.jit
        def step(th, st):
            val, g = jax.value_and_grad(loss)(th)
            upd, st = opt.update(g, st)
            return optax.apply_updates(th, upd), st, val

        th = par.init()
        st = opt.init(th)
        rate = float(np.asarray(self.simulate(net, x)[0]).mean()) / DT
        return (step, (th, st)), rate

    def prepare(self, row: str):
        jax = self.jax
        if row.startswith("fwd"):
            n, b = {"fwd64": (64, 1), "fwd256": (256, 1), "fwd1024": (1024, 1), "fwd4096": (4096, 1),
                    "fwd256b32": (256, 32)}[row]
            net, x = self.build(n, bench_entries(n)), self.jnp.asarray(poisson(b))
            self.calls[row] = ((self.jit1 if b == 1 else self.jit)(lambda nn, xx: self.simulate(nn, xx)[0]), (net, x))
            first, s = timed(self._fn(row))
            rate = float(np.asarray(s).mean()) / DT
        elif row in ("train64", "train64cur", "frozen"):
            if row == "frozen":
                net, x = self.build(2, frozen_entries()), self.jnp.asarray(poisson(2))
            else:
                net, x = self.build(64, bench_entries(64)), self.jnp.asarray(poisson(32))
            self.calls[row], rate = self._train(net, x, () if row != "train64cur" else tuple(net.currents))
            first, _ = timed(self._fn(row))
        elif row in ("mismatch", "mismatchsplit"):
            net, x = self.build(256, bench_entries(256)), self.jnp.asarray(poisson(1))
            draws = self.stack(net, jax.random.PRNGKey(0), 32)
            if row == "mismatch":
                self.calls[row] = (self.jit(jax.vmap(lambda m: self.simulate(net, x, m)[0])), (draws,))
            else:       # the draws across the devices, as verify and the emulator run them (neurodeploy.sim.shards)
                from neurodeploy.sim.shards import over_draws
                one = over_draws(lambda m, nn, xx: self.simulate(nn, xx, m)[0], 32, 256)
                self.calls[row] = (self.jit(one), (draws, net, x))
            first, s = timed(self._fn(row))
            rate = float(np.asarray(s).mean()) / DT
        else:
            raise KeyError(row)
        return first, rate

    def _fn(self, row: str):
        jitted, args = self.calls[row]
        return lambda: jitted(*args)

    def time(self, row: str) -> float:
        return timed(self._fn(row))[0]


def rss_child(n: int, b: int) -> int:
    """Peak RSS (bytes) of this process after one value-and-grad step of N neurons, batch b, T steps."""
    import resource

    ours = Ours()
    net, x = ours.build(n, bench_entries(n)), ours.jnp.asarray(poisson(b))
    (step, args), _ = ours._train(net, x)
    _block(step(*args))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------------------------
# Rockpool's side (runs under the other interpreter; imports neither jax at module level nor us)
# ---------------------------------------------------------------------------------------------
def rockpool_draws(mod, x, n_draws: int, sigma: float = 0.1):
    """Rockpool's side of the mismatch rows: a call that runs ``n_draws`` chips of the DynapSim network ``mod`` on
    ``x`` in one jitted ``jax.vmap``. Each chip's currents and every synapse's weight (per-draw W_in and W_rec, as
    ours draw one factor per CAM entry) are the nominal ones times 1 + σ·N(0, 1), clipped at 0.05 (as ours)."""
    import jax
    import jax.numpy as jnp

    sim = mod.simulation_parameters()["1_DynapSim"]
    names = [k for k in sim if k.startswith("I") and k != "Iscale" and np.ndim(sim[k]) == 1]
    key = jax.random.PRNGKey(0)

    def factors(i, shape):
        return jnp.maximum(1 + sigma * jax.random.normal(jax.random.fold_in(key, i), (n_draws,) + shape), 0.05)
    draws = {k: jnp.asarray(sim[k])[None] * factors(i, (np.size(sim[k]),)) for i, k in enumerate(names)}
    w_in, w_rec = (np.asarray(mod.parameters()[m]["weight" if m[0] == "0" else "w_rec"]) for m in ("0_LinearJax", "1_DynapSim"))
    wd = {"0_LinearJax": {"weight": jnp.asarray(w_in)[None] * factors(101, w_in.shape)},
          "1_DynapSim": {"w_rec": jnp.asarray(w_rec)[None] * factors(102, w_rec.shape)}}

    def one(d, w):
        m = mod.set_attributes({"0_LinearJax": w["0_LinearJax"], "1_DynapSim": {**d, **w["1_DynapSim"]}})
        return m(x, record=False)[0]
    vm = jax.jit(jax.vmap(one))
    return lambda: vm(draws, wd)


class Rockpool:
    """The same rows on Rockpool's DynapSim (LinearJax(W_in) → DynapSim(W_rec)), weights in units of Iscale."""

    def __init__(self, weights: str = "constant"):
        import warnings
        warnings.filterwarnings("ignore")
        import logging
        logging.disable(logging.WARNING)
        import jax
        import jax.numpy as jnp
        import optax
        from rockpool.devices.dynapse import DynapSim
        from rockpool.nn.combinators import Sequential
        from rockpool.nn.modules import LinearJax
        self.jax, self.jnp, self.optax = jax, jnp, optax
        self.make = lambda w_in, w_rec: Sequential(
            LinearJax(w_in.shape, weight=w_in, has_bias=False),
            DynapSim((w_rec.shape[0], w_rec.shape[0]), w_rec=w_rec, has_rec=True, dt=DT, Iscale=ISCALE))
        self.gain = {}
        self.fns = {}
        self.weights = weights

    def _mats(self, kind: str, n: int):
        e = frozen_entries() if kind == "frozen" else bench_entries(n)
        w_in, w_rec = dense_signed(e, n)
        g = self._gain(kind)
        return (g * w_in / ISCALE).astype(np.float32), (g * w_rec / ISCALE).astype(np.float32)

    def _rate(self, kind, g, n, b):
        e = frozen_entries() if kind == "frozen" else bench_entries(n)
        w_in, w_rec = dense_signed(e, n)
        mod = self.make((g * w_in / ISCALE).astype(np.float32), (g * w_rec / ISCALE).astype(np.float32))
        out, _, _ = mod(poisson(b), record=False)
        return float(np.asarray(out).mean()) / DT

    def _gain(self, kind: str) -> float:
        """A common factor on the weights so that Rockpool's network fires ~20 Hz too (bisection in log)."""
        if kind not in self.gain:
            n, b = (2, 2) if kind == "frozen" else (256, 4)
            lo, hi = 0.01, 100.0
            for _ in range(12):
                g = (lo * hi) ** 0.5
                if self._rate(kind, g, n, b) > 20.0:
                    hi = g
                else:
                    lo = g
            self.gain[kind] = (lo * hi) ** 0.5
        return self.gain[kind]

    def _train(self, mod, x):
        jax, jnp, optax = self.jax, self.jnp, self.optax
        params = mod.parameters()
        opt = optax.adam(1e-2)

        def loss(p):
            m = mod.set_attributes(p).reset_state()
            out, _, _ = m(x, record=False)
            return jnp.mean((out.mean(axis=1) / DT - TARGET_HZ) ** 2)

        @jax.jit
        def step(p, st):
            val, g = jax.value_and_grad(loss)(p)
            upd, st = opt.update(g, st)
            return optax.apply_updates(p, upd), st, val

        st = opt.init(params)
        return lambda: step(params, st)

    def prepare(self, row: str):
        jax, jnp = self.jax, self.jnp
        if row.startswith("fwd"):
            n, b = {"fwd64": (64, 1), "fwd256": (256, 1), "fwd1024": (1024, 1), "fwd4096": (4096, 1),
                    "fwd256b32": (256, 32)}[row]
            mod, x = self.make(*self._mats("bench", n)), jnp.asarray(poisson(b))
            if self.weights == "argument":      # the weights as an argument of the jitted call (see the docstring)
                p = mod.parameters()
                evp = jax.jit(lambda pp, xx: mod.set_attributes(pp)(xx, record=False)[0])
                fn = lambda: evp(p, x)  # noqa: E731
            else:
                ev = jax.jit(lambda xx: mod(xx, record=False)[0])
                fn = lambda: ev(x)  # noqa: E731
            first, s = timed(fn)
            rate = float(np.asarray(s).mean()) / DT
        elif row in ("train64", "frozen"):
            kind, n, b = ("frozen", 2, 2) if row == "frozen" else ("bench", 64, 32)
            mod, x = self.make(*self._mats(kind, n)), jnp.asarray(poisson(b))
            rate = float(np.asarray(mod(x, record=False)[0]).mean()) / DT
            fn = self._train(mod, x)
            first, _ = timed(fn)
        elif row in ("mismatch", "mismatchsplit"):      # Rockpool: its vmap for both
            mod, x = self.make(*self._mats("bench", 256)), jnp.asarray(poisson(1))
            fn = rockpool_draws(mod, x, 32)
            first, s = timed(fn)
            rate = float(np.asarray(s).mean()) / DT
        else:
            raise KeyError(row)
        self.fns[row] = fn
        return first, rate

    def time(self, row: str) -> float:
        return timed(self.fns[row])[0]


def worker(side: str, weights: str = "constant", xla_defaults: bool = False) -> int:
    """Line protocol on stdin/stdout: {"cmd": "prepare"|"time", "row": key} → one JSON line; ``side``
    "rockpool" (under Rockpool's interpreter) or "ours" (``--processes``: each side in fresh processes)."""
    impl = Rockpool(weights) if side == "rockpool" else Ours(xla_defaults=xla_defaults)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(answer(impl, json.loads(line))), flush=True)
    return 0


def answer(impl, req: dict) -> dict:
    """One request to a side: prepare a row (first call s, rate Hz) or time it once (s)."""
    try:
        if req["cmd"] == "prepare":
            first, rate = impl.prepare(req["row"])
            return {"first": first, "rate": rate}
        return {"t": impl.time(req["row"])}
    except Exception as e:  # a row a side cannot run: reported, the others go on
        return {"error": f"{type(e).__name__}: {str(e)[:200]}"}


class Local:
    """Our side in this process, asked as a :class:`Remote` is."""

    def __init__(self, xla_defaults: bool):
        self.impl = Ours(xla_defaults=xla_defaults)

    def ask(self, cmd: str, row: str):
        out = answer(self.impl, {"cmd": cmd, "row": row})
        if "error" in out:
            raise SystemExit(f"{row}: {out['error']}")
        return out

    def close(self):
        pass


class Remote:
    """A side in a subprocess of ``python`` (:func:`worker`)."""

    def __init__(self, python: str, *worker_args: str, env: dict | None = None):
        self.p = subprocess.Popen([python, os.path.abspath(__file__), "--worker", *worker_args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.side = worker_args[0]
        ready = self._read()
        if not ready.get("ready"):
            raise SystemExit(f"{self.side} worker did not start: {ready}")

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"{self.side} worker exited" + (" (is rockpool installed for that interpreter?)"
                                                              if self.side == "rockpool" else ""))
        return json.loads(line)

    def ask(self, cmd: str, row: str):
        self.p.stdin.write(json.dumps({"cmd": cmd, "row": row}) + "\n")
        return self._read()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=60)


# ---------------------------------------------------------------------------------------------
def _scale(row: str, seconds: float) -> float:
    unit = ROWS[row][1]
    if row.startswith("fwd"):
        return seconds / T * 1e6
    if row.startswith("mismatch"):
        return seconds / 32 * 1e3
    return seconds * 1e3 if unit == "ms" else seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per row and side (in each process)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="the statistic of a process's repeats (min: its least disturbed call)")
    ap.add_argument("--processes", type=int, default=1,
                    help="fresh process pairs (ours, Rockpool's) to repeat the rows in; above 1 each side's time is "
                         "the median over its processes of their statistic, and the per-pair ratios' range is printed")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of: {', '.join(ROWS)}")
    ap.add_argument("--compare-rockpool", metavar="PYTHON", help="interpreter with rockpool installed")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocess")
    ap.add_argument("--xla-defaults", action="store_true",
                    help="compile our rows with XLA's default options instead of neurodeploy.sim.COMPILER_OPTIONS")
    ap.add_argument("--rockpool-weights", choices=("constant", "argument"), default="constant",
                    help="forward rows: Rockpool's weights closed over (constants, its faster form) or passed to the "
                         "jitted call (as in training and per-draw mismatch)")
    ap.add_argument("--rockpool-xla-flags", default="", metavar="FLAGS",
                    help="XLA flags for Rockpool's side only (default: none, XLA's defaults), e.g. neurodeploy's own "
                         "process flag to compare with it on both sides")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--rss-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    rockpool_env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} {args.rockpool_xla_flags}".strip())
    if not args.xla_defaults and not (args.worker and args.worker[0] == "rockpool"):
        from neurodeploy.xla_flags import apply
        apply()     # the process flags the CLI sets (small time loops compiled whole), before JAX starts
    if args.worker:
        side, *rest = args.worker
        return worker(side, rest[0] if rest else "constant", xla_defaults=args.xla_defaults)
    if args.rss_child:
        print(rss_child(*args.rss_child))
        return 0
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}")
    if args.processes < 1 or args.repeats < 1:
        ap.error("--processes and --repeats must be at least 1")
    load = os.getloadavg()[0]
    import jax
    rp_name = f"Rockpool DynapSim (weights: {args.rockpool_weights})" if args.compare_rockpool else "(no comparison)"
    print(f"neurodeploy.sim vs {rp_name}: T={T}, dt={DT * 1e3:g} ms, "
          f"{N_IN} Poisson inputs at {RATE:g} Hz, {K_IN} input + {K_REC} recurrent synapses per neuron; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start (timings are noisy under load); "
          f"JAX devices: {len(jax.devices())} × {jax.devices()[0].platform} ({jax.devices()[0].device_kind}); "
          f"{args.stat} of {args.repeats} calls" + (f", median over {args.processes} process pairs"
                                                    if args.processes > 1 else ""))
    rounds = []
    for k in range(args.processes):
        rounds.append(measure_round(args, rows, rockpool_env))
        if args.processes > 1:
            print(f"process pair {k + 1} of {args.processes} done", file=sys.stderr, flush=True)
    hdr = f"{'case':38s} {'ours':>9s} {'rate':>6s} {'compile':>8s}"
    if args.compare_rockpool:
        hdr += f" {'Rockpool':>9s} {'rate':>6s} {'compile':>8s} {'RP/ours':>8s}"
        hdr += "  per-pair ratios" if args.processes > 1 else ""
    print(hdr)
    for row in rows:
        print(row_line(row, [r[row] for r in rounds]))
    if not args.no_rss:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child", "256", "32"],
                             capture_output=True, text=True)
        rss = int(out.stdout.split()[-1]) if out.returncode == 0 else None
        print(f"peak RSS, value-and-grad N=256 b32 T={T}: " + (f"{rss / 2**30:.2f} GB (target <= 4 GB)" if rss else
                                                                  f"failed: {out.stderr.strip()[-300:]}"))
    print(f"load average {os.getloadavg()[0]:.1f} at the end; compile = first call minus a steady call (s)")
    return 0


def measure_round(args, rows, rockpool_env: dict) -> dict:
    """One process pair (ours in this process when ``--processes 1``): each row prepared on both sides, then
    timed ``--repeats`` times, the sides interleaved call by call. Row → (ours: first, rate, statistic; the same
    for Rockpool or None; Rockpool's error or None)."""
    stat = statistics.median if args.stat == "median" else min
    ours = (Local(args.xla_defaults) if args.processes == 1 else
            Remote(sys.executable, "ours", *(["--xla-defaults"] if args.xla_defaults else [])))
    remote = (Remote(args.compare_rockpool, "rockpool", args.rockpool_weights, env=rockpool_env)
              if args.compare_rockpool else None)
    out = {}
    for row in rows:
        mine = ours.ask("prepare", row)
        if "error" in mine:
            raise SystemExit(f"{row}: {mine['error']}")
        rp = remote.ask("prepare", row) if remote and not ROWS[row][2] else None
        t_ours, t_rp = [], []
        for _ in range(args.repeats):
            t_ours.append(ours.ask("time", row)["t"])
            if rp and "error" not in rp:
                t_rp.append(remote.ask("time", row)["t"])
        s_ours = stat(t_ours)
        theirs = (rp["first"], rp["rate"], stat(t_rp)) if rp and "error" not in rp else None
        out[row] = ((mine["first"], mine["rate"], s_ours), theirs, rp.get("error") if rp else None)
        print(f"  {row} measured", file=sys.stderr, flush=True)
    for side in (ours, remote):
        if side:
            side.close()
    return out


def row_line(row: str, results: list) -> str:
    """A row's line from its rounds' results (:func:`measure_round`): each side the median over rounds."""
    label, unit, _ = ROWS[row]
    med = statistics.median
    first, rate, t = (med(r[0][i] for r in results) for i in range(3))
    line = f"{label + ' (' + unit + ')':38s} {_scale(row, t):9.1f} {rate:6.1f} {max(first - t, 0):8.2f}"
    theirs = [r[1] for r in results if r[1]]
    if theirs:
        r_first, r_rate, r_t = (med(x[i] for x in theirs) for i in range(3))
        line += f" {_scale(row, r_t):9.1f} {r_rate:6.1f} {max(r_first - r_t, 0):8.2f} {r_t / t:8.2f}"
        if len(results) > 1:
            ratios = [r[1][2] / r[0][2] for r in results if r[1]]
            line += f"  {min(ratios):.2f}-{max(ratios):.2f}"
    elif results[0][2]:
        line += f"  Rockpool: {results[0][2]}"
    return line


if __name__ == "__main__":
    sys.exit(main())
