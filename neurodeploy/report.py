"""Human-readable summaries (text tables) of profiles and pipeline reports."""

from __future__ import annotations


def format_profile(prof) -> str:
    g, a, bg = prof.geometry, prof.analog, prof.bias_generator
    out = [
        f"profile {prof.name}  ({prof.source})",
        f"  sha256 {prof.sha256[:16]}…",
        f"  {prof.description}",
        "",
        "geometry and limits",
        f"  cores per chip          {g.cores_per_chip}",
        f"  neurons per core        {g.neurons_per_core}",
        f"  CAM entries per neuron  {g.cam_entries_per_neuron}  (fan-in)",
        f"  SRAM entries per neuron {g.sram_entries_per_neuron}  (fan-out destinations)",
        f"  tags                    {g.n_tags}",
        f"  hop range               ±{g.max_hop}",
        f"  max chips per board     {g.max_chips}",
        "",
        "dendrites  " + ", ".join(f"{k} ({v.sign}, samna {v.samna_value})" for k, v in prof.dendrites.items()),
        "",
        "analog model constants" + ("" if a.calibrated else "  [UNCALIBRATED model values — override with a calibrated profile]"),
        "  " + "  ".join(f"{k}={getattr(a, k):.4g}" for k in ("C_mem", "C_ampa", "C_nmda", "C_gaba", "C_shunt")),
        "  " + "  ".join(f"{k}={getattr(a, k):.4g}" for k in ("C_ahp", "C_ref", "C_pulse", "C_pulse_ahp")),
        "  " + "  ".join(f"{k}={getattr(a, k):.4g}" for k in ("I_0", "U_T", "kappa_n", "kappa_p", "V_th")),
        "",
        f"bias generator: {bg.coarse_levels} coarse x {bg.fine_levels} fine; scale mode '{bg.scale_mode}'",
        "",
        f"  {'parameter':18s} {'type':4s} {'geom':7s} {'quantity':12s} {'default':>9s} {'default (A)':>11s} {'range (A)':>21s}  meaning",
    ]
    for name, p in prof.parameters.items():
        lo, hi = prof.bias.range(name)
        if p.default is not None:
            d = f"({p.default[0]},{p.default[1]})"
            dc = f"{float(prof.bias.to_current(name, *p.default)):.3e}"
        else:
            d, dc = "samna", "-"
        out.append(f"  {name:18s} {p.type:4s} {p.geometry or '-':7s} {p.quantity or '-':12s} {d:>9s} {dc:>11s} "
                   f"{lo:9.2e} .. {hi:9.2e}  {p.meaning}")
    return "\n".join(out)
