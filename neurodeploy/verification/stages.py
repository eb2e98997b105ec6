"""Which stage of a deployment loses a failed ``verify`` gate: quantization, mismatch or delay mismatch.

With a gate's loss L in a block of the report (0: as good as the reference; larger: worse) —

    accuracy_drop:        L = reference accuracy − median accuracy
    rate_correlation:     L = 1 − median r
    relative_rate_error:  L = median relative rate error

— the stages are quantization = L(quantization only), mismatch = L(quantization + mismatch) − L(quantization
only) and, for a configuration with synaptic delays, delay mismatch = L(quantization + mismatch) − L(the same
boards with every delay at its nominal value, :func:`boards_nominal_delays`), which is then taken out of the
mismatch. They add up to the gate's value (up to the report's rounding).
"""

from __future__ import annotations

import numpy as np


def boards_nominal_delays(cfg, profile, x, dt, sigma: float, seeds: list[int], counts, unit_size: int, chip=None,
                          precise_timing: bool = False, lateness=None):
    """Output counts [len(seeds), B, n_out] of the boards drawn from ``seeds`` with every delay factor 1 (the
    other factors those boards draw), or None when the config has no delays. ``chip``: the boards are that
    measured chip (``profile`` its measured profile), as :meth:`~neurodeploy.backends.emulator.Emulator.run_boards`;
    ``precise_timing``: with precise spike timing (and ``lateness``, the inputs'), as the boards they are compared with."""
    from ..backends.emulator import Emulator

    emu = Emulator(cfg, profile, dt=dt, precise_timing=precise_timing)
    if emu.net.delay is None:
        return None
    return np.concatenate([counts(emu.run_boards(x, dt, sigma, seeds[i:i + unit_size], chip=chip,
                                                  nominal_delays=True, lateness=lateness).outputs)
                           for i in range(0, len(seeds), unit_size)])


#: Stages a gate can be lost at, in the order a deployment passes them.
STAGES = ("quantization", "mismatch", "delay_mismatch")


def _loss(name: str, block: dict, report: dict) -> float | None:
    """A gate's loss in one block (0: as good as the reference; larger: worse), None when not measurable."""
    if name == "accuracy_drop":
        return report["reference_accuracy"] - block["accuracy"]["median"]
    if name == "rate_correlation":
        r = block["rate_correlation"]["median"]
        return None if r is None else 1.0 - r
    if name == "relative_rate_error":
        return block["relative_rate_error"]["median"]
    return None


def attribute_stages(checks: list[dict], report: dict) -> None:
    """Give every failed gate of ``checks`` its loss per stage (module doc), in the gate's units, and a note
    naming the stage that loses the most. Needs the emulated blocks; a board's report is left as it is."""
    if "board" in report or "quantization_and_mismatch" not in report:
        return
    q, full = report["quantization_only"], report["quantization_and_mismatch"]
    nd = report.get("quantization_and_mismatch_nominal_delays")
    for c in checks:
        if c["passed"] or c["name"] not in ("accuracy_drop", "rate_correlation", "relative_rate_error"):
            continue
        lq, lf = _loss(c["name"], q, report), _loss(c["name"], full, report)
        if lq is None or lf is None:
            continue
        if nd is not None:
            ln = _loss(c["name"], nd, report)
            stages = {"quantization": lq, "mismatch": ln - lq, "delay_mismatch": lf - ln}
        else:
            stages = {"quantization": lq, "mismatch": lf - lq}
        stages = {k: round(float(v), 4) for k, v in stages.items()}
        worst = max(stages, key=stages.get)
        c["stages"] = stages
        c["lost_at"] = worst
        note = f"lost at {worst.replace('_', ' ')} (" + ", ".join(f"{k.replace('_', ' ')} {v:+.3f}"
                                                                   for k, v in stages.items()) + ")"
        c["note"] = f"{c['note']}; {note}" if "note" in c else note
