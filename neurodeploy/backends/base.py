"""The one backend interface: something that holds a HardwareConfig and runs input on it.

Both the bit-accurate emulator (``"emulator"``) and a Dynap-SE2 board driven through samna
(``"samna"``) implement :class:`Backend`::

    with get_backend("emulator", profile, mismatch=0.1, seed=3) as b:   # or "samna", device=..., bitfile=...
        b.load(cfg)                      # a validated HardwareConfig
        result = b.run(data)             # data = neurodeploy.inputs.load_input(path)
    write_result("out.npz", result, cfg)

Input (``data``) is what :func:`neurodeploy.inputs.load_input` reads: a raster
``{"spikes": [B, T, n_inputs] counts, "dt": s}`` (one column per model input channel) or FPGA
events ``{"events": [K, 4] (timestamp µs, tag, chip, core mask), "dt": s, "duration": s|None}``.

Output (:class:`RunResult`, written by :func:`write_result`) — ONE npz format for every backend:

* ``spikes`` [B, T, M] uint8: spikes per bin of each reported neuron — every configured neuron on
  the emulator; on a board the neurons it reports (those with a host route);
* ``outputs`` [B, T, n_out] uint8: spikes of the model outputs, in ``$.outputs`` order;
* ``sites`` [M, 3]: (chip, core, neuron) of each column of ``spikes``;
* ``neurons`` [M] str: the model neuron of each column, ``"population[index]"`` from the
  placement record (``""`` for a neuron the placement does not name);
* ``events`` [K, 5] int64: (batch, timestamp µs from the run's start, chip, core, neuron);
* ``dt`` (s) and ``output_names`` [n_out].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..errors import BackendError
from .fpga import unrouted_note


@dataclass
class RunResult:
    spikes: np.ndarray          # [B, T, M] spikes (counts) per bin of each reported neuron
    outputs: np.ndarray         # [B, T, n_out]
    sites: np.ndarray           # [M, 3] (chip, core, neuron)
    dt: float
    event_table: np.ndarray | None = None   # [K, 5] as measured; None → derived from ``spikes``
    info: dict | None = None                # backend notes (e.g. events dropped), printed by the CLI

    def events(self) -> np.ndarray:
        """[K, 5] (batch, timestamp µs, chip, core, neuron), time-ordered per batch."""
        if self.event_table is not None:
            return self.event_table
        from .events import spike_events

        s = self.spikes if self.spikes.ndim == 3 else self.spikes[0]
        return spike_events(s, self.sites, self.dt)


class Backend(ABC):
    """A board (real or emulated). ``load`` a config, then ``run`` inputs on it; ``close`` when done."""

    name: str = ""

    @abstractmethod
    def load(self, cfg) -> None:
        """Hold ``cfg`` (a validated :class:`~neurodeploy.config.model.HardwareConfig`)."""

    @abstractmethod
    def run(self, data: dict):
        """Run the input ``data`` (see module doc) on the loaded config → a :class:`RunResult`-like result."""

    def close(self) -> None:
        """Release the board (no-op for the emulator)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _emulator(profile, **options):
    from .emulator import EmulatorBackend

    return EmulatorBackend(profile, **options)


def _samna(profile, **options):
    from .samna_board import SamnaBackend

    return SamnaBackend(profile, **options)


#: backend name → factory(profile, **options); samna is imported only when a samna backend opens a board
BACKENDS = {"emulator": _emulator, "samna": _samna}


def get_backend(name: str, profile, **options) -> Backend:
    """The backend called ``name`` ("emulator" or "samna") for ``profile``, with its options."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}")
    return BACKENDS[name](profile, **options)


def placement_names(cfg, sites: np.ndarray) -> list[str]:
    """``"population[index]"`` of each (chip, core, neuron) row of ``sites`` (from the placement record)."""
    where = {}
    for p in cfg.placement:
        for j, s in enumerate(zip(p.chip, p.core, p.neuron)):
            where[s] = f"{p.population}[{j}]"
    return [where.get(tuple(int(v) for v in s), "") for s in np.asarray(sites).reshape(-1, 3)]


def write_result(path, result, cfg) -> None:
    """Write ``result`` as the one backend npz format (module doc); atomic, byte-identical for the same result."""
    from ..fileio import atomic_savez

    atomic_savez(path, spikes=np.minimum(result.spikes, 255).astype(np.uint8),
                 outputs=np.minimum(result.outputs, 255).astype(np.uint8), sites=result.sites, events=result.events(),
                 dt=np.float64(result.dt), output_names=np.array([o.name for o in cfg.outputs]),
                 neurons=np.array(placement_names(cfg, result.sites)))


def summary(result, cfg, verb: str = "ran") -> str:
    """One line: samples × steps, neurons, events, output spike counts (+ a line naming outputs the host
    cannot see, when there are such)."""
    n = np.asarray(result.outputs).sum(axis=(0, 1))
    note = unrouted_note((getattr(result, "info", None) or {}).get("outputs_without_host_route", []))
    return (("" if not note else note + "\n") + f"{verb} {result.spikes.shape[0]} sample(s) × {result.spikes.shape[1]} steps on {result.sites.shape[0]} neurons; "
            f"{len(result.events())} spike events; output spike counts "
            + ", ".join(f"{o.name}: {int(c)}" for o, c in zip(cfg.outputs, n)))


def summary_json(result, cfg, **extra) -> dict:
    """The summary as a JSON-able dict (``--json FILE`` of emulate and run)."""
    n = np.asarray(result.outputs).sum(axis=(0, 1))
    return {"samples": int(result.spikes.shape[0]), "steps": int(result.spikes.shape[1]), "dt": float(result.dt),
            "neurons": int(result.sites.shape[0]), "spike_events": int(len(result.events())), **extra,
            "output_spike_counts": {o.name: int(c) for o, c in zip(cfg.outputs, n)}}


def run_file(backend: Backend, config_path, input_path, output_path, profile=None):
    """Load a config file (checked against ``profile`` as ``validate`` does, when given) and an input
    file, run them on ``backend``, write the result npz → (cfg, result)."""
    from ..config.model import load_config
    from ..inputs import load_input

    if profile is not None:
        from ..validate import load_checked_config

        cfg = load_checked_config(config_path, profile)
    else:
        cfg = load_config(config_path)
    data = load_input(input_path, len(cfg.inputs), model=f"the config {config_path} ($.inputs)")
    backend.load(cfg)
    result = backend.run(data)
    write_result(output_path, result, cfg)
    return cfg, result
