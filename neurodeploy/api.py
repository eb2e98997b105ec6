"""The Python API for notebooks and scripts: ``from neurodeploy import load_network, deploy, simulate, emulate, verify``
(and ``from neurodeploy.api import train``).

Each function takes objects or file paths (and a profile as a DeviceProfile, a built-in name or a YAML
path); the CLI commands are thin over the same library calls.

    >>> from neurodeploy import load_network, deploy, simulate, emulate, verify
    >>> network = load_network("examples/frozen_noise/model.json")
    >>> out = simulate(network, x, dt=1e-3, mismatch=0.1)       # the float model on the DPI simulator
    >>> d = deploy(network)                       # d.config (HardwareConfig), d.report, d.quantized
    >>> res = emulate(d.config, x, dt=1e-3, mismatch=0.1)    # x: counts [batch, T, n_inputs]
    >>> report = verify(network, d.config, x, dt=1e-3, labels=y)
    >>> from neurodeploy.api import train
    >>> summary = train("frozen-noise", "model.json", epochs=4)   # what `neurodeploy train` runs
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .compiled_programs import release_if_crowded
from .deployment import deploy
from .device.profile import load_profile


def _profile(profile):
    return load_profile(profile) if isinstance(profile, (str, Path)) else profile


def load_network(path, *, profile="dynapse2", **import_options):
    """A Network from model.json / .nir / .npz / .npy (``import_options`` as ``-O key=value`` on the CLI)."""
    from .importers import load_network as _load

    return _load(path, profile=_profile(profile), **import_options)


def _config(config):
    if isinstance(config, (str, Path)):
        from .config.config_json import load_config

        return load_config(config)
    return config


def _inputs(inputs, dt, timed: bool = False):
    """(counts [batch, T, n], dt, lateness or None) from an array (+ dt) or an npz file with 'spikes' or spike
    'times' and 'dt'; ``timed`` (precise timing): a file's spike times delivered with their lateness
    (:meth:`~neurodeploy.input_times.SpikeTimes.timed`), else counted in their steps."""
    if isinstance(inputs, (str, Path)):
        from .inputs import load_input, run_inputs

        data = load_input(inputs, events=False)
        x, late = run_inputs(data, timed)
        return x, data["dt"], late
    if dt is None:
        raise ValueError("dt (s) is required with an input array")
    x = np.asarray(inputs, np.float32)
    return (x[None] if x.ndim == 2 else x), float(dt), None


def simulate(model, inputs, dt: float | None = None, *, profile="dynapse2", mismatch: float = 0.0, seed: int = 0,
             record: bool = False, precise_timing: bool = False) -> dict:
    """Run a Network (or any model file) on the float DPI simulator (:mod:`neurodeploy.sim`); σ =
    ``mismatch`` (0.1 = 10 %, 0 = the nominal chip), the draw seeded by ``seed``.

    Returns ``{"spikes": [batch, T, N] uint8, "dt", "output_indices", "mismatch", "seed"}`` plus, with
    ``record``, every state variable of :data:`neurodeploy.sim.RECORDED` ([batch, T, N] float32, A).
    ``precise_timing``: spikes act on their targets at their times inside the step (eqs. (P1)–(P4) of
    :mod:`neurodeploy.sim.model`), an input file's spike times at their own times (:mod:`neurodeploy.input_times`),
    and the result also holds ``"lateness"`` [batch, T, N] (s): a spike of step t is at (t + 1)·dt − lateness.
    """
    import jax

    from .sim.errors import SimError
    from .sim.mismatch import sample_mismatch
    from .sim.model import RECORDED
    from .sim.network import build_from_network
    from .sim.simulate import simulate as _simulate

    if not (np.isfinite(mismatch) and mismatch >= 0):
        raise SimError(f"--mismatch: expected a relative standard deviation >= 0 (0.1 = 10 %), got {mismatch}")
    release_if_crowded()                 # a notebook's many programs (neurodeploy.compiled_programs)
    prof = _profile(profile)
    network = load_network(model, profile=prof) if isinstance(model, (str, Path)) else model
    x, dt, late = _inputs(inputs, network.dt if dt is None else dt, timed=precise_timing)
    net, index = build_from_network(network, prof, precise_timing=precise_timing)
    draw = sample_mismatch(net, jax.random.PRNGKey(seed), sigma=mismatch) if mismatch > 0 else None
    names = (RECORDED if record else ()) + (("lateness",) if precise_timing else ())
    spikes, _, rec = _simulate(net, x, draw, dt=None if dt == network.dt else dt, record=names, input_lateness=late)
    out = {"spikes": np.round(np.asarray(spikes)).astype(np.uint8), "dt": np.float64(dt),
           "output_indices": np.asarray(index.output_indices, np.int64), "mismatch": np.float64(mismatch),
           "seed": np.int64(seed)}
    out.update({k: np.asarray(v, np.float32) for k, v in (rec or {}).items()})
    return out


def emulate(config, inputs, dt: float | None = None, *, profile="dynapse2", mismatch: float = 0.0, seed: int = 0,
            precise_timing: bool = False):
    """Run a HardwareConfig (or config.json) on the bit-accurate emulator; σ = ``mismatch`` (0.1 = 10 %).
    ``precise_timing``: spikes act at their times inside the step (``neurodeploy emulate --precise-timing``), and
    ``events()`` reports them at those times (``lateness``: each spike's, s); so do the spikes of an input file of
    spike times (:mod:`neurodeploy.input_times`).
    Returns an :class:`~neurodeploy.backends.emulator.EmulationResult` (spikes, outputs, sites, events())."""
    from .backends.emulator import Emulator

    release_if_crowded()
    x, dt, late = _inputs(inputs, dt, timed=precise_timing)
    return Emulator(_config(config), _profile(profile), dt=dt, precise_timing=precise_timing).run(
        x, dt, mismatch=mismatch, seed=seed, lateness=late)


def verify(model, config, inputs, dt: float | None = None, *, labels=None, trials: int = 32, mismatch: float = 0.1,
           seed: int = 0, tolerance=None, profile="dynapse2", window=None, allow_other_model: bool = False,
           chip=None, precise_timing: bool = False, engine="local", address: str | None = None,
           unit_size: int = 16) -> dict:
    """Float model vs deployed config on the same inputs over ``trials`` mismatch draws; the report dict
    (``passed`` inside). ``tolerance``: a :class:`~neurodeploy.verification.Tolerance` or None (defaults).
    ``labels``: an array, a .npy / .npz file, or None: then, as ``neurodeploy verify``, the input file's own
    ``labels`` array when ``inputs`` is a file that has one. ``window``: (start, stop) steps counted (the
    CLI's ``--window``); None: an input file's own ``readout``, else the whole trial. ``allow_other_model``:
    judge a config mapped from another model instead of failing check ``same_model``. ``chip``: a chip profile
    (a path, as the CLI's ``--chip``, or a loaded one): the deployed boards are that measured chip with a residual
    σ = ``mismatch`` per board. Samples an input file marks ``negative`` are left out of accuracy, as the CLI does.
    ``precise_timing``: the float model and every emulated board with precise spike timing (``--precise-timing``).
    ``engine``: where the emulated boards (in units of ``unit_size`` boards) and the float model's mismatch draws run,
    as the CLI's ``--engine``: ``"local"`` (in this process) or ``"ray"`` (Ray tasks on the cluster at ``address``,
    ``"auto"`` for the running one; None starts a local one on this computer's CPUs; needs ``pip install 'ray>=2.40'``),
    or an engine object (:mod:`neurodeploy.study.engines`). The report is the same either way."""
    from .inputs import load_input, resolve_window
    from .verification import check_labels, load_labels
    from .verification import verify as _verify

    release_if_crowded()
    eng = _engine(engine, address)
    prof = _profile(profile)
    network = load_network(model, profile=prof) if isinstance(model, (str, Path)) else model
    x, dt, _ = _inputs(inputs, dt)
    source = str(inputs) if isinstance(inputs, (str, Path)) else "the input array"
    data = load_input(inputs, events=False) if isinstance(inputs, (str, Path)) else {}
    if isinstance(labels, (str, Path)):
        labels = load_labels(labels, x.shape[0], network.n_readouts, source)
    elif labels is None and data.get("labels") is not None:
        labels = check_labels(data["labels"], x.shape[0], network.n_readouts, f"{inputs}: $.labels", source)
    win = resolve_window(data, None if window is None else tuple(int(v) for v in window), x.shape[1], source)
    chip_source = None
    if isinstance(chip, (str, Path)):
        from .device.chip_profile import load_chip_profile

        chip_source, chip = str(chip), load_chip_profile(chip)
    return _verify(network, _config(config), prof, data.get("spike_times", x), dt, labels=labels, trials=trials, mismatch=mismatch, seed=seed,
                   tolerance=tolerance, window=win, allow_other_model=allow_other_model,
                   negative=data.get("negative") if labels is not None else None, chip=chip, chip_source=chip_source,
                   precise_timing=precise_timing, engine=eng, unit_size=unit_size)


def _engine(engine, address):
    """The engine named ``engine`` ("local" or "ray", as ``verify --engine``; an engine object as it is), started
    before any work (Ray forks its helpers before JAX's threads start)."""
    from .study.engines import LocalEngine, RayEngine
    from .verification import VerifyError

    if not isinstance(engine, str):
        return engine
    if engine not in ("local", "ray"):
        raise VerifyError(f"engine={engine!r}: expected 'local' (in this process) or 'ray' (Ray tasks)")
    if engine == "local":
        if address is not None:
            raise VerifyError(f"address={address!r} goes with engine='ray'")
        return LocalEngine()
    eng = RayEngine(address=address)
    eng.start()
    return eng


def train(task_or_data, output, *, profile="dynapse2", hidden: int | None = None, recurrent: bool | None = None,
          outputs_per_class: int | None = None, init=None, resume: bool = False, checkpoint=None, report: bool = True,
          keep_checkpoint: bool = False, on_epoch=None, chip=None, **options) -> dict:
    """Train a network on the chip model and write it to ``output`` (model.json): what ``neurodeploy train`` runs.

    ``task_or_data`` is a built-in task's name (``"frozen-noise"``, ``"temporal-xor"``, ``"digits"``,
    ``"coincidence"``), the path of your own ``.npz`` (``spikes`` [n, T, n_inputs] counts, ``labels`` [n],
    ``dt`` in s; the CLI's ``--data``), or a task object (``data(split, seed)``, ``architecture()``,
    ``metrics(counts, data)``, ``name``, ``n_inputs``, ``n_classes``).

    ``hidden``, ``recurrent`` and ``outputs_per_class`` override the task's network; ``init`` continues
    training a network from a file (model.json, .nir or .npz); ``resume`` continues from the checkpoint
    (``checkpoint``, default ``OUTPUT.ckpt.npz``, removed when the run completes unless ``keep_checkpoint``);
    ``report`` writes ``OUTPUT.report.{md,json,png}``; ``on_epoch(history row, checkpoint path)`` is called after
    every epoch, and returning True stops the run (a sweep's scheduler does). ``chip`` (a chip profile's path, from
    ``neurodeploy calibrate``, or a ChipProfile; with ``init``) fine-tunes ``init`` for that measured chip: its
    per-neuron factors where ``map --chip`` places the neurons, with a residual ``mismatch`` (default 0.02) on top.
    ``options`` are the training settings of :class:`neurodeploy.train.loop.TrainConfig`, with the CLI's
    defaults: ``epochs``, ``batch_size``, ``lr``, ``beta``, ``loss`` (``"ce"``, ``"ce_current"``,
    ``"rate_mse"``), ``draws``, ``eval_every``, ``noise_weight`` and ``ratio_target`` default to the task's; ``seed`` (0), ``mismatch`` (σ, 0.1;
    0 trains on the nominal chip), ``fan_in``, ``qat``, ``bias_range`` (True), ``train_currents`` (True: the
    time constants, gains and refractory period, one value per population), ``learn_delays``, ``max_delay``
    (s), ``precise_timing`` (spikes at their times inside the step, as ``verify --precise-timing``), ``patience``,
    ``stop_after``, ``progress`` (a progress bar) and the others of ``TrainConfig``.
    The same task, options and seed give a byte-identical model.json, the one the CLI writes.

    Returns the summary: ``output``, ``metrics`` (test accuracy on the nominal chip and across mismatch
    draws, the task's own metrics), ``constraints`` (fan-in, bias range, the weight error ``map`` will
    report), ``history`` (per epoch), ``checkpoint`` and, with ``report``, the report files. Load the trained
    network with :func:`load_network` (``summary["output"]``).

        >>> summary = train("frozen-noise", "model.json", epochs=4, seed=1)
        >>> summary["metrics"]["test"]["accuracy"]
    """
    from .train.run import train_with_options

    return train_with_options(task_or_data, output, profile=_profile(profile), hidden=hidden, recurrent=recurrent,
                              outputs_per_class=outputs_per_class, init=init, resume=resume, checkpoint=checkpoint,
                              report=report, keep_checkpoint=keep_checkpoint, on_epoch=on_epoch, chip=chip, **options)
