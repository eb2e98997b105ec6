"""Derive the profile's default (coarse, fine) codes from physical default values.

Maintenance script: prints, for each modelled parameter, the code nearest to a default chosen
in physical units (time constants, gain ratios, pulse widths — the usual DPI modelling defaults:
τ_mem 20 ms, τ_syn 10 ms, τ_ahp 50 ms, gain ratio 4 (membrane) / 100 (synapses), t_ref 1 ms,
t_pulse 10 µs, t_pulse_ahp 1 µs, I_spkthr 100 nA, base weights 1/2/4/8 nA), and with
``--write`` rewrites the ``default: [c, f]`` fields of the YAML in place.

    python tools/derive_default_codes.py [--write] [profile.yaml]
"""

import re
import sys
from pathlib import Path

from neurodeploy.device.profile import load_profile, _resolve


def physical_defaults(p):
    a = p.analog
    tau = p.tau_to_current
    d = {
        "Itau_mem": tau(20e-3, "C_mem"),
        "Iref": p.pulse_to_current(1e-3, "C_ref"),
        "Ispkthr": 1e-7,
        "Idc": a.I_0,
        "If_nmda": a.I_0,
        "Ipulse": p.pulse_to_current(10e-6, "C_pulse"),
        "Ipulse_ahp": p.pulse_to_current(1e-6, "C_pulse_ahp"),
        "Itau_ahp": tau(50e-3, "C_ahp"),
        "Iw_ahp": a.I_0,
        "Iw_0": 1e-9, "Iw_1": 2e-9, "Iw_2": 4e-9, "Iw_3": 8e-9,
    }
    d["Igain_mem"] = 4 * d["Itau_mem"]
    d["Igain_ahp"] = d["Itau_ahp"]
    for syn in ("ampa", "nmda", "gaba", "shunt"):
        d[f"Itau_{syn}"] = tau(10e-3, f"C_{syn}")
        d[f"Igain_{syn}"] = 100 * d[f"Itau_{syn}"]
    return d


def main(argv):
    write = "--write" in argv
    args = [a for a in argv if a != "--write"]
    path = _resolve(args[0] if args else "dynapse2")
    p = load_profile(path)
    text = path.read_text()
    for q, target in physical_defaults(p).items():
        pname = p.quantity_to_parameter[q]
        conv = p.bias.to_code(pname, target, clip=True)
        c, f = int(conv.coarse), int(conv.fine)
        print(f"{pname:15s} {q:12s} target {target:10.4g} A -> ({c}, {f:3d}) = {float(conv.current):10.4g} A  err {float(conv.rel_error):+.2%}")
        text = re.sub(rf"(\n  {pname}:.*?default: )\[\d+, *\d+\]", rf"\g<1>[{c}, {f}]", text, count=1)
    if write:
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
