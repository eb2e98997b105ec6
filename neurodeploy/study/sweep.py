"""Training sweeps: ``train`` runs over seeds and hyperparameters, each deployed and scored by its yield.

A sweep file (YAML)::

    task: frozen-noise            # a built-in task, or  data: my.npz
    train: {epochs: 8}            # train options every run shares (any option of neurodeploy.api.train)
    grid:                         # runs = the cartesian product of these lists
      seed: [0, 1]
      lr: [0.01, 0.03]
    metric: val_acc_mismatch      # the per-epoch validation metric runs are compared on (higher is better)
    yield: {boards: 32, mismatch: 0.1}   # how each finished model is scored: a yield study on the task's test split
                                  # (precise_timing: as the run was trained, unless given here)

Every run trains into ``OUT/runs/<id>/model.json`` reporting each epoch's validation metrics through the
trainer's ``on_epoch`` callback; the finished (or early-stopped) model is mapped and a yield study
(:mod:`.run`) on the task's test split scores it. ``OUT/results.json`` and ``results.md`` list every run; the
best run (highest yield, then metric) is exported to ``OUT/best/`` (model.json and config.json).

Engines: ``local`` trains the runs one after another in this process. ``ray`` runs them as Ray Tune trials:
each epoch is reported to Tune with the trainer's checkpoint as a Tune checkpoint (a trial that fails restarts
from it), and ``scheduler="asha"`` lets Tune's ASHA stop unpromising runs early on ``metric``.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from ..errors import StudyError
from .trainrun import train_run

SWEEP_KEYS = {"task", "data", "train", "grid", "metric", "yield"}


def load_sweep(path) -> dict:
    """Read and check a sweep file → the sweep dict (one line naming the file and the key on error)."""
    import yaml

    from ..fileio import load_yaml

    path = Path(path)
    try:
        raw = load_yaml(path.read_text())
    except FileNotFoundError:
        raise StudyError(f"{path}: sweep file not found") from None
    except yaml.YAMLError as e:
        raise StudyError(f"{path}: not YAML ({' '.join(str(e).split())[:200]})") from None
    if not isinstance(raw, dict):
        raise StudyError(f"{path}: expected a mapping with task (or data), train, grid, metric, yield")
    unknown = sorted(set(raw) - SWEEP_KEYS)
    if unknown:
        raise StudyError(f"{path}: $.{unknown[0]}: unknown key (keys: {', '.join(sorted(SWEEP_KEYS))})")
    if ("task" in raw) == ("data" in raw):
        raise StudyError(f"{path}: give $.task (a built-in task) or $.data (an npz), exactly one")
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise StudyError(f"{path}: $.grid: expected a mapping of option → non-empty list of values")
    for key in ("train", "yield"):
        if not isinstance(raw.get(key) or {}, dict):
            raise StudyError(f"{path}: $.{key}: expected a mapping")
    return {"task": raw.get("task"), "data": raw.get("data"), "train": dict(raw.get("train") or {}), "grid": grid,
            "metric": str(raw.get("metric", "val_acc_mismatch")),
            "yield": {"boards": 32, "mismatch": 0.1, **(raw.get("yield") or {})}, "source": str(path)}


def runs_of(sweep: dict) -> list[dict]:
    """Every run's options: the shared ``train`` options with one combination of the grid, in grid order."""
    keys = list(sweep["grid"])
    out = []
    for values in itertools.product(*(sweep["grid"][k] for k in keys)):
        opts = {**sweep["train"], **dict(zip(keys, values))}
        rid = "-".join(f"{k}{v}" for k, v in zip(keys, values)) or "run"
        out.append({"id": rid, "options": opts})
    return out


def score_run(sweep: dict, run_dir: Path, profile) -> dict:
    """Map the run's model and score it with a yield study on the task's test split → its summary."""
    from ..deployment import deploy
    from ..fileio import atomic_savez
    from ..train.tasks import get_task, load_data_file
    from .run import run_study

    task = get_task(sweep["task"]) if sweep["task"] else load_data_file(sweep["data"])
    data = task.data("test", seed=0)
    d = deploy(run_dir / "model.json", profile)
    y = sweep["yield"]
    trained = (_metadata(run_dir / "model.json").get("training") or {}).get("precise_timing", False)
    timed = bool(y.get("precise_timing", trained))     # as the run was trained, unless the yield options say
    arrays = data.arrays()
    if timed and data.timed is not None:        # input spike times: the study runs them at their own times
        from ..input_times import timed_arrays

        arrays = {**{k: v for k, v in arrays.items() if k != "spikes"}, **timed_arrays(*data.timed, data.dt)}
    atomic_savez(run_dir / "test.npz", **arrays)
    d.config.save(run_dir / "config.json")
    shutil.rmtree(run_dir / "yield", ignore_errors=True)
    s = run_study(run_dir / "config.json", run_dir / "test.npz", run_dir / "yield", model_path=run_dir / "model.json",
                  boards=int(y["boards"]), unit_size=int(y.get("unit_size", 16)), sigma=float(y["mismatch"]),
                  window=getattr(data, "window", None), profile=profile, precise_timing=timed)
    return s


def _metadata(path: Path) -> dict:
    import json

    try:
        return dict(json.loads(path.read_text()).get("metadata", {}))
    except (OSError, ValueError):
        return {}


def _best_metric(history: list[dict], metric: str) -> float | None:
    vals = [h[metric] for h in history if metric in h]
    return float(max(vals)) if vals else None


def run_sweep(sweep: dict, out, *, engine: str = "local", scheduler: str | None = None, address: str | None = None,
              profile=None) -> dict:
    """Run every run of ``sweep`` into folder ``out``, score the finished models → the results."""
    from ..device.profile import load_profile
    from ..fileio import atomic_write_text, write_json

    out = Path(out)
    prof = profile or load_profile("dynapse2")
    runs = runs_of(sweep)
    if scheduler is not None and engine != "ray":
        raise StudyError(f"--scheduler {scheduler} needs --engine ray (the local engine runs every run to its end)")
    if engine == "ray":
        from .tune import tune_runs

        histories = tune_runs(sweep, runs, out, scheduler=scheduler, address=address)
    else:
        histories = {}
        for run in runs:
            histories[run["id"]] = train_run(sweep, run, out / "runs" / run["id"])["history"]
    rows = []
    for run in runs:
        d = out / "runs" / run["id"]
        hist = histories.get(run["id"], [])
        if not (d / "model.json").exists() and (d / "checkpoint.npz").exists():
            # a trial the scheduler stopped: write its best model so far from the last checkpoint (no more epochs)
            train_run(sweep, {"id": run["id"], "options": {**run["options"], "stop_after": 1}}, d, resume=True)
        meta = _metadata(d / "model.json")
        row = {"id": run["id"], "options": run["options"], "epochs": meta.get("epochs_done", len(hist)),
               "stopped_early": meta.get("complete") is False, "metric": _best_metric(hist, sweep["metric"])}
        if (d / "model.json").exists():
            s = score_run(sweep, d, prof)
            row["yield"] = s["yield"]["fraction"]
            row["yield_ci95"] = s["yield"]["ci95"]
            acc = s["distribution"].get("accuracy")
            row["deployed_median_accuracy"] = None if acc is None else acc["median"]
        rows.append(row)
    scored = [r for r in rows if "yield" in r]
    if not scored:
        raise StudyError(f"{out}: no run produced a model")
    best = max(scored, key=lambda r: (r["yield"], -1.0 if r["metric"] is None else r["metric"], -rows.index(r)))
    (out / "best").mkdir(parents=True, exist_ok=True)
    for name in ("model.json", "config.json"):
        shutil.copyfile(out / "runs" / best["id"] / name, out / "best" / name)
    results = {"sweep": sweep["source"], "metric": sweep["metric"], "engine": engine, "scheduler": scheduler,
               "runs": rows, "best": best["id"]}
    write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", results_markdown(results))
    return results


def results_markdown(r: dict) -> str:
    lines = [f"# Sweep: {len(r['runs'])} runs ({r['engine']}" + (f", {r['scheduler']}" if r["scheduler"] else "") + ")",
             "", f"| run | epochs | best {r['metric']} | deployed yield (95 % interval) | deployed median accuracy |",
             "|---|---|---|---|---|"]
    for x in r["runs"]:
        m = "—" if x["metric"] is None else f"{x['metric']:.3f}"
        y = "—" if "yield" not in x else f"{x['yield']:.1%} ({x['yield_ci95'][0]:.1%}–{x['yield_ci95'][1]:.1%})"
        a = "—" if x.get("deployed_median_accuracy") is None else f"{x['deployed_median_accuracy']:.1%}"
        ep = f"{x['epochs']}" + (" (stopped)" if x.get("stopped_early") else "")
        lines.append(f"| {x['id']}{' (best)' if x['id'] == r['best'] else ''} | {ep} | {m} | {y} | {a} |")
    return "\n".join(lines) + "\n\nThe best run's model and config: best/model.json, best/config.json.\n"
