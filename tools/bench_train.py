"""Benchmark of the training engine: optimiser steps per second and seconds per epoch.

- frozen-noise: 2 decision neurons, batch 2, T = 500 bins; steps/s of the jit-compiled step
  (nominal chip; 1 mismatch draw; 4 draws vmapped) after warm-up;
- digits: seconds per training epoch (1,295 trials, the task's batch, 64 hidden neurons; nominal and
  with the default mismatch draws), measured on a few steps and scaled.

Timings are noisy on a shared or loaded machine; compare interleaved runs.

    python tools/bench_train.py [--steps 500] [--skip-digits] [--xla-defaults]

The process runs with the XLA flags the command line sets (:mod:`neurodeploy.xla_flags`); ``--xla-defaults``
without them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "--xla-defaults" not in sys.argv:     # the process flags the CLI sets (neurodeploy/xla_flags.py), before JAX starts
    from neurodeploy.xla_flags import apply
    apply()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from neurodeploy.device.profile import load_profile  # noqa: E402
from neurodeploy.sim.shards import place  # noqa: E402
from neurodeploy.train.delay_mismatch import slot_spreads  # noqa: E402
from neurodeploy.train.loop import TrainConfig, Trainer  # noqa: E402
from neurodeploy.train.run import build_network  # noqa: E402
from neurodeploy.train.structure import Structure  # noqa: E402
from neurodeploy.train.tasks import get_task  # noqa: E402


def steps_per_second(task_name, draws, mismatch, n_steps, batch=None, **arch_over):
    prof = load_profile("dynapse2")
    task = get_task(task_name)
    arch = {**task.architecture(), **arch_over}
    tr_d = task.training_data(0) if hasattr(task, "training_data") else task.data("train")
    network = build_network(task, arch, prof, 0, data=tr_d)
    cfg = TrainConfig(epochs=1000, batch_size=batch or arch["batch_size"], loss=arch["loss"], draws=draws,
                      mismatch=mismatch, qat=False, progress=False)
    st = Structure(network, prof)
    tr = Trainer(st, tr_d, tr_d, cfg, prof)
    s = tr.fresh(st.par.init())
    f = tr.steps["float"]
    bs = tr.bs
    idx = np.arange(bs)
    rates = (tr_d.target_rates if tr_d.target_rates is not None else np.zeros((tr_d.n, st.readout.shape[1])))[idx]
    zeros = np.zeros(st.slots.n, np.float32)       # the quantizer's weight and delay levels (QAT off)
    spreads = slot_spreads(st, None, s.theta)       # delay-mismatch spreads: ones without a fitted quantizer
    args = (s.mask, zeros, zeros, spreads, False, tr_d.spikes[idx], tr_d.labels[idx],
            rates.astype(np.float32), np.ones(bs, np.float32))
    theta, opt = place((s.theta, s.opt_state), bs, st.net.n_neurons)       # as the trainer places them (neurodeploy.sim.shards)
    out = f(theta, opt, *args, jax.random.PRNGKey(0))
    jax.block_until_ready(out)
    t0 = time.perf_counter()
    for i in range(n_steps):
        out = f(out[0], out[1], *args, jax.random.PRNGKey(i))
    jax.block_until_ready(out)
    return n_steps / (time.perf_counter() - t0), tr.spe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500, help="frozen-noise steps timed (digits: a tenth)")
    ap.add_argument("--skip-digits", action="store_true")
    ap.add_argument("--xla-defaults", action="store_true",
                    help="without the CLI's XLA process flags (neurodeploy/xla_flags.py), for comparison")
    a = ap.parse_args(argv)
    rows = []
    for label, draws, mm in (("nominal", 1, 0.0), ("1 draw", 1, 0.1), ("4 draws (lax.map)", 4, 0.1)):
        sps, _ = steps_per_second("frozen-noise", draws, mm, a.steps, batch=2, hidden=0, recurrent=True)
        rows.append(("frozen-noise tutorial net (N=2, batch 2, T=500)", label, f"{sps:8.1f} steps/s"))
    arch = get_task("frozen-noise").architecture()
    sps, _ = steps_per_second("frozen-noise", arch["draws"], 0.1, max(10, a.steps // 10))
    rows.append((f"frozen-noise default ({arch['hidden']} hidden, batch {arch['batch_size']})", f"{arch['draws']} draws (lax.map)",
                 f"{sps:8.1f} steps/s"))
    if not a.skip_digits:
        arch = get_task("digits").architecture()
        for label, draws, mm in (("nominal", 1, 0.0), ("4 draws (lax.map)", 4, 0.1)):
            sps, spe = steps_per_second("digits", draws, mm, max(3, a.steps // 50))
            rows.append((f"digits (64 hidden, batch {arch['batch_size']}, T=100)", label,
                         f"{spe / sps:8.1f} s/epoch ({spe} steps)"))
    w = max(len(r[0]) for r in rows)
    print(f"{'case':{w}s}  {'mismatch':18s}  speed")
    for r in rows:
        print(f"{r[0]:{w}s}  {r[1]:18s}  {r[2]}")


if __name__ == "__main__":
    main()
