"""Output spike times of the emulator: its events at dt = 1 and 0.5 ms against a dt = 0.05 ms run's.

A config of neurons on one core, neuron i with k_i AMPA CAM entries ("1111") of one input tag (k = 8 … 48: from a
few spikes per input to bursts), driven by one input whose events fall on 1 ms boundaries (``--inputs`` events at
random steps of ``--duration`` s, one raster per seed), so every dt sees the same input. Each run's events
(``EmulationResult.events()``): "bin start" without precise timing (a spike of step t at t·dt), "precise" with it
(at (t + 1)·dt − a, eq. (O1) of :mod:`neurodeploy.backends.events`). The reference is the precise run at
dt = 0.05 ms.

error = for every event of a coarse run, the distance (µs) to the nearest reference event of the same neuron;
the table gives its median, 90th percentile and the fraction within 0.1 ms over all neurons and ``--seeds``
rasters, for every event and for each neuron's first spike after an input event ("first"). Spike counts: the
coarse run's against the reference's (Σ|Δcount| / Σ count).

    python tools/bench_spike_times.py [--dts 1,0.5] [--seeds 3] [--duration 0.3] [--inputs 25] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

FINE = 5e-5                                         # s: the reference step
ENTRIES = (8, 10, 12, 16, 20, 24, 32, 40, 48)       # AMPA CAM entries of each neuron
HOST = {"tag": 0, "core": [True] * 4, "x_hop": -7}
W_STRONG = {"SYAM_W0_P": {"coarse": 5, "fine": 40}, "SYAM_W1_P": {"coarse": 3, "fine": 72},
            "SYAM_W2_P": {"coarse": 3, "fine": 150}, "SYAM_W3_P": {"coarse": 4, "fine": 36}}


def config():
    from neurodeploy.config.config_json import config_from_dict

    neurons = [{"neuron": i, "synapses": [[1, "ampa", "1111"]] * k, "destinations": [HOST]} for i, k in enumerate(ENTRIES)]
    return config_from_dict({"format": "neurodeploy.config/1", "profile": {"name": "dynapse2", "sha256": "x"},
                             "neurodeploy_version": "0",
                             "chips": [{"chip": 0, "cores": [{"core": 0, "parameters": W_STRONG, "neurons": neurons}]}],
                             "inputs": [{"channel": 0, "destinations": [{"chip": 0, "tag": 1, "core": [True, False, False, False]}]}],
                             "outputs": [{"name": f"out[{i}]", "chip": 0, "core": 0, "neuron": i} for i in range(len(ENTRIES))]})


def events(cfg, profile, steps_ms, n_ms, dt, precise):
    """The run's events (batch, µs, chip, core, neuron) for input events at ``steps_ms`` (ms) of ``n_ms`` ms."""
    from neurodeploy.backends.emulator import Emulator

    sub = int(round(1e-3 / dt))
    x = np.zeros((1, n_ms * sub, 1), np.float32)
    x[0, np.asarray(steps_ms) * sub, 0] = 1.0
    return Emulator(cfg, profile, dt=dt, precise_timing=precise).run(x, dt).events()


def errors(ev, ref, inputs_us):
    """(|Δt| to the nearest reference event of the same neuron for every event, the same for each first spike after
    an input event, Σ|Δcount|, Σ count) — µs."""
    every, first, dcount, count = [], [], 0, 0
    for n in range(len(ENTRIES)):
        a, b = ev[ev[:, 4] == n, 1], ref[ref[:, 4] == n, 1]
        dcount, count = dcount + abs(len(a) - len(b)), count + len(b)
        if not (a.size and b.size):
            continue
        j = np.clip(np.searchsorted(b, a), 1, b.size - 1) if b.size > 1 else np.zeros(a.size, int)
        d = np.minimum(np.abs(a - b[j]), np.abs(a - b[np.maximum(j - 1, 0)]))
        every += d.tolist()
        after = np.unique(np.searchsorted(a, inputs_us))        # the first spike at or after each input event
        first += d[after[after < a.size]].tolist()
    return np.array(every, float), np.array(first, float), dcount, count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dts", default="1,0.5", help="coarse steps (ms)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=0.3, help="s")
    ap.add_argument("--inputs", type=int, default=25, help="input events per raster")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from neurodeploy.device.profile import load_profile

    profile, cfg = load_profile("dynapse2"), config()
    n_ms = int(round(args.duration * 1e3))
    dts = [float(v) * 1e-3 for v in args.dts.split(",")]
    acc = {(dt, p): ([], [], 0, 0) for dt in dts for p in (False, True)}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        steps = np.sort(rng.choice(np.arange(5, n_ms - 20), args.inputs, replace=False))
        ref = events(cfg, profile, steps, n_ms, FINE, True)
        for dt in dts:
            for p in (False, True):
                e, f, dc, c = errors(events(cfg, profile, steps, n_ms, dt, p), ref, steps * 1000)
                a = acc[(dt, p)]
                acc[(dt, p)] = (a[0] + e.tolist(), a[1] + f.tolist(), a[2] + dc, a[3] + c)
    rows = []
    print(f"| dt | events | all: median / p90 (µs), ≤ 0.1 ms | first after an input: median / p90 (µs), ≤ 0.1 ms "
          f"| count error |")
    print("|---|---|---|---|---|")
    for (dt, p), (e, f, dc, c) in acc.items():
        e, f = np.array(e), np.array(f)
        row = {"dt_ms": dt * 1e3, "events": "precise" if p else "bin start", "n": int(e.size),
               "median_us": float(np.median(e)), "p90_us": float(np.percentile(e, 90)),
               "within_0.1ms": float(np.mean(e <= 100)), "first_n": int(f.size), "first_median_us": float(np.median(f)),
               "first_p90_us": float(np.percentile(f, 90)), "first_within_0.1ms": float(np.mean(f <= 100)),
               "count_error": dc / max(c, 1)}
        rows.append(row)
        print(f"| {row['dt_ms']:g} ms | {row['events']} | {row['median_us']:.0f} / {row['p90_us']:.0f}, "
              f"{100 * row['within_0.1ms']:.0f} % | {row['first_median_us']:.0f} / {row['first_p90_us']:.0f}, "
              f"{100 * row['first_within_0.1ms']:.0f} % | {100 * row['count_error']:.1f} % |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"seeds": args.seeds, "duration_s": args.duration, "inputs": args.inputs, "entries": ENTRIES,
                       "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
