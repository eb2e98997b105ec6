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
        raise NeurodeployError("--plot needs matplotlib: pip install 'neurodeploy[plots]' (or pip install matplotlib)") from None
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
        ax.set_ylim(-0.5, len(names) - 0.5)
        ax.set_yticks(range(len(names)), names)
        ax.set_title(title, fontsize=9)
    axes[1].set_xlabel("time (s)")
    fig.tight_layout()
    paths.append(_save(fig, out / "verify_rasters.png"))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    dur = report["steps"] * dt
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
