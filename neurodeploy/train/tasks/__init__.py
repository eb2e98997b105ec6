"""Built-in tasks, one module each (numpy only), and a user's data file as a task.

``BUILTIN[name](**options)`` builds a task; :func:`get_task` does with a clear error for an unknown name;
:func:`load_data_file` reads a ``--data`` npz.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from pathlib import Path

from ..task import TASK_NAMES, Task, TrainError

_MODULES = {"frozen-noise": ("frozen_noise", "FrozenNoise"),
            "temporal-xor": ("temporal_xor", "TemporalXor"),
            "digits": ("digits", "Digits"),
            "coincidence": ("coincidence", "Coincidence")}


def _factory(name: str):
    module, cls = _MODULES[name]

    def make(**options):
        klass = getattr(import_module(f"{__name__}.{module}"), cls)
        known = list(inspect.signature(klass).parameters)
        unknown = [k for k in options if k not in known]
        if unknown:
            raise TrainError(f"task {name}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                             f"(options: {', '.join(known)})")
        return klass(**options)

    make.__name__ = cls
    return make


BUILTIN = {name: _factory(name) for name in _MODULES}


def get_task(name: str, **options) -> Task:
    """A built-in task by name; ``options`` are its constructor arguments (e.g. ``n_samples=3``)."""
    if name not in BUILTIN:
        raise TrainError(f"unknown task '{name}' (built-in tasks: {', '.join(TASK_NAMES)}; "
                         f"or pass your own data with --data FILE.npz)")
    return BUILTIN[name](**options)


def load_data_file(path: str | Path, **options) -> Task:
    """A user's ``--data`` npz (``spikes`` [n, T, n_in] counts, ``labels`` [n], ``dt``) as a Task.

    Strictly validated (never unpickled); a bad file raises :class:`TrainError` naming the file, the field
    and what to change. Train/val are a deterministic stratified split of the file's trials.
    """
    from .datafile import DataFileTask

    return DataFileTask.from_file(path, **options)
