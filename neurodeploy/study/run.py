"""A yield study: the distribution over many emulated boards of a deployment's fidelity, and the yield.

``run_study`` cuts the boards into fixed-size units (:mod:`.units`), computes the units the study
folder does not hold yet on an engine (:mod:`.engines`; in-process by default), and the driver writes
each finished unit atomically to ``OUT/units/unit-NNNNN.json``. ``OUT/manifest.json`` records what the
study is — the sha256 of the config, the input and the model, σ, the seed, the number of boards, the
unit size, the read-out window and the versions — so that ``resume`` recomputes only missing units and
refuses a folder made for another study. Results depend only on the manifest (never on the engine,
the number of workers or the order), so the summary of a study is the same bytes however it was run.

With ``precise_timing`` (``neurodeploy yield --precise-timing``) the reference and every board run with precise spike
timing (``neurodeploy emulate --precise-timing``; eqs. (P1)–(P4) of :mod:`neurodeploy.sim.model`); the manifest
records it, so a study is continued only as it was begun. Input spikes given by their times (``times``,
:mod:`neurodeploy.input_times`) then act at their own times too; without it they count at their steps' starts.

Yield = the fraction of boards that pass ``neurodeploy verify``'s default gates judged on that one
board (rate r ≥ 0.9, relative rate error ≤ 1.0, with labels and a model accuracy drop ≤ 0.02), with its
exact 95 % Clopper–Pearson interval (:mod:`.stats`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import StudyError
from .stats import clopper_pearson
from .units import board_metrics, board_seeds

STUDY_FORMAT = "neurodeploy.study/1"
GATES = {"rate_correlation": (">=", 0.9), "relative_rate_error": ("<=", 1.0), "accuracy_drop": ("<=", 0.02)}


def _sha(path) -> str | None:
    return None if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_manifest(config, input_path, model, *, boards: int, unit_size: int, seed: int, sigma: float, window,
                  profile, precise_timing: bool = False) -> dict:
    import jax

    from .. import __version__

    return {"format": STUDY_FORMAT, "config_sha256": _sha(config), "input_sha256": _sha(input_path),
            "model_sha256": _sha(model), "profile": {"name": profile.name, "sha256": profile.sha256},
            "boards": int(boards), "unit_size": int(unit_size), "seed": int(seed), "mismatch_sigma": float(sigma),
            "window": [int(window[0]), int(window[1])], **({"precise_timing": True} if precise_timing else {}),
            "versions": {"neurodeploy": __version__, "jax": jax.__version__, "numpy": np.__version__}}


def _unit_path(out: Path, u: int) -> Path:
    return out / "units" / f"unit-{u:05d}.json"


def _check_folder(out: Path, manifest: dict, resume: bool) -> None:
    from ..fileio import write_json

    path = out / "manifest.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise StudyError(f"{path}: unreadable study manifest ({e}); remove the folder or choose another -o") from None
        if not resume:
            raise StudyError(f"{out}: already holds a study; continue it with --resume, or choose another -o")
        diff = [k for k in list(manifest) + [k for k in old if k not in manifest] if old.get(k) != manifest.get(k)]
        if diff:
            raise StudyError(f"{path}: made for another study ({', '.join(f'{k}: {old.get(k)!r} → {manifest.get(k)!r}' for k in diff[:3])}); "
                             f"--resume continues only the same study: choose another -o")
    else:
        (out / "units").mkdir(parents=True, exist_ok=True)
        write_json(path, manifest)


def run_study(config_path, input_path, out, *, model_path=None, boards: int = 100, unit_size: int = 16,
              seed: int = 0, sigma: float = 0.1, window=None, profile=None, engine=None, resume: bool = False,
              progress=None, plot: bool = False, precise_timing: bool = False) -> dict:
    """Run (or continue) a study into folder ``out`` → the summary (also ``out/summary.json`` and ``.md``;
    with ``plot``, ``histogram.png`` and ``yield_vs_tolerance.png``; ``precise_timing``: module docstring)."""
    from ..compiled_programs import release_if_crowded
    from ..device.profile import load_profile
    from ..fileio import write_json, atomic_write_text
    from ..inputs import load_input, run_inputs
    from ..validate import load_checked_config
    from .engines import LocalEngine

    release_if_crowded()

    if plot:
        from ..plots import require_matplotlib

        require_matplotlib()                          # before any work: one line when matplotlib is missing
    if boards < 1 or unit_size < 1:
        raise StudyError("--boards and --unit-size must be ≥ 1")
    engine = engine or LocalEngine()
    engine.start()
    if not (np.isfinite(sigma) and sigma >= 0):
        raise StudyError(f"--mismatch: σ must be a fraction ≥ 0, got {sigma}")
    prof = profile or load_profile("dynapse2")
    cfg = load_checked_config(config_path, prof)
    data = load_input(input_path, len(cfg.inputs), model=f"the config {config_path} ($.inputs)", events=False)
    (x, late), dt = run_inputs(data, precise_timing), float(data["dt"])    # spike times: at their own times
    T = x.shape[1]
    w = (0, T) if window is None else (int(window[0]), int(window[1]))
    if not 0 <= w[0] < w[1] <= T:
        raise StudyError(f"--window {w[0]}:{w[1]}: expected 0 ≤ start < stop ≤ {T} (the input's steps)")
    out = Path(out)
    manifest = make_manifest(config_path, input_path, model_path, boards=boards, unit_size=unit_size, seed=seed,
                             sigma=sigma, window=w, profile=prof, precise_timing=precise_timing)
    _check_folder(out, manifest, resume)
    ref, labels, R = _reference(cfg, prof, x, dt, w, model_path, data, precise_timing, late)
    n_units = -(-boards // unit_size)
    todo = [u for u in range(n_units) if not _unit_path(out, u).exists()]
    duration = (w[1] - w[0]) * dt
    for u, counts in engine.map_units(cfg, prof, x, dt, w, sigma,
                                      {u: board_seeds(seed, u, unit_size, boards) for u in todo}, progress=progress,
                                      precise_timing=precise_timing, **({} if late is None else {"lateness": late})):
        seeds = board_seeds(seed, u, unit_size, boards)
        write_json(_unit_path(out, u), {"unit": u, "seeds": seeds,
                                        "boards": board_metrics(counts, ref, labels, R, duration)})
    per_board = []
    for u in range(n_units):
        rec = json.loads(_unit_path(out, u).read_text())
        per_board += [dict(m, board=u * unit_size + i, seed=s) for i, (m, s) in enumerate(zip(rec["boards"], rec["seeds"]))]
    ref_acc = None if labels is None or model_path is None else float(_accuracy(ref, labels, R))
    summary = summarise(per_board, manifest, ref_acc, config_path, input_path)
    write_json(out / "summary.json", summary)
    atomic_write_text(out / "summary.md", summary_markdown(summary))
    if plot:
        from ..plots import yield_plots

        yield_plots(summary, per_board, out)
    return summary


def _accuracy(counts, labels, R):
    from ..verification import metrics as vm

    return vm.accuracy(counts @ R, labels)


def _reference(cfg, prof, x, dt, w, model_path, data, precise_timing: bool = False, lateness=None):
    """(reference counts [B, n_out] over the window, labels or None, read-out matrix R): the float network
    when a model is given, else the nominal emulated board (either with precise spike timing if asked, and the
    inputs' ``lateness`` with spike-time inputs)."""
    labels = data.get("labels")
    if model_path is not None:
        from ..importers import load_network
        from ..sim import build_from_network, simulate

        network = load_network(model_path, profile=prof)
        net, _ = build_from_network(network, prof, precise_timing=precise_timing)
        spikes = np.asarray(simulate(net, x, None, dt=dt, input_lateness=lateness)[0])[..., network.output_indices()]
        R = network.readout_matrix()
    else:
        from ..backends.emulator import Emulator

        emu = Emulator(cfg, prof, dt=dt, precise_timing=precise_timing)
        spikes = np.asarray(emu.run(x, dt, lateness=lateness).outputs)
        R = np.eye(spikes.shape[-1])
    ref = spikes[:, w[0]:w[1]].sum(axis=1)
    if labels is not None:
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if labels.size != x.shape[0] or labels.min() < 0 or labels.max() >= R.shape[1]:
            raise StudyError(f"$.labels: expected {x.shape[0]} labels in 0..{R.shape[1] - 1}")
    return ref, labels, R


def _passes(m: dict, ref_acc, tol_acc=GATES["accuracy_drop"][1], tol_r=GATES["rate_correlation"][1],
            tol_err=GATES["relative_rate_error"][1]) -> bool:
    ok = m["rate_correlation"] >= tol_r and m["relative_rate_error"] <= tol_err
    if ref_acc is not None and "accuracy" in m:
        ok = ok and ref_acc - m["accuracy"] <= tol_acc + 1e-12
    return bool(ok)


def summarise(per_board: list[dict], manifest: dict, ref_acc, config_path, input_path) -> dict:
    """The study's summary (deterministic for the same boards)."""
    n = len(per_board)
    metrics = [k for k in ("accuracy", "firing_rate_ratio", "rate_correlation", "relative_rate_error") if k in per_board[0]]
    dist = {}
    for k in metrics:
        v = np.array([m[k] for m in per_board], float)
        dist[k] = {"mean": round(float(v.mean()), 6), "median": round(float(np.median(v)), 6),
                   "p5": round(float(np.percentile(v, 5)), 6), "p95": round(float(np.percentile(v, 95)), 6),
                   "min": round(float(v.min()), 6), "max": round(float(v.max()), 6)}
    ok = [_passes(m, ref_acc) for m in per_board]
    k = int(sum(ok))
    lo, hi = clopper_pearson(k, n)
    key = "accuracy" if "accuracy" in metrics else "rate_correlation"
    worst = sorted(per_board, key=lambda m: (m[key], -m["relative_rate_error"], m["board"]))[:5]
    sweep = []
    if ref_acc is not None and "accuracy" in metrics:
        for t in np.round(np.arange(0.0, 0.105, 0.01), 2):
            kk = sum(_passes(m, ref_acc, tol_acc=float(t)) for m in per_board)
            sweep.append({"accuracy_drop": float(t), "yield": round(kk / n, 6)})
    else:
        for t in np.round(np.arange(0.5, 1.0001, 0.05), 2):
            kk = sum(_passes(m, ref_acc, tol_r=float(t)) for m in per_board)
            sweep.append({"rate_correlation": float(t), "yield": round(kk / n, 6)})
    sigma, seed = manifest["mismatch_sigma"], manifest["seed"]
    timed = manifest.get("precise_timing", False)
    return {"format": STUDY_FORMAT, "boards": n, "mismatch_sigma": sigma, "seed": seed,
            **({"precise_timing": True} if timed else {}),
            "unit_size": manifest["unit_size"], "window": manifest["window"],
            "reference": "float network" if manifest["model_sha256"] else "nominal emulated board",
            "reference_accuracy": ref_acc, "gates": {g: list(v) for g, v in GATES.items()
                                                      if g != "accuracy_drop" or ref_acc is not None},
            "yield": {"passed": k, "fraction": round(k / n, 6), "ci95": [round(lo, 6), round(hi, 6)]},
            "distribution": dist, "yield_vs_tolerance": sweep,
            "worst_boards": [dict(m, reproduce=f"neurodeploy emulate {config_path} --input {input_path} "
                                            f"--mismatch {sigma:g} --seed {m['seed']}" + (" --precise-timing" if timed else "")
                                            + f" -o board-{m['board']}.npz")
                             for m in worst]}


def summary_markdown(s: dict) -> str:
    """The summary as a short Markdown report."""
    y = s["yield"]
    lines = [f"# Yield study: {s['boards']} emulated boards at σ = {s['mismatch_sigma']:.0%}"
             + (", precise spike timing" if s.get("precise_timing") else ""), "",
             f"Reference: {s['reference']}" + (f" (accuracy {s['reference_accuracy']:.1%})" if s["reference_accuracy"]
                                               is not None else "") + f"; read-out window steps {s['window'][0]}–{s['window'][1]}.",
             "", f"**Yield {y['fraction']:.1%}** ({y['passed']}/{s['boards']} boards pass "
             + ", ".join(f"{g} {op} {v}" for g, (op, v) in s["gates"].items())
             + f"); 95 % Clopper–Pearson interval {y['ci95'][0]:.1%}–{y['ci95'][1]:.1%}.", "",
             "| metric | median | 5 % | 95 % | min | max |", "|---|---|---|---|---|---|"]
    for k, d in s["distribution"].items():
        lines.append(f"| {k} | {d['median']:.4g} | {d['p5']:.4g} | {d['p95']:.4g} | {d['min']:.4g} | {d['max']:.4g} |")
    lines += ["", "Worst boards (reproduce one with the command):", ""]
    for m in s["worst_boards"]:
        lines.append(f"- board {m['board']} (seed {m['seed']}): " + ", ".join(
            f"{k} {m[k]:.4g}" for k in ("accuracy", "rate_correlation", "relative_rate_error") if k in m)
            + f" — `{m['reproduce']}`")
    return "\n".join(lines) + "\n"
