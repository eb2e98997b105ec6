"""Benchmark: deployed accuracy of a trained model (any built-in task: ``--task digits``, ``--task coincidence``, …)
on hidden chips, without calibration, with `map --chip` and with `map --chip` after `train --chip` fine-tuning.

Per hidden chip (`neurodeploy chip new --seed s`, σ 10 %), all run on the hidden board, the task's metric on the
test split:

* uncalibrated — the model mapped for the nominal chip (`map`, built-in profile);
* no delay probe — (a model with delays only) `map --chip` with the chip profile's delay stages left out
  (``delay_calibrated`` false: the delay biases from the profile's C_dly0..2);
* map --chip — `calibrate` on the cores the model uses (with the delay probe on a model with delays), then the
  model mapped for the measured chip (:func:`neurodeploy.calibration.placement.deploy_on_chip`: retargeted
  currents, measured constants, delay biases from the measured C_dly0..2, neurons on the best-measured physical
  neurons);
* fine-tuned — the model fine-tuned for the measured chip (`train --init MODEL --chip chip.yaml`, ``--ft-epochs``
  epochs at ``--ft-lr``, residual σ 0.02), then mapped with `map --chip`.

References: the float model on the nominal chip (the simulator, no mismatch) and the nominal board (the nominal
mapping on the emulator without mismatch). Wall times per chip: calibrate, fine-tune. Rows are printed (and the
JSON rewritten) as each chip finishes.

Usage: python tools/bench_calibrate_deploy.py MODEL [--task digits] [--chips 4] [--first 0] [--ft-epochs 8]
"""

import argparse
import json
import time

import numpy as np

from neurodeploy.backends.emulator import EmulatorBackend
from neurodeploy.calibration.calibrate import calibrate, probe_sites
from neurodeploy.calibration.hidden import new_hidden_chip, write_hidden_chip
from neurodeploy.calibration.placement import deploy_on_chip
from neurodeploy.deployment import deploy
from neurodeploy.device.profile import load_profile
from neurodeploy.importers import load_network
from neurodeploy.train.tasks import get_task

CHUNK = 64


def accuracy(backend, cfg, data, readout, task) -> float:
    w0, w1 = data.window
    backend.load(cfg)
    counts = []
    for i in range(0, len(data.labels), CHUNK):
        r = backend.run({"spikes": np.asarray(data.spikes[i:i + CHUNK], np.float32), "dt": data.dt})
        counts.append(np.asarray(r.outputs)[:, w0:w1].sum(axis=1) @ readout)
    return float(task.metrics(np.concatenate(counts), data)["accuracy"])


def float_accuracy(network, prof, data, task) -> float:
    """The float network on the nominal chip (simulator, no mismatch)."""
    from neurodeploy.sim import build_from_network, no_mismatch, simulate

    net, index = build_from_network(network, prof)
    w0, w1 = data.window
    counts = []
    for i in range(0, len(data.labels), CHUNK):
        s, *_ = simulate(net, np.asarray(data.spikes[i:i + CHUNK], np.float32), no_mismatch(net), dt=data.dt)
        counts.append(np.asarray(s)[:, w0:w1][..., index.output_indices].sum(axis=1) @ network.readout_matrix())
    return float(task.metrics(np.concatenate(counts), data)["accuracy"])


def without_delays(cp):
    """The chip profile without its measured delay stages (the delay biases then come from the device profile)."""
    from neurodeploy.device.chip_profile import DELAY_CONSTANTS

    cores = [c.model_copy(update={"constants": {k: v for k, v in c.constants.items() if k not in DELAY_CONSTANTS}})
             for c in cp.cores]
    return cp.model_copy(update={"delay_calibrated": False, "cores": cores})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--task", default="digits")
    ap.add_argument("--chips", type=int, default=4)
    ap.add_argument("--first", type=int, default=0, help="seed of the first hidden chip")
    ap.add_argument("--ft-epochs", type=int, default=8, help="fine-tuning epochs (0: no fine-tuning)")
    ap.add_argument("--ft-lr", type=float, default=0.01, help="fine-tuning learning rate")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import tempfile
    from pathlib import Path

    from neurodeploy.train.run import train_with_options

    prof = load_profile("dynapse2")
    network = load_network(a.model, profile=prof)
    task = get_task(a.task)
    data = task.data("test", seed=0)
    readout = network.readout_matrix()
    d0 = deploy(network, prof)
    cores = sorted({(c.chip, k.core) for c in d0.config.chips for k in c.cores if k.neurons})
    nominal = accuracy(EmulatorBackend(prof), d0.config, data, readout, task)
    flt = float_accuracy(network, prof, data, task)
    print(f"float model (nominal chip): {100 * flt:.1f} %; nominal board: {100 * nominal:.1f} %; cores used {cores}",
          flush=True)
    delays = network.has_delays
    print(f"{'chip':>4s} {'uncalibrated':>12s} {'no dly probe':>12s} {'map --chip':>10s} {'fine-tuned':>10s} "
          f"{'calibrate s':>11s} {'board s':>7s} {'fine-tune s':>11s}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.first, a.first + a.chips):
            path = write_hidden_chip(Path(tmp) / f"h{seed}.chip", new_hidden_chip(seed))
            hidden = EmulatorBackend(prof, hidden_chip=path)
            before = accuracy(hidden, d0.config, data, readout, task)
            t0 = time.perf_counter()
            sites = np.concatenate([probe_sites(prof, chips=(c,), cores=(k,)) for c, k in cores])
            cp, *_ = calibrate(EmulatorBackend(prof, hidden_chip=path), prof, sites, backend_name="emulator")
            t_cal = time.perf_counter() - t0
            _, cfg1, _ = deploy_on_chip(network, prof, cp)
            after = accuracy(hidden, cfg1, data, readout, task)
            no_dly = None
            if delays and cp.delay_calibrated:
                _, cfg_nd, _ = deploy_on_chip(network, prof, without_delays(cp))
                no_dly = accuracy(hidden, cfg_nd, data, readout, task)
            tuned = t_ft = None
            if a.ft_epochs:
                t0 = time.perf_counter()
                out = Path(tmp) / f"ft{seed}.json"
                train_with_options(a.task, out, profile=prof, init=a.model, chip=cp, epochs=a.ft_epochs, lr=a.ft_lr,
                                   report=False, progress=False)
                t_ft = time.perf_counter() - t0
                _, cfg2, _ = deploy_on_chip(load_network(out, profile=prof), prof, cp)
                tuned = accuracy(hidden, cfg2, data, readout, task)
            rows.append({"seed": seed, "uncalibrated": before, "no_delay_probe": no_dly, "map_chip": after,
                         "fine_tuned": tuned, "calibrate_s": t_cal, "board_s": cp.provenance.board_time, "fine_tune_s": t_ft})
            ft = f"{100 * tuned:9.1f}%" if tuned is not None else f"{'-':>10s}"
            nd = f"{100 * no_dly:11.1f}%" if no_dly is not None else f"{'-':>12s}"
            print(f"{seed:4d} {100 * before:11.1f}% {nd} {100 * after:9.1f}% {ft} {t_cal:11.1f} "
                  f"{cp.provenance.board_time:7.1f} {t_ft if t_ft is not None else float('nan'):11.1f}", flush=True)
            if a.json:
                Path(a.json).write_text(json.dumps({"float": flt, "nominal": nominal, "chips": rows}, indent=1))
    for key, name in (("uncalibrated", "uncalibrated"), ("no_delay_probe", "no dly probe"), ("map_chip", "map --chip"),
                      ("fine_tuned", "fine-tuned")):
        v = np.array([r[key] for r in rows if r[key] is not None])
        if v.size:
            print(f"{name:>12s}: median {100 * np.median(v):.1f} % ({100 * (np.median(v) - flt):+.1f} points vs float), "
                  f"worst {100 * v.min():.1f} % ({100 * (v.min() - flt):+.1f} points)")
    print(f"float model {100 * flt:.1f} %, nominal board {100 * nominal:.1f} %")


if __name__ == "__main__":
    main()
