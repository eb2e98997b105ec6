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
        # writes the 4-core chip of tests/chips.py (C_dly −20 … +30 % off nominal)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

def synthetic_chip(path, profile, delays: bool = True) -> None:
    """Write the synthetic chip profile of tests/chips.py (and its placeholder probe data) to ``path``."""
    from neurodeploy.device.chip_profile import write_chip_profile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))    # tests/chips.py: the synthetic chip
    from chips import PROBE_DATA, synthetic_chip as chip

    write_chip_profile(path, chip(profile, delays, probe_file=os.path.basename(str(path)) + ".probes.npz"), PROBE_DATA)


def measure(model_path, cp, profile) -> dict:
    """The comparison of one model (module doc)."""
    from neurodeploy.calibration.delay_check import deployed_delays
    from neurodeploy.importers import load_network

    model, chip, rounding, report = deployed_delays(load_network(model_path, profile=profile), profile, cp)
    on = model > 0
    rel = np.abs(chip[on] / model[on] - 1)
    rows = []
    for v in np.unique(np.round(model[on], 9)):
        sel = on & np.isclose(model, v, rtol=0, atol=1e-9)
        rows.append({"model_ms": v * 1e3, "entries": int(sel.sum()), "chip_ms": float(np.mean(chip[sel]) * 1e3),
                     "relative": float(np.max(np.abs(chip[sel] / model[sel] - 1)))})
    return {"model": str(model_path), "delayed_entries": int(on.sum()), "max_relative": float(rel.max(initial=0.0)),
            "median_relative": float(np.median(rel)) if rel.size else 0.0,
            "map_delay_rms_error_s": report["rms_error_s"], "code_rounding": rounding, "levels": rows}


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
