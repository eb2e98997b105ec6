"""Where a study's units run. An engine maps the unit computation (:func:`.units.run_unit`) over units
and yields ``(unit, counts)`` as units finish, in any order; the driver writes each one. Results never
depend on the engine (each board's draw comes from its own seed). ``verify`` runs the float network's mismatch
draws on the same engines (``map_float_units``: units of
:data:`~neurodeploy.verification.float_draws.DRAWS_PER_UNIT` draws, :func:`~neurodeploy.verification.float_draws.run_float_unit`).

``LocalEngine`` runs them in this process, one after another (nothing to install); ``RayEngine`` runs
each unit as a Ray task on a local or remote cluster (``pip install 'ray>=2.40'``; imported only here).
"""

from __future__ import annotations

import numpy as np

from .units import run_unit


class LocalEngine:
    """Units one after another in this process."""

    name = "local"

    def start(self) -> None:
        """Nothing to start."""

    def map_units(self, cfg, profile, x, dt, window, sigma, seeds_by_unit: dict, progress=None, chip=None,
                  precise_timing: bool = False, lateness=None):
        from ..log import progress as bar

        units = sorted(seeds_by_unit)
        for u in bar(units, total=len(units), desc="units") if progress is None else units:
            counts = run_unit(cfg, profile, x, dt, window, sigma, seeds_by_unit[u], chip=chip,
                              precise_timing=precise_timing, lateness=lateness)
            if progress is not None:
                progress(u)
            yield u, counts

    def map_float_units(self, network, profile, x, dt, window, factors_by_unit: dict, precise_timing: bool = False,
                        lateness=None):
        from ..verification.float_draws import run_float_unit

        for u in sorted(factors_by_unit):
            yield u, run_float_unit(network, profile, x, dt, window, factors_by_unit[u], precise_timing=precise_timing,
                                    lateness=lateness)


def board_counts(engine, cfg, profile, x, dt: float, window, sigma: float, seeds: list[int], unit_size: int = 16,
                 progress=None, chip=None, precise_timing: bool = False, lateness=None) -> np.ndarray:
    """Output counts [len(seeds), samples, n_out] over ``window`` of the boards drawn from ``seeds`` (board i
    is ``emulate --seed seeds[i] --mismatch sigma``; with a chip profile ``chip``, ``profile`` being its measured
    profile, ``emulate --chip … --seed seeds[i] --mismatch sigma``), cut into units of ``unit_size`` boards that
    ``engine`` computes (:func:`.units.run_unit`), put back in board order whatever order the units finish in.
    ``precise_timing``: the boards run with precise spike timing (``emulate --precise-timing``); ``lateness``: the
    inputs' lateness, x's shape (spike-time inputs, :meth:`~neurodeploy.input_times.SpikeTimes.timed`)."""
    if unit_size < 1:
        from ..errors import StudyError

        raise StudyError(f"--unit-size must be ≥ 1, got {unit_size}")
    units = {u: list(seeds[u * unit_size:(u + 1) * unit_size]) for u in range(-(-len(seeds) // unit_size))}
    timed = {} if lateness is None else {"lateness": lateness}
    done = dict(engine.map_units(cfg, profile, x, dt, window, sigma, units, progress=progress, chip=chip,
                                 precise_timing=precise_timing, **timed))
    return np.concatenate([np.asarray(done[u]) for u in sorted(units)])


#: Each Ray worker runs one unit at a time on one CPU; XLA's own thread pools are held to one thread so that
#: N workers on N cores do not oversubscribe them (each would otherwise start a thread per core).
WORKER_ENV = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
              "OMP_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu", "NEURODEPLOY_CACHE_DIR": "off"}


def worker_env() -> dict:
    """:data:`WORKER_ENV`, the workers compiling at this process's ``--xla_backend_optimization_level`` when its
    XLA_FLAGS set one, with its ``--xla_backend_extra_options`` or else the small-loop option, and with this
    process's host-device count (:mod:`neurodeploy.xla_flags`; one where it set none, as XLA then has one): the level,
    the small loops and the devices a batch is split across can change a float result's last bit (the thread
    settings do not), and a worker computes what this process would."""
    import os

    from ..xla_flags import device_count, with_flags

    env = dict(WORKER_ENV)
    own = os.environ.get("XLA_FLAGS", "")
    level = [f for f in own.split() if f.startswith("--xla_backend_optimization_level")]
    if level:
        env["XLA_FLAGS"] += " " + level[-1]
    extra = [f for f in own.split() if f.startswith("--xla_backend_extra_options")]
    env["XLA_FLAGS"] = with_flags(env["XLA_FLAGS"] + (" " + extra[-1] if extra else ""), devices=device_count(own) or 1)
    return env


def require_ray():
    """Import Ray (lazily); one line with the install hint when it is missing (exit 2)."""
    try:
        import ray
    except ImportError:
        from ..errors import StudyError

        raise StudyError("--engine ray needs Ray: pip install 'ray>=2.40' (or the [ray] extra from a clone: "
                         "pip install '.[ray]')") from None
    return ray


def unit_task(config_json: str, profile_source: str, x, dt, window, sigma, seeds, chip_json: str | None = None,
              precise_timing: bool = False, lateness=None):
    """One unit on a worker: the config and profile are rebuilt from text and path (cheap to ship); with a chip
    profile (its JSON text), the measured profile is rebuilt from the device profile and it. ``precise_timing``:
    the boards run with precise spike timing, ``lateness`` the inputs' (:func:`.units.run_unit`)."""
    from ..compiled_programs import release_if_crowded
    from ..config.config_json import HardwareConfig
    from ..device.profile import load_profile

    release_if_crowded()       # a pooled worker outlives a study: another network's programs may fill it
    cfg = HardwareConfig.model_validate_json(config_json)
    profile, chip = load_profile(profile_source), None
    if chip_json is not None:
        from ..calibration.apply import measured_profile
        from ..device.chip_profile import ChipProfile

        chip = ChipProfile.model_validate_json(chip_json)
        profile = measured_profile(profile, chip)
    return run_unit(cfg, profile, x, dt, window, sigma, seeds, chip=chip, precise_timing=precise_timing, lateness=lateness)


def float_task(network, profile_source: str, x, dt, window, factors, precise_timing: bool = False, lateness=None):
    """One unit of the float network's draws on a worker (:func:`~neurodeploy.verification.float_draws.run_float_unit`;
    the profile rebuilt from its source)."""
    from ..compiled_programs import release_if_crowded
    from ..device.profile import load_profile
    from ..verification.float_draws import run_float_unit

    release_if_crowded()
    return run_float_unit(network, load_profile(profile_source), x, dt, window, factors, precise_timing=precise_timing,
                          lateness=lateness)


class RayEngine:
    """Units as Ray tasks (one CPU each), on a cluster at ``address`` ("auto": the running one) or on a local
    one started here with ``num_cpus``. A task whose worker dies is retried by Ray (``max_retries``)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3, task=None):
        self.address, self.num_cpus, self.max_retries = address, num_cpus, max_retries
        self.task = task or unit_task

    def start(self) -> None:
        """Connect to the cluster, or start a local one — before this process starts JAX's threads (Ray
        forks its helper processes)."""
        import logging

        ray = require_ray()
        if not ray.is_initialized():
            kw = {"address": self.address} if self.address else {"num_cpus": self.num_cpus}
            ray.init(**kw, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                     runtime_env={"env_vars": worker_env()})

    def map_units(self, cfg, profile, x, dt, window, sigma, seeds_by_unit: dict, progress=None, chip=None,
                  precise_timing: bool = False, lateness=None):
        ray = require_ray()
        self.start()
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(self.task)
        src = profile.source or profile.name           # a measured profile keeps its device profile's source
        cfg_json, x_ref = cfg.dumps(), ray.put(x)
        extra = () if chip is None else (chip.model_dump_json(),)
        timing = {"precise_timing": True} if precise_timing else {}
        if lateness is not None:
            timing["lateness"] = ray.put(lateness)
        pending = {remote.remote(cfg_json, src, x_ref, dt, window, sigma, seeds_by_unit[u], *extra, **timing): u
                   for u in sorted(seeds_by_unit)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                u = pending.pop(ref)
                counts = ray.get(ref)
                if progress is not None:
                    progress(u)
                yield u, counts

    def map_float_units(self, network, profile, x, dt, window, factors_by_unit: dict, precise_timing: bool = False,
                        lateness=None):
        ray = require_ray()
        self.start()
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(float_task)
        net_ref, x_ref, src = ray.put(network), ray.put(x), profile.source or profile.name
        timed = {} if lateness is None else {"lateness": ray.put(lateness)}     # as map_units: only when given
        pending = {remote.remote(net_ref, src, x_ref, dt, window, factors_by_unit[u], precise_timing, **timed): u
                   for u in sorted(factors_by_unit)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
