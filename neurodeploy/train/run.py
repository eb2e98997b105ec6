"""``neurodeploy train``: task → trained, constraint-checked model.json (+ a training report).

:func:`train` builds the network (the task's default architecture with calibrated initial weights,
or ``init``: any importable network to continue training), trains it (:mod:`.loop`), evaluates the
best model on the test split on the nominal chip and on ``eval_draws`` mismatched chips, checks
every hardware constraint, maps the model with the deployment quantizer to measure the weight
error ``map`` will report, and writes the model with metadata recording the task, seed, metrics
and settings. No timing or path of the machine goes into the model: the same inputs and seed give
a byte-identical model.json.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..compiled_programs import release_if_crowded
from .task import TrainError

#: Currents trained with --train-currents (one value per population each).
TRAINABLE_CURRENTS = ("Itau_mem", "Igain_mem", "Iref", "Itau_ampa", "Igain_ampa", "Itau_nmda", "Igain_nmda",
                      "Itau_gaba", "Igain_gaba")


def _clean(obj):
    """JSON-safe metadata: floats rounded to 6 significant digits, NaN/inf → None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return float(f"{v:.6g}") if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def build_network(task, arch: dict, profile, seed: int, init=None, data=None):
    """The network to train: ``init`` (a path, any import) or the task's default, calibrated."""
    from ..importers import load_network
    from .architecture import calibrate, default_network

    if init is not None:
        network = load_network(init, profile=profile)
        if network.n_inputs != task.n_inputs:
            raise TrainError(f"--init {init}: the network has {network.n_inputs} inputs, task {task.name!r} has {task.n_inputs}")
        if network.n_readouts != task.n_classes:
            raise TrainError(f"--init {init}: the network has {network.n_readouts} read-out channels, task {task.name!r} "
                             f"has {task.n_classes} classes (one output neuron, or one 'sum' read-out, per class)")
        return network
    network = default_network(task, arch, profile, seed=seed)
    return calibrate(network, profile, data.spikes[:32], target_rate=float(arch.get("init_rate", 15.0)))


def settle_on_grid(st, theta, weights, profile, iters: int = 4) -> np.ndarray:
    """Quantized weights that ``map`` reproduces: re-run the map quantizer on the weights and put them on
    its grid until it returns the grid they sit on (a fixed point; usually one or two rounds)."""
    from .constraints import GridQuantizer

    qz = GridQuantizer(st, profile)
    for _ in range(iters):
        err = qz.refit(theta, weights).get("relative_rms_error", 0.0)
        if err <= 1e-6:
            break
        weights = qz.values(weights)
    return weights


def settle_delays(st, theta, weights, profile, iters: int = 3) -> dict:
    """Learned delays that ``map`` reproduces: each on its core's delay levels (the map quantizer's choice for
    them), repeated until the quantizer keeps the levels they sit on; theta unchanged without learned delays."""
    from .constraints import GridQuantizer

    if "delays" not in theta:
        return theta
    qz = GridQuantizer(st, profile)
    for _ in range(iters):
        qz.refit(theta, weights)
        if (qz.delay_report or {}).get("rms_error_s", 0.0) <= 1e-9:
            break
        theta = {**theta, "delays": qz.delay_values(np.asarray(theta["delays"]))}
    return theta


def settle(st, theta, weights, profile, chip=None) -> tuple[dict, np.ndarray]:
    """(theta, weights) of a QAT run on the grid ``map`` reproduces (:func:`settle_on_grid`, :func:`settle_delays`);
    with ``chip`` (a chip profile with measured delay stages) the delays on that chip's levels
    (:func:`.chip_delays.settle_chip_delays`), which ``map --chip`` reproduces."""
    from .chip_delays import delays_on_chip, settle_chip_delays

    weights = settle_on_grid(st, theta, weights, profile)
    if delays_on_chip(chip):
        return settle_chip_delays(st, theta, weights, profile, chip), weights
    return settle_delays(st, theta, weights, profile), weights


def constraint_report(st, theta, weights, profile, cfg, chip=None) -> dict:
    """Hardware constraints of the final model, measured (not assumed); with ``chip`` (a chip profile with measured
    delay stages) the delay error is that of ``map --chip`` on it."""
    from .chip_delays import ChipGridQuantizer, delays_on_chip
    from .constraints import GridQuantizer, fan_in

    fan = fan_in(weights, st.slots.dst, st.network.n_neurons)
    cam = profile.geometry.cam_entries_per_neuron
    out_of_range = []
    for q, v in st.currents_of(theta).items():
        lo, hi = profile.bias.range(profile.quantity_to_parameter[q])
        if np.any((v < lo) | (v > hi)):
            out_of_range.append(q)
    qz = ChipGridQuantizer(st, profile, chip) if delays_on_chip(chip) else GridQuantizer(st, profile)
    try:
        wr = qz.refit(theta, weights)
        map_err = wr.get("relative_rms_error")
        delay_err = (qz.delay_report or {}).get("rms_error_s")
    except Exception as e:  # noqa: BLE001 - a map failure is reported, the model is still written
        map_err = delay_err = f"map failed: {e}"
    d = st.delays_of(theta)
    delays = {} if d is None else {"delays_learned": st.learn_delays, "delay_max_s": float(d.max(initial=0.0)),
                                   "delay_bound_s": st.delay_bound, "delays_in_range": bool(d.max(initial=0.0) <= st.delay_bound),
                                   "map_delay_rms_error_s": delay_err}
    return {"fan_in_max": int(fan.max()) if fan.size else 0, "fan_in_limit": cam, "fan_in_ok": bool(fan.max(initial=0) <= cam),
            "fan_in_enforced": cfg.fan_in, "currents_in_bias_range": not out_of_range, "currents_out_of_range": out_of_range,
            "qat": cfg.qat, "map_weight_error": map_err, **delays}


def data_seed(seed: int, epoch: int) -> int:
    """The Poisson seed of a training epoch's data (a function of the run's seed and the epoch only)."""
    return int(np.random.SeedSequence([int(seed), 1 + int(epoch)]).generate_state(1)[0] >> 1)


def training_source(task, seed: int):
    """epoch → the task's training data for that epoch: ``task.training_data(s)`` when the task has it
    (e.g. frozen-noise adds fresh noise trials), else ``task.data("train", s)``; s = :func:`data_seed`."""
    get = getattr(task, "training_data", None) or (lambda s: task.data("train", seed=s))
    return lambda epoch: get(data_seed(seed, epoch))


def train(task, output, cfg, profile, *, arch_overrides: dict | None = None, init=None, resume: bool = False,
          checkpoint: Path | None = None, report: bool = True, keep_checkpoint: bool = False, on_epoch=None,
          chip=None) -> dict:
    """Train ``task`` and write ``output`` (model.json); returns the summary (metrics, constraints, paths).

    ``chip`` (a chip profile's path or object; with ``init``): fine-tune for that measured chip (:mod:`.measured_chip`;
    the test metrics' first draw is that chip; ``metadata.chip_profile`` records its sha256). The checkpoint
    (``checkpoint``, default ``OUTPUT.ckpt.npz``, written after every epoch) is removed once the run is complete and
    the model written, unless ``keep_checkpoint``; a run stopped early (``stop_after``) keeps it for ``resume``.
    ``on_epoch(history row, checkpoint path)``, called after every epoch, returning True stops the run there
    (the best model so far is written, as with ``stop_after``)."""
    from dataclasses import replace

    from .loop import Trainer
    from .measured_chip import ChipTrainer, measured_chip
    from .structure import Structure

    release_if_crowded()                 # a process that trained run after run: before the next compiles
    output = Path(output)
    if chip is not None and init is None:
        raise TrainError("--chip fine-tunes a trained network for a measured chip: give it with --init model.json")
    arch = {**task.architecture(), **(arch_overrides or {})}
    train_d, val_d, test_d = (task.data(s, seed=cfg.seed) for s in ("train", "val", "test"))
    network = build_network(task, arch, profile, cfg.seed, init=init, data=train_d)
    if hasattr(task, "training_data"):
        train_d = task.training_data(seed=cfg.seed)
    st = Structure(network, profile, currents=cfg.train_currents, learn_delays=cfg.learn_delays,
                   max_delay=cfg.max_delay or arch.get("max_delay"), seed=cfg.seed, precise_timing=cfg.precise_timing)
    target = None if chip is None else measured_chip(chip, network, profile, st.net)
    if target is not None:
        cfg = replace(cfg, chip_sha256=target.sha256)
    ckpt = Path(checkpoint) if checkpoint else output.with_name(output.name + ".ckpt.npz")
    kind, extra = ((Trainer, {}) if target is None
                   else (ChipTrainer, {"chip": target.factors, "chip_profile": target.profile}))
    trainer = kind(st, train_d, val_d, cfg, profile, checkpoint=ckpt, source=training_source(task, cfg.seed),
                   on_epoch=on_epoch, **extra)
    theta0 = st.init_theta()
    state = trainer.resume(theta0) if resume else trainer.fresh(theta0)
    state = trainer.fit(state)
    best = state.best
    if best is None:          # stopped (--stop-after) before the first validation: the current model
        best = {"theta": state.theta, "weights": trainer.forward_weights(state.theta, state.mask, state.phase),
                "epoch": state.epoch - 1}
    theta, weights = best["theta"], np.asarray(best["weights"], np.float32)
    if cfg.qat and state.phase == "qat":
        theta, weights = settle(st, theta, weights, profile, None if target is None else target.profile)
    ev = trainer.evaluate(theta, weights, test_d)
    counts = ev["counts"]
    metrics = {"test": task.metrics(counts[0], test_d),
               "test_mismatch": {"draws": int(counts.shape[0] - 1),
                                 "accuracy": [task.metrics(c, test_d)["accuracy"] for c in counts[1:]]},
               "val": {k: v for k, v in trainer.evaluate(theta, weights, val_d).items() if k != "counts"}}
    metrics["val"]["best_epoch"] = best["epoch"] + 1
    acc_mm = metrics["test_mismatch"]["accuracy"]
    if acc_mm:
        metrics["test_mismatch"]["median_accuracy"] = float(np.median(acc_mm))
    cons = constraint_report(st, theta, weights, profile, cfg, None if target is None else target.profile)
    meta = {**network.metadata, "task": task.name, "seed": cfg.seed, "trained_by": "neurodeploy train",
            "architecture": {k: v for k, v in sorted(arch.items())}, "training": cfg.settings(),
            "trained_currents": list(cfg.train_currents), "init": None if init is None else Path(init).name,
            "epochs_done": state.epoch, "complete": state.epoch >= cfg.epochs,
            "metrics": metrics, "constraints": cons}
    if getattr(task, "test_description", None):
        meta["test_split"] = task.test_description
    meta.pop("chip_profile", None)            # an init's chip is not this model's
    if target is not None:
        meta["chip_profile"] = target.metadata(cfg.mismatch)
    out_network = st.to_network(theta, weights, metadata=_clean(meta))
    out_network.save(output)
    complete = state.epoch >= cfg.epochs
    if complete and not keep_checkpoint:
        ckpt.unlink(missing_ok=True)
    summary = {"output": str(output), "metrics": metrics, "constraints": cons, "history": state.history,
               "checkpoint": str(ckpt) if ckpt.exists() else None}
    if report:
        from .report import write_report

        summary["report"] = write_report(output, task, st, trainer, theta, weights, state.history, metrics, cons,
                                         test_d, counts)
    return summary


#: The options of :func:`train` whose default is the task's (its ``architecture()``), else this value.
_TASK_DEFAULTS = {"epochs": 20, "batch_size": 32, "lr": 0.01, "beta": 1.0, "loss": "ce", "draws": 4, "eval_every": 1,
                  "noise_weight": 0.0, "ratio_target": 8.0}


def train_with_options(task_or_data, output, *, profile, hidden: int | None = None, recurrent: bool | None = None,
                       outputs_per_class: int | None = None, init=None, resume: bool = False, checkpoint=None,
                       report: bool = True, keep_checkpoint: bool = False, on_epoch=None, chip=None, **options) -> dict:
    """:func:`train` with the settings as keyword options and the task's defaults filled in, as the CLI does
    (``task_or_data``: a built-in task's name, a data npz path, or a task object; see
    :func:`neurodeploy.api.train`)."""
    from .loop import TrainConfig
    from .task import TASK_NAMES
    from .tasks import get_task, load_data_file

    if isinstance(task_or_data, (str, Path)) and str(task_or_data) in TASK_NAMES:
        task = get_task(str(task_or_data))
    elif isinstance(task_or_data, (str, Path)):
        task = load_data_file(task_or_data)
    else:
        task = task_or_data
    arch = task.architecture()
    settings = {k: type(v)(arch.get(k, v)) for k, v in _TASK_DEFAULTS.items()}
    settings["ratio_weight"] = float(arch.get("ratio_weight", 1.0 if options.get("loss", settings["loss"]) == "rate_mse"
                                              else 0.0))
    if options.get("train_currents") is True:
        options["train_currents"] = TRAINABLE_CURRENTS
    elif options.get("train_currents") is False:
        options["train_currents"] = ()
    if chip is not None and "mismatch" not in options:
        from .measured_chip import RESIDUAL_SIGMA

        options["mismatch"] = RESIDUAL_SIGMA          # the residual on top of the measured chip
    cfg = TrainConfig(**{**settings, **options})
    over = {k: v for k, v in (("hidden", hidden), ("recurrent", recurrent), ("outputs_per_class", outputs_per_class))
            if v is not None}
    return train(task, output, cfg, profile, arch_overrides=over, init=init, resume=resume,
                 checkpoint=checkpoint, report=report, keep_checkpoint=keep_checkpoint, on_epoch=on_epoch, chip=chip)
