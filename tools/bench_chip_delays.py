"""Learned delays against the delays a measured chip realises after ``map --chip``, level by level.

For each model: ``map --chip`` on the chip profile (:func:`neurodeploy.calibration.placement.deploy_on_chip`), the
config decoded and run as the emulated measured chip runs it (``EmulatorBackend(chip_profile=...)``, no residual
mismatch: :meth:`~neurodeploy.backends.emulator.EmulatorBackend.measured_chip`), and every deployed entry's delay
compared with the model's delay of its synapse. Per distinct model delay: entries, the chip's delay, their relative
difference; per model: the largest and the median relative difference, ``map --chip``'s delay RMS error against
the model, and the code rounding of the retargeted stage codes — the largest relative change of a level, |Σ_i
(t_i(core) − t̄_i)| / Σ_i t̄_i over the stages it uses (t̄_i the quantizer's stage delay on the measured profile,
t_i(core) the chip's, :func:`neurodeploy.calibration.apply.chip_stage_delays`).

    python tools/bench_chip_delays.py CHIP.yaml MODEL.json [MODEL.json ...] [--json FILE]
    python tools/bench_chip_delays.py --synthetic-chip [--without-delay-stages] CHIP.yaml
        # writes the 4-core chip of tests/test_train_chip_delays.py (C_dly −20 … +30 % off nominal)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

#: C_dly0..2 of each (chip, core) of the synthetic chip relative to the nominal profile's (tests/test_train_chip_delays.py)
RATIOS = {(0, 0): (1.30, 1.15, 0.85), (0, 1): (0.80, 0.90, 1.25), (0, 2): (1.0, 1.1, 1.0), (0, 3): (1.1, 0.95, 1.05)}


def synthetic_chip(path, profile, delays: bool = True) -> None:
    """Write a chip profile of four cores with nominal neurons and (``delays``: delay-calibrated) C_dly,i =
    RATIOS·nominal; C_mem, C_ref, C_pulse 1.01 × nominal."""
    import hashlib

    from neurodeploy.device.chip_profile import ChipProfile, write_chip_profile

    a, data, n = profile.analog, b"synthetic chip", 8
    cores = [{"chip": c, "core": k, "neurons": list(range(n)),
              "constants": {**{m: {"value": getattr(a, m) * 1.01, "sigma": 0.01} for m in ("C_mem", "C_ref", "C_pulse")},
                            **{f"C_dly{i}": {"value": getattr(a, f"C_dly{i}") * r[i], "sigma": 0.01}
                               for i in range(3) if delays}},
              "factors": {f: [1.0] * n for f in ("tau_mem", "dc_drive", "t_ref", "ampa_drive")},
              "sigma": {f: [0.0] * n for f in ("tau_mem", "dc_drive", "t_ref", "ampa_drive")}}
             for (c, k), r in RATIOS.items()]
    cp = ChipProfile.model_validate({
        "device_profile": {"name": profile.name, "sha256": profile.sha256},
        "provenance": {"backend": "emulator", "probe_set": "synthetic", "neurodeploy_version": "0", "board_time": 0.0},
        "probe_data": {"file": os.path.basename(str(path)) + ".probes.npz", "sha256": hashlib.sha256(data).hexdigest()},
        "delay_calibrated": delays, "cores": cores})
    write_chip_profile(path, cp, data)


def measure(model_path, cp, profile) -> dict:
    """The comparison of one model (module doc)."""
    from neurodeploy.backends.emulator import EmulatorBackend
    from neurodeploy.calibration.apply import chip_stage_delays, measured_profile, stage_delays
    from neurodeploy.calibration.placement import deploy_on_chip, network_sites
    from neurodeploy.device.delays import levels
    from neurodeploy.importers import load_network
    from neurodeploy.sim.mismatch import mismatched_delay

    network = load_network(model_path, profile=profile)
    d, cfg, _ = deploy_on_chip(network, profile, cp)
    backend = EmulatorBackend(profile, chip_profile=cp)
    backend.load(cfg)
    backend.run({"spikes": np.zeros((1, 4, network.n_inputs), np.float32), "dt": network.dt})
    em = backend.emulator
    chip = np.asarray(mismatched_delay(*backend.measured_chip(em)), np.float64)
    dec = em.decoded
    where = np.array([dec.index_of(*map(int, s)) for s in network_sites(cfg, network)])
    first = np.cumsum([0] + [p.size for p in network.populations])
    offset = {p.name: int(first[i]) for i, p in enumerate(network.populations)}
    want = {}
    for k, pr in enumerate(network.projections):
        pre, post, _ = network.projection_coo(k)
        src = pre if pr.source == "input" else network.n_inputs + where[offset[pr.source] + pre]
        want.update(zip(zip(src.tolist(), where[offset[pr.target] + post].tolist()), network.projection_delay(k)))
    model = np.array([want[s, t] for s, t in zip(dec.src.tolist(), dec.dst.tolist())])
    on = model > 0
    rel = np.abs(chip[on] / model[on] - 1)
    measured = measured_profile(profile, cp)
    chosen, real = stage_delays(d.config, measured), chip_stage_delays(cfg, cp, measured)
    rounding = max(float(np.max(np.abs(levels(real[k])[1:] / levels(chosen[k])[1:] - 1))) for k in real)
    rows = []
    for v in np.unique(np.round(model[on], 9)):
        sel = on & np.isclose(model, v, rtol=0, atol=1e-9)
        rows.append({"model_ms": v * 1e3, "entries": int(sel.sum()), "chip_ms": float(np.mean(chip[sel]) * 1e3),
                     "relative": float(np.max(np.abs(chip[sel] / model[sel] - 1)))})
    return {"model": str(model_path), "delayed_entries": int(on.sum()), "max_relative": float(rel.max(initial=0.0)),
            "median_relative": float(np.median(rel)) if rel.size else 0.0,
            "map_delay_rms_error_s": d.report["delays"]["rms_error_s"], "code_rounding": rounding, "levels": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chip", help="chip profile (delay-calibrated)")
    ap.add_argument("models", nargs="*", help="model.json files")
    ap.add_argument("--synthetic-chip", action="store_true", help="write the synthetic chip profile to CHIP and exit")
    ap.add_argument("--without-delay-stages", action="store_true",
                    help="with --synthetic-chip: the same chip profile without C_dly0..2 (delay_calibrated false)")
    ap.add_argument("--profile", default="dynapse2")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    from neurodeploy.device.chip_profile import load_chip_profile
    from neurodeploy.device.profile import load_profile

    profile = load_profile(args.profile)
    if args.synthetic_chip:
        synthetic_chip(args.chip, profile, delays=not args.without_delay_stages)
        print(f"wrote {args.chip}")
        return 0
    cp = load_chip_profile(args.chip)
    out = [measure(m, cp, profile) for m in args.models]
    print(f"{'model':32s} {'model delay':>12s} {'entries':>8s} {'chip delay':>12s} {'rel. diff':>9s}")
    for r in out:
        for lv in r["levels"]:
            print(f"{os.path.basename(r['model']):32s} {lv['model_ms']:9.4f} ms {lv['entries']:8d} "
                  f"{lv['chip_ms']:9.4f} ms {100 * lv['relative']:8.3f}%")
        print(f"{'':32s} max {100 * r['max_relative']:.3f} %, median {100 * r['median_relative']:.3f} % over "
              f"{r['delayed_entries']} delayed entries; map --chip delay RMS error {r['map_delay_rms_error_s']:.3g} s; "
              f"code rounding {100 * r['code_rounding']:.3f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
