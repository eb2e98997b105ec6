"""A synthetic measured chip for the tests and tools/bench_chip_delays.py: four cores with nominal neurons whose delay
stages differ from the nominal profile's (C_dly0..2 = RATIOS·nominal, −20 … +30 %)."""

from __future__ import annotations

import hashlib

#: C_dly0..2 of each (chip, core) relative to the nominal profile's
RATIOS = {(0, 0): (1.30, 1.15, 0.85), (0, 1): (0.80, 0.90, 1.25), (0, 2): (1.0, 1.1, 1.0), (0, 3): (1.1, 0.95, 1.05)}
#: the bytes of the chip profile's probe data (none measured: a placeholder with its sha256)
PROBE_DATA = b"synthetic chip"


def synthetic_chip(profile, delays: bool = True, probe_file: str = "chip.probes.npz"):
    """The chip profile: C_mem, C_ref, C_pulse 1.01 × nominal; with ``delays`` C_dly,i = RATIOS·nominal
    (delay_calibrated), else no measured delay stages."""
    from neurodeploy.device.chip_profile import ChipProfile

    a, n = profile.analog, 8
    cores = []
    for (c, k), r in RATIOS.items():
        consts = {m: {"value": getattr(a, m) * 1.01, "sigma": 0.01} for m in ("C_mem", "C_ref", "C_pulse")}
        if delays:
            consts.update({f"C_dly{i}": {"value": getattr(a, f"C_dly{i}") * r[i], "sigma": 0.01} for i in range(3)})
        cores.append({"chip": c, "core": k, "neurons": list(range(n)), "constants": consts,
                      "factors": {f: [1.0] * n for f in ("tau_mem", "dc_drive", "t_ref", "ampa_drive")},
                      "sigma": {f: [0.0] * n for f in ("tau_mem", "dc_drive", "t_ref", "ampa_drive")}})
    return ChipProfile.model_validate({
        "device_profile": {"name": profile.name, "sha256": profile.sha256},
        "provenance": {"backend": "emulator", "probe_set": "synthetic", "neurodeploy_version": "0", "board_time": 1.0},
        "probe_data": {"file": probe_file, "sha256": hashlib.sha256(PROBE_DATA).hexdigest()},
        "delay_calibrated": delays, "cores": cores})
