"""Benchmark: load + validate a full-board hardware config (4 chips x 4 cores x 256 neurons x 64 CAM entries).

    python tools/bench_config.py [--repeat 5] [--keep PATH]

Builds a 4096-neuron config (every CAM slot used: 262 144 entries, 4 destinations per neuron, all modelled
parameters set on every core, a placement record for all neurons), saves it, then times each step of
``neurodeploy validate``: reading the JSON, pydantic validation with the cross-field rules
(``load_config``), the checks against the profile, and the whole ``validate_file``. Target: well under 1 s.
Exits 1 if ``validate_file`` takes 1 s or more (median).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build_raw(seed: int = 0) -> dict:
    from neurodeploy import __version__
    from neurodeploy.device.profile import load_profile

    prof = load_profile("dynapse2")
    rng = np.random.default_rng(seed)
    dendrites = ["ampa", "gaba", "nmda", "shunt"]
    masks = [format(i, "04b") for i in range(1, 16)]
    params = {n: {"coarse": prof.parameters[n].default[0], "fine": prof.parameters[n].default[1]}
              for n in prof.modelled_parameters}
    positions = [(0, 0), (1, 0), (0, 1), (1, 1)]
    chips = []
    pl_chip, pl_core, pl_neuron = [], [], []
    for c, pos in enumerate(positions):
        cores = []
        for k in range(4):
            neurons = []
            tags = rng.integers(0, 2048, size=(256, 64))
            dsel = rng.integers(0, 4, size=(256, 64))
            msel = rng.integers(0, 15, size=(256, 64))
            for n in range(256):
                syn = [[int(tags[n, j]), dendrites[dsel[n, j]], masks[msel[n, j]]] for j in range(64)]
                dst = []
                for j, (tx, ty) in enumerate(positions):
                    dst.append({"tag": int((c * 1024 + k * 256 + n) % 2048), "core": [True, j % 2 == 0, False, True],
                                "x_hop": tx - pos[0], "y_hop": ty - pos[1]})
                neurons.append({"neuron": n, "latch_so_dc": bool(n % 7 == 0), "synapses": syn, "destinations": dst})
                pl_chip.append(c)
                pl_core.append(k)
                pl_neuron.append(n)
            cores.append({"core": k, "parameters": params, "neurons": neurons})
        chips.append({"chip": c, "position": list(pos), "cores": cores})
    return {
        "format": "neurodeploy.config/1",
        "profile": {"name": "dynapse2", "sha256": prof.sha256},
        "neurodeploy_version": __version__,
        "source_model_sha256": "0" * 64,
        "seed": seed,
        "chips": chips,
        "inputs": [{"channel": i, "destinations": [{"chip": 0, "tag": 1024 + i, "core": [True, True, False, False]}]}
                   for i in range(60)],
        "outputs": [{"name": f"out[{i}]", "chip": 3, "core": 3, "neuron": 254 + i} for i in range(2)],
        "placement": [{"population": "hidden", "chip": pl_chip, "core": pl_core, "neuron": pl_neuron}],
        "metadata": {"benchmark": "tools/bench_config.py"},
    }


def timed(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, help="also write the config here")
    args = ap.parse_args(argv)

    from neurodeploy.config.config_json import config_from_dict, load_config
    from neurodeploy.device.profile import load_profile
    from neurodeploy.rules import check_config_profile as check_config_against_profile
    from neurodeploy.validate import validate_file

    prof = load_profile("dynapse2")
    t0 = time.perf_counter()
    raw = build_raw()
    t_build = time.perf_counter() - t0
    cfg, t_model = timed(lambda: config_from_dict(raw, "<bench>"), 1)
    with tempfile.TemporaryDirectory() as d:
        path = Path(args.keep) if args.keep else Path(d) / "config.json"
        _, t_save = timed(lambda: cfg.save(path), 1)
        size = path.stat().st_size
        _, t_json = timed(lambda: json.loads(path.read_text()), args.repeat)
        cfg2, t_load = timed(lambda: load_config(path), args.repeat)
        _, t_prof = timed(lambda: check_config_against_profile(cfg2, prof), args.repeat)
        res, t_val = timed(lambda: validate_file(path), args.repeat)
        same = cfg2.dumps() == cfg.dumps()
    n_neurons = sum(len(k.neurons) for c in cfg.chips for k in c.cores)
    n_cam = sum(len(n.synapses) for c in cfg.chips for k in c.cores for n in k.neurons)
    print(f"config: {len(cfg.chips)} chips, {n_neurons} neurons, {n_cam} CAM entries, {size / 1e6:.1f} MB on disk; "
          f"build {t_build:.2f} s, model {t_model[0]:.2f} s, save {t_save[0]:.2f} s; round trip identical: {same}")
    print(f"{'step (median of ' + str(args.repeat) + ')':34s} {'median':>8s} {'min':>8s}")
    rows = [("json.loads", t_json), ("load_config (pydantic + rules)", t_load),
            ("checks against the profile", t_prof), ("validate_file (all of validate)", t_val)]
    for name, ts in rows:
        print(f"{name:34s} {statistics.median(ts) * 1e3:7.0f}ms {min(ts) * 1e3:7.0f}ms")
    med = statistics.median(t_val)
    print(f"validate result: {'OK' if res.ok else 'INVALID'}; target < 1 s: {'met' if med < 1.0 else 'MISSED'}")
    return 0 if (med < 1.0 and res.ok and same) else 1


if __name__ == "__main__":
    sys.exit(main())
