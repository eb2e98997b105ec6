"""Pictures for ``map --plot DIR`` and ``verify --plot DIR`` (matplotlib, an optional extra).

matplotlib is imported only here and only when a plot is asked for; without it the command fails
with one line saying how to install it. Figures are written as PNG (fixed size and dpi, no
timestamps in the metadata, so the same data give the same files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import NeurodeployError

_PNG_META = {"Software": None}


def require_matplotlib():
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or a one-line error."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NeurodeployError("--plot needs matplotlib: pip install matplotlib") from None
    return plt


def _save(fig, path: Path) -> Path:
    import io

    from .fileio import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata=_PNG_META)
    fig.clf()
    return atomic_write_bytes(path, buf.getvalue())


def core_usage(cfg, profile) -> list[dict]:
    """Per configured core: neurons, CAM entries used (of neurons × 64) and SRAM entries used (of × 4)."""
    g = profile.geometry
    rows = []
    for chip in cfg.chips:
        for core in chip.cores:
            n = len(core.neurons)
            cam = sum(len(x.synapses) for x in core.neurons)
            sram = sum(len(x.destinations) for x in core.neurons)
            rows.append({"chip": chip.chip, "core": core.core, "neurons": n,
                         "cam": cam / max(n * g.cam_entries_per_neuron, 1), "sram": sram / max(n * g.sram_entries_per_neuron, 1)})
    return rows


def map_plots(report: dict, cfg, profile, out_dir) -> list[Path]:
    """``map --plot``: per-core relative weight error (vs the best uniform grid) and CAM/SRAM use per core."""
    plt = require_matplotlib()
    out = Path(out_dir)
    per_core = report.get("weights", {}).get("per_core", [])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if per_core:
        x = np.arange(len(per_core))
        ax.bar(x - 0.2, [100 * c["weight_error"] for c in per_core], 0.4, label="neurodeploy")
        ax.bar(x + 0.2, [100 * c["uniform_grid_error"] for c in per_core], 0.4, label="best uniform 1-2-4-8 grid")
        ax.set_xticks(x, [str(c["core"]) for c in per_core])
    ax.set_xlabel("logical core")
    ax.set_ylabel("relative RMS weight error (%)")
    ax.set_title(f"weight quantization: overall {100 * report.get('weights', {}).get('relative_rms_error', 0):.2f} %")
    ax.legend()
    fig.tight_layout()
    paths = [_save(fig, out / "map_weight_error.png")]
    usage = core_usage(cfg, profile)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(usage))
    ax.bar(x - 0.2, [100 * u["cam"] for u in usage], 0.4, label="CAM (fan-in)")
    ax.bar(x + 0.2, [100 * u["sram"] for u in usage], 0.4, label="SRAM (fan-out)")
    ax.set_xticks(x, [f"{u['chip']}.{u['core']}" for u in usage])
    ax.set_xlabel("chip.core")
    ax.set_ylabel("entries used (% of the core's neurons' capacity)")
    ax.set_ylim(0, 105)
    ax.legend()
    fig.tight_layout()
    paths.append(_save(fig, out / "map_memory_use.png"))
    plt.close("all")
    return paths


def verify_plots(report: dict, pictures: dict, out_dir) -> list[Path]:
    """``verify --plot``: output rasters float vs deployed (first sample), per-output rate scatter (every
    sample, nominal deployment), accuracy across mismatched boards (with labels)."""
    plt = require_matplotlib()
    out = Path(out_dir)
    dt = report["dt"]
    names = report["outputs"]
    paths = []
    fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    for ax, key, title in ((axes[0], "reference_raster", "float network (nominal chip)"),
                           (axes[1], "deployed_raster", "deployed config (emulator, nominal board)")):
        t, n = np.nonzero(pictures[key])
        ax.scatter(t * dt, n, s=80, marker="|", linewidths=1)
        ax.set_xlim(0, report["steps"] * dt)
        win = report.get("window")
        if win and win.get("source") != "whole trial":        # the read-out window: the spikes verify counts
            ax.axvspan(win["start"] * dt, win["stop"] * dt, color="0.9", zorder=0)
        ax.set_ylim(-0.5, len(names) - 0.5)
        ax.set_yticks(range(len(names)), names)
        ax.set_title(title, fontsize=9)
    axes[1].set_xlabel("time (s)")
    fig.tight_layout()
    paths.append(_save(fig, out / "verify_rasters.png"))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    win = report.get("window")
    dur = (win["stop"] - win["start"] if win else report["steps"]) * dt
    ref, dep = pictures["reference_counts"] / dur, pictures["deployed_counts"] / dur
    ax.scatter(ref.ravel(), dep.ravel(), s=8)
    hi = max(float(ref.max(initial=0)), float(dep.max(initial=0)), 1.0)
    ax.plot([0, hi], [0, hi], "k--", lw=0.8)
    ax.set_xlabel("float network rate (Hz)")
    ax.set_ylabel("deployed rate (Hz)")
    ax.set_title("per output and sample", fontsize=9)
    fig.tight_layout()
    paths.append(_save(fig, out / "verify_rates.png"))
    acc = pictures.get("accuracy_per_board")
    if acc is not None and len(acc):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.hist(100 * np.asarray(acc), bins=min(20, max(len(acc) // 2, 5)))
        ax.axvline(100 * report["reference_accuracy"], color="k", ls="--", label="float, nominal")
        ax.set_xlabel("accuracy of a mismatched deployed board (%)")
        ax.set_ylabel("boards")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, out / "verify_accuracy.png"))
    plt.close("all")
    return paths


def yield_plots(summary: dict, per_board: list[dict], out_dir) -> list[Path]:
    """``yield --plot``: the distribution over boards of the judged metric, and the yield against its tolerance."""
    plt = require_matplotlib()
    out = Path(out_dir)
    key = "accuracy" if "accuracy" in per_board[0] else "rate_correlation"
    v = np.array([m[key] for m in per_board], float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(v, bins=min(40, max(5, len(v) // 10)), color="tab:blue")
    ax.set_xlabel(key.replace("_", " ") + " of a mismatched board")
    ax.set_ylabel("boards")
    ax.set_title(f"{summary['boards']} boards at σ = {summary['mismatch_sigma']:.0%}: yield {summary['yield']['fraction']:.1%}",
                 fontsize=9)
    fig.tight_layout()
    paths = [_save(fig, out / "histogram.png")]
    plt.close(fig)
    sweep = summary["yield_vs_tolerance"]
    tol = [s for s in sweep[0] if s != "yield"][0]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([s[tol] for s in sweep], [100 * s["yield"] for s in sweep], "o-")
    ax.set_xlabel(tol.replace("_", " ") + (" (tolerance, ≤)" if tol == "accuracy_drop" else " (threshold, ≥)"))
    ax.set_ylabel("yield (% of boards passing)")
    ax.set_ylim(0, 105)
    fig.tight_layout()
    paths.append(_save(fig, out / "yield_vs_tolerance.png"))
    plt.close(fig)
    return paths
