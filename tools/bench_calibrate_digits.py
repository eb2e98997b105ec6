"""Benchmark: deployed accuracy of a trained model on hidden chips, mapped without and with calibration.

Per hidden chip (`neurodeploy chip new --seed s`, σ 10 %): the model mapped for the nominal chip (`map`) and
mapped for the measured chip (`calibrate` on the cores the model uses, then `map --chip`: retargeted currents,
measured constants, neurons on the best-measured physical neurons), both run on the hidden board; the task's
metric on the test split. The nominal board (the nominal mapping, no mismatch) is the reference.

Usage: python tools/bench_calibrate_digits.py MODEL [--task digits] [--chips 4]
"""

import argparse
import json
import time

import numpy as np

from neurodeploy.backends.emulator import EmulatorBackend
from neurodeploy.calibration.apply import measured_profile, retarget_network
from neurodeploy.calibration.calibrate import calibrate, probe_sites
from neurodeploy.calibration.hidden import new_hidden_chip, write_hidden_chip
from neurodeploy.calibration.placement import place_on_measured
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--task", default="digits")
    ap.add_argument("--chips", type=int, default=4)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import tempfile
    from pathlib import Path

    prof = load_profile("dynapse2")
    network = load_network(a.model, profile=prof)
    task = get_task(a.task)
    data = task.data("test", seed=0)
    readout = network.readout_matrix()
    d0 = deploy(network, prof)
    cores = sorted({(c.chip, k.core) for c in d0.config.chips for k in c.cores if k.neurons})
    nominal = accuracy(EmulatorBackend(prof), d0.config, data, readout, task)
    print(f"nominal board: {100 * nominal:.1f} %; cores used {cores}", flush=True)
    print(f"{'chip':>4s} {'uncalibrated':>12s} {'map --chip':>10s} {'calibrate s':>11s}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.chips):
            path = write_hidden_chip(Path(tmp) / f"h{seed}.chip", new_hidden_chip(seed))
            hidden = EmulatorBackend(prof, hidden_chip=path)
            before = accuracy(hidden, d0.config, data, readout, task)
            t0 = time.perf_counter()
            sites = np.concatenate([probe_sites(prof, chips=(c,), cores=(k,)) for c, k in cores])
            cp, *_ = calibrate(EmulatorBackend(prof, hidden_chip=path), prof, sites, backend_name="emulator")
            t_cal = time.perf_counter() - t0
            meas = measured_profile(prof, cp)
            d1 = deploy(retarget_network(network, prof, meas), meas)
            cfg1, _ = place_on_measured(d1.config, cp, prof.geometry.neurons_per_core)
            after = accuracy(hidden, cfg1, data, readout, task)
            rows.append({"seed": seed, "uncalibrated": before, "map_chip": after, "calibrate_s": t_cal})
            print(f"{seed:4d} {100 * before:11.1f}% {100 * after:9.1f}% {t_cal:11.1f}", flush=True)
    u, c = np.array([r["uncalibrated"] for r in rows]), np.array([r["map_chip"] for r in rows])
    print(f"median: uncalibrated {100 * np.median(u):.1f} % (worst {100 * u.min():.1f} %), map --chip "
          f"{100 * np.median(c):.1f} % (worst {100 * c.min():.1f} %); nominal board {100 * nominal:.1f} %")
    if a.json:
        Path(a.json).write_text(json.dumps({"nominal": nominal, "chips": rows}, indent=1))


if __name__ == "__main__":
    main()
