"""A sweep's runs as Ray Tune trials (imported only for ``neurodeploy sweep --engine ray``).

Each trial trains one run (:func:`.trainrun.train_run`) in its own folder ``OUT/runs/<id>/`` and, after every
epoch, reports that epoch's validation metrics to Tune with the trainer's checkpoint file as a Tune
checkpoint. A trial that fails is restarted by Tune (``FailureConfig(max_failures=2)``) from its last
checkpoint: the file is copied back into the run's folder and training resumes at the next epoch, exactly
(the model equals an uninterrupted run's, byte for byte); the run's history is the trainer's own, kept in the
checkpoint, so the epochs before the failure stay in it. With ASHA
(``scheduler="asha"``) Tune stops runs whose ``metric`` trails at the rungs (1, 2, 4, … epochs): the run's
best model so far is written, so every trial still leaves a model.json to deploy and score.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .engines import require_ray, worker_env


def _trainable(sweep: dict, run_dirs: dict, hook=None):
    def trainable(config):
        from ray import tune

        from .trainrun import train_run

        rid = config["id"]
        run_dir = Path(run_dirs[rid])
        ckpt = run_dir / "checkpoint.npz"
        restored = tune.get_checkpoint()
        if restored is not None:                       # a restarted trial: continue from the last epoch reported
            with restored.as_directory() as d:
                shutil.copyfile(Path(d) / "checkpoint.npz", ckpt)

        def report(row, path):
            metrics = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copyfile(path, Path(tmp) / "checkpoint.npz")
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))
            if hook is not None:
                hook(rid, row, run_dir)
            return False

        train_run(sweep, {"id": rid, "options": config["options"]}, run_dir, on_epoch=report,
                  resume=restored is not None)
    return trainable


def tune_runs(sweep: dict, runs: list[dict], out: Path, scheduler: str | None = None, address: str | None = None,
              num_cpus: int | None = None, hook=None) -> dict:
    """Train ``runs`` as Tune trials → {run id: per-epoch history as reported}. ``hook(run id, history row,
    run folder)``, if given, is called in the trial after each epoch's report (its checkpoint then saved by
    Tune); an exception it raises fails the trial as any failure would."""
    import logging

    ray = require_ray()
    try:
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
    except ImportError:
        from ..errors import StudyError

        raise StudyError("--engine ray for sweeps needs Ray Tune: pip install 'ray[tune]>=2.40'") from None
    if not ray.is_initialized():
        kw = {"address": address} if address else {"num_cpus": num_cpus}
        ray.init(**kw, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": worker_env()})
    out = Path(out).resolve()
    run_dirs = {r["id"]: str(out / "runs" / r["id"]) for r in runs}
    sched = None
    if scheduler == "asha":
        max_t = int(max(r["options"].get("epochs", 20) for r in runs))
        sched = ASHAScheduler(metric=sweep["metric"], mode="max", time_attr="epoch", max_t=max_t, grace_period=1,
                              reduction_factor=2)
    elif scheduler is not None:
        from ..errors import StudyError

        raise StudyError(f"--scheduler {scheduler!r}: expected asha")
    tuner = tune.Tuner(
        tune.with_resources(_trainable(sweep, run_dirs, hook), {"cpu": 1}),
        param_space={"id": tune.grid_search([r["id"] for r in runs]),
                     "options": tune.sample_from(lambda config: next(r["options"] for r in runs
                                                                  if r["id"] == config["id"]))},
        tune_config=tune.TuneConfig(scheduler=sched, num_samples=1),
        run_config=tune.RunConfig(name="sweep", storage_path=str(out / "tune"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=2)))
    results = tuner.fit()
    return {res.config["id"]: _history(res) for res in results}


_HISTORY_KEYS = ("epoch", "val_", "train_")


def _history(res) -> list[dict]:
    """A trial's per-epoch history: the trainer's own, from the trial's last checkpoint (the ``meta`` JSON of
    :mod:`neurodeploy.train.checkpoint`; whole across restarts, whereas Tune's in-memory metrics of a restarted
    trial begin at the restart), else the metrics Tune holds."""
    import json

    import numpy as np

    if res.checkpoint is not None:
        with res.checkpoint.as_directory() as d, np.load(Path(d) / "checkpoint.npz", allow_pickle=False) as z:
            rows = json.loads(bytes(z["meta"]).decode())["history"]
        return [{k: float(v) for k, v in row.items() if k.startswith(_HISTORY_KEYS)
                 and isinstance(v, (int, float)) and not isinstance(v, bool)} for row in rows]
    df = res.metrics_dataframe
    return [] if df is None else df[[c for c in df.columns if c.startswith(_HISTORY_KEYS)]].to_dict("records")
