"""Benchmark: calibration of hidden emulated chips (`neurodeploy chip new --seed 0..N-1`), scored against their truth.

Per chip: the hidden chip is drawn (seed s, mismatch σ 10 %), measured by the probes through load/run only and
fitted (:func:`neurodeploy.calibration.calibrate.calibrate`), then compared with the hidden truth
(:func:`neurodeploy.calibration.hidden.truth`):

* const err — median over cores and the identified constants (C_mem, C_ref, C_pulse) of |relative error|;
* dly err / d.cover — the same for the delay stages C_dly0..2 (the delay probe), and the fraction of them whose
  truth lies within the stated ±2σ; ``--delays-only`` runs the delay probe alone (no rate probes, no fit);
* r τ / r drv / r t_ref / r ampa — Pearson r of the per-neuron log-values against the truth (neurons fitted);
* cover — fraction of per-neuron values (pooled over the four factors; per factor in the JSON) and c.cover of
  core constants whose truth lies within the stated ±2σ (95 %);
* board s — chip time of the probe set (the delay probe's included); wall s — calibrate's wall time (probes on the
  emulator + fit).

Usage: python tools/bench_calibrate.py [--chips 16] [--cores 0,1,2,3] [--step 1] [--delays-only] [--json out.json]
"""

import argparse
import json
import time

import numpy as np

from neurodeploy.backends.emulator import EmulatorBackend
from neurodeploy.calibration.calibrate import calibrate, probe_sites
from neurodeploy.calibration.hidden import new_hidden_chip, truth, write_hidden_chip
from neurodeploy.device.chip_profile import DELAY_CONSTANTS, FACTORS
from neurodeploy.device.profile import load_profile


def score(chip, cp, fit, probes) -> dict:
    ok = fit["fitted"]
    tr = truth(chip, probes.sites)
    nominal = {"tau_mem": fit["tau_nom"], "t_ref": fit["t_ref_nom"], "dc_drive": 1.0, "ampa_drive": 1.0}
    out, inside = {}, []
    for i, f in enumerate(FACTORS):
        est = fit["theta"][ok, i] + np.log(nominal[f])
        true = np.log(tr["neurons"][f][ok])
        out[f"r_{f}"] = float(np.corrcoef(est, true)[0, 1])
        inside.append(np.abs(est - true) <= 2 * fit["sigma_total"][ok, i])
        out[f"cover_{f}"] = float(np.mean(inside[-1]))
    errs, c_in = [], []
    for core in cp.cores:
        sel = (probes.sites[:, 0] == core.chip) & (probes.sites[:, 1] == core.core)
        t_core = truth(chip, probes.sites[sel])["constants"]
        for name, est in core.constants.items():
            if name not in DELAY_CONSTANTS:
                rel = est.value / t_core[name] - 1
                errs.append(abs(rel))
                c_in.append(abs(np.log(est.value / t_core[name])) <= 2 * est.sigma)
    out["const_err"] = float(np.median(errs))
    out["const_cover"] = float(np.mean(c_in))
    out.update(score_delays(chip, fit.get("delays") or {}))
    out["cover"] = float(np.mean(np.concatenate(inside)))
    out["fitted"] = int(ok.sum())
    out["probed"] = int(len(ok))
    return out


def score_delays(chip, fitted: dict) -> dict:
    """|relative error| (median, max) and ±2σ coverage of the delay stages C_dly0..2 over the cores of ``fitted``
    (:func:`neurodeploy.calibration.delay_probe.fit_delays`); NaN without them."""
    errs, c_in = [], []
    for (c, k), est in fitted.items():
        t_core = truth(chip, np.array([[c, k, 0]]))["constants"]
        for name in DELAY_CONSTANTS:
            value, sigma = est[name]
            errs.append(abs(value / t_core[name] - 1))
            c_in.append(abs(np.log(value / t_core[name])) <= 2 * sigma)
    if not errs:
        return {"dly_err": float("nan"), "dly_err_max": float("nan"), "dly_cover": float("nan")}
    return {"dly_err": float(np.median(errs)), "dly_err_max": float(np.max(errs)), "dly_cover": float(np.mean(c_in))}


def delays_only(a, prof, sites):
    """The delay probe alone on each hidden chip: its scores, board and wall time."""
    import tempfile
    from pathlib import Path

    from neurodeploy.calibration.delay_probe import fit_delays, plan_delays, run_delay_probes

    print(f"{'chip':>4s} {'dly err':>8s} {'max':>7s} {'d.cover':>7s} {'board s':>7s} {'wall s':>7s}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.chips):
            chip = new_hidden_chip(seed)
            path = write_hidden_chip(Path(tmp) / f"hidden{seed}.chip", chip)
            t0 = time.perf_counter()
            probes = plan_delays(prof, sites)
            fitted = fit_delays(prof, probes, run_delay_probes(EmulatorBackend(prof, hidden_chip=path), prof, probes))
            s = {"seed": seed, **score_delays(chip, fitted), "board_time": probes.board_time,
                 "wall": time.perf_counter() - t0}
            rows.append(s)
            print(f"{seed:4d} {100 * s['dly_err']:7.2f}% {100 * s['dly_err_max']:6.2f}% {100 * s['dly_cover']:6.1f}% "
                  f"{s['board_time']:7.1f} {s['wall']:7.1f}", flush=True)
    e = np.array([r["dly_err"] for r in rows])
    print(f"median over chips: dly err {100 * np.median(e):.2f} % (worst chip {100 * e.max():.2f} %, largest single "
          f"{100 * max(r['dly_err_max'] for r in rows):.2f} %), truth inside ±2σ "
          f"{100 * np.mean([r['dly_cover'] for r in rows]):.1f} % of the stages")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", type=int, default=16)
    ap.add_argument("--cores", default="0,1,2,3")
    ap.add_argument("--step", type=int, default=1, help="probe every STEP-th neuron of a core")
    ap.add_argument("--delays-only", action="store_true", help="the delay probe alone (C_dly0..2)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import tempfile
    from pathlib import Path

    prof = load_profile("dynapse2")
    sites = probe_sites(prof, cores=[int(c) for c in a.cores.split(",")], neurons=range(0, 256, a.step))
    if a.delays_only:
        rows = delays_only(a, prof, sites)
        if a.json:
            Path(a.json).write_text(json.dumps({"chips": rows}, indent=1))
        return
    rows = []
    print(f"{'chip':>4s} {'neurons':>8s} {'const err':>9s} {'r tau':>6s} {'r drv':>6s} {'r tref':>6s} {'r ampa':>6s} "
          f"{'cover':>6s} {'c.cover':>7s} {'dly err':>7s} {'d.cover':>7s} {'board s':>7s} {'wall s':>7s}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.chips):
            chip = new_hidden_chip(seed)
            path = write_hidden_chip(Path(tmp) / f"hidden{seed}.chip", chip)
            t0 = time.perf_counter()
            cp, _, fit, probes = calibrate(EmulatorBackend(prof, hidden_chip=path), prof, sites, backend_name="emulator")
            wall = time.perf_counter() - t0
            s = {"seed": seed, **score(chip, cp, fit, probes), "board_time": cp.provenance.board_time, "wall": wall}
            rows.append(s)
            print(f"{seed:4d} {s['fitted']:4d}/{s['probed']:<4d}{100 * s['const_err']:8.2f}% {s['r_tau_mem']:6.3f} "
                  f"{s['r_dc_drive']:6.3f} {s['r_t_ref']:6.3f} {s['r_ampa_drive']:6.3f} {100 * s['cover']:5.1f}% "
                  f"{100 * s['const_cover']:6.1f}% {100 * s['dly_err']:6.2f}% {100 * s['dly_cover']:6.1f}% "
                  f"{s['board_time']:7.1f} {wall:7.1f}", flush=True)
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0] if k != "seed"}
    worst = {k: float(np.min([r[k] for r in rows])) for k in rows[0] if k.startswith("r_") or "cover" in k}
    worst["dly_err"] = float(np.max([r["dly_err"] for r in rows]))
    print(f"median: const err {100 * med['const_err']:.2f} %, r tau {med['r_tau_mem']:.3f}, r drive {med['r_dc_drive']:.3f}, "
          f"r t_ref {med['r_t_ref']:.3f}, r ampa {med['r_ampa_drive']:.3f}, cover {100 * med['cover']:.1f} %, "
          f"constants cover {100 * med['const_cover']:.1f} %, board {med['board_time']:.1f} s, wall {med['wall']:.1f} s")
    print("worst chip: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    if a.json:
        Path(a.json).write_text(json.dumps({"chips": rows, "median": med, "worst": worst}, indent=1))


if __name__ == "__main__":
    main()
