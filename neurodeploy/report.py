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
        "  membrane feedback (fractions of I_spkthr): " + "  ".join(
            f"{k}={getattr(a, k):.4g}" for k in ("feedback_gain", "feedback_threshold", "feedback_norm")),
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


def _pct(x) -> str:
    return f"{100 * x:.2f} %"


def format_quantize_summary(r: dict) -> str:
    w = r.get("weights", {})
    out = [
        f"weights   relative RMS error {_pct(w.get('relative_rms_error', 0))} over {w.get('synapses', 0)} synapses "
        f"(best uniform 1-2-4-8 grid: {_pct(w.get('uniform_grid_error', 0))}); spare entries used {w.get('spare_entries_used', 0)}, "
        f"NMDA-scale entries {w.get('nmda_scale_entries', 0)}, quantized to zero {w.get('quantized_to_zero', 0)}",
    ]
    d = r.get("delays")
    if d:
        out.append(f"delays    RMS error {1e3 * d['rms_error_s']:.3g} ms (max {1e3 * d['max_error_s']:.3g} ms, "
                   f"{_pct(d['relative_rms_error'])}) over {d['delayed']} delayed of {d['synapses']} synapses on "
                   f"{len(d['per_core'])} core(s) (best uniform choice of the 3 delay biases: "
                   f"{1e3 * d['uniform_rms_error_s']:.3g} ms); {d.get('model', 'uncalibrated').split(' (')[0]} delay model")
    b = r.get("biases", {})
    if b:
        worst = max(b.items(), key=lambda kv: kv[1]["max_rel_error"])
        out.append(f"biases    worst {worst[0]} ({worst[1]['parameter']}) {_pct(worst[1]['max_rel_error'])} at "
                   f"{worst[1]['worst_neuron']}; median over all {_pct(max(v['median_rel_error'] for v in b.values()))} or better")
    if r.get("pruned"):
        p = r["pruned"]
        out.append(f"pruned    {p['synapses']} synapses ({_pct(p['weight_mass_dropped'])} of the weight mass) at neurons "
                   f"{', '.join(p['neurons'][:5])}{'…' if len(p['neurons']) > 5 else ''}")
    if r.get("clustered_cores"):
        out.append(f"clustered cores {r['clustered_cores']}: neurons with differing parameters share biases "
                   f"(errors under 'biases')")
    return "\n".join(out)


def format_map_summary(r: dict) -> str:
    p = r.get("placement", {})
    out = [
        f"placed    {p.get('neurons', 0)} neurons on {p.get('cores', 0)} cores of {p.get('chips', 0)} chip(s)",
        f"memory    CAM {p.get('cam_entries', 0)} entries ({_pct(p.get('cam_utilisation', 0))}), SRAM "
        f"{p.get('sram_entries', 0)} ({_pct(p.get('sram_utilisation', 0))}), tags {p.get('tags_used', 0)} "
        f"(max {p.get('max_sources_per_core', 0)} sources on one core)",
        format_quantize_summary(r),
    ]
    if r.get("cam_defects"):
        c = r["cam_defects"]
        out.append(f"defects   CAM profiles for chips {c['chips']}: skipped {c['bad_slots_skipped']} bad slots, "
                   f"dropped {c['spare_entries_dropped']} spare entries")
    return "\n".join(out)


def format_verify(report: dict) -> str:
    """The report as text that fits 100 columns: a row per block (median / worst 5 % of boards), then the checks."""
    lines = [f"verify: {report['samples']} samples × {report['steps']} steps (dt {report['dt']:g} s), "
             f"{report['trials']} mismatch trials at σ = {report['mismatch_sigma']:.0%}"
             + (", precise spike timing" if report.get("precise_timing") else "")]
    if "chip_profile" in report:
        c = report["chip_profile"]
        lines += [f"chip profile: {c['file'] or '(in memory)'}, sha256 {c['sha256']}",
                  f"  the deployed boards: this measured chip, with a residual mismatch σ = {c['residual_sigma']:.0%}"]
    if "window" in report:
        lines.append(f"read-out window: {report['window']['description']}")
    if report.get("input", {}).get("form") == "spike times":
        i = report["input"]
        late = f"; {i['spikes_after_end']} in the last step arrive after the end" if i.get("spikes_after_end") else ""
        lines.append(f"input: {i['spikes']} spike times, {i['timing']}{late}")
    lines.append("reference output rates (Hz): " + ", ".join(f"{r:.1f}" for r in report["reference_rates_hz"]))
    has_acc = "reference_accuracy" in report
    if has_acc:
        lines.append(f"reference accuracy {report['reference_accuracy']:.1%}"
                     + (f", FRR {report['reference_firing_rate_ratio']:.2f}" if "reference_firing_rate_ratio" in report else "")
                     + (f" (over the samples with a class; {report['samples_without_class']} without one left out)"
                        if report.get("samples_without_class") else ""))
    head1 = f"  {'':24s} {'rate r':>15s} {'|Δrate| (Hz)':>15s} {'rate err':>9s}"
    head2 = f"  {'(median / worst 5 %)':24s} {'':>15s} {'':>15s} {'median':>9s}"
    if has_acc:
        head1 += f" {'accuracy':>15s} {'FRR':>6s}"
        head2 += f" {'':>15s} {'median':>6s}"
    lines += [head1, head2]
    chip = "chip_profile" in report         # the boards are a measured chip (its constants, then its factors too)
    for key, label in (("quantization_only", "on the chip's constants" if chip else "quantization only"),
                       ("mismatch_only", "float + mismatch"),
                       ("quantization_and_mismatch", "measured chip + residual" if chip else "quantization + mismatch"),
                       ("quantization_and_mismatch_nominal_delays", "  … with nominal delays"),
                       ("board", "board (one real chip)")):
        if key not in report:
            continue
        b = report[key]
        rc = b["rate_correlation"]
        r_text = (f"{rc['median']:7.3f} / {rc['worst_5pct']:<5.3f}" if rc["median"] is not None else f"{'n/a':>15s}")
        row = (f"  {label:24s} {r_text}"
               f" {b['rate_difference_hz']['median']:7.2f} / {b['rate_difference_hz']['worst_5pct']:<5.1f}"
               f" {b['relative_rate_error']['median']:9.3f}")
        if has_acc:
            row += f" {b['accuracy']['median']:6.1%} / {b['accuracy']['worst_5pct']:<6.1%}"
            if "firing_rate_ratio" in b:
                row += f" {b['firing_rate_ratio']['median']:6.2f}"
        lines.append(row.rstrip())
    for c in report["checks"]:
        if c.get("applicable", True) is False:
            lines.append(f"  [n/a ] {c['name']} — {c['note']}")
            continue
        mark = "ok  " if c["passed"] else "FAIL"
        lines.append(f"  [{mark}] {c['name']} = {c['value']} (limit {c['limit']}){'  — ' + c['note'] if 'note' in c else ''}")
    lines.append("PASS" if report["passed"] else "FAIL")
    return "\n".join(lines)
