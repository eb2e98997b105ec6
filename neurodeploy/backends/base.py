"""The one backend interface: something that holds a HardwareConfig and runs input on it.

Both the bit-accurate emulator (``"emulator"``) and a Dynap-SE2 board driven through samna
(``"samna"``) implement :class:`Backend` (by name: :func:`neurodeploy.backends.registry.get_backend`)::

    with get_backend("emulator", profile, mismatch=0.1, seed=3) as b:   # or "samna", device=..., bitfile=...
        b.load(cfg)                      # a validated HardwareConfig
        result = b.run(data)             # data = neurodeploy.inputs.load_input(path)
    write_result("out.npz", result, cfg)

Input (``data``) is what :func:`neurodeploy.inputs.load_input` reads: a raster
``{"spikes": [B, T, n_inputs] counts, "dt": s}`` (one column per model input channel; from input spike times
also ``"spike_times"``, which a board sends at their own µs and the emulator with ``precise_timing`` runs at their
times, :mod:`neurodeploy.input_times`) or FPGA events ``{"events": [K, 4] (timestamp µs, tag, chip, core mask),
"dt": s, "duration": s|None}``.

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

from .fpga import unrouted_note


@dataclass
class RunResult:
    spikes: np.ndarray          # [B, T, M] spikes (counts) per bin of each reported neuron
    outputs: np.ndarray         # [B, T, n_out]
    sites: np.ndarray           # [M, 3] (chip, core, neuron)
    dt: float
    event_table: np.ndarray | None = None   # [K, 5] as measured; None → derived from ``spikes``
    info: dict | None = None                # backend notes (e.g. events dropped), printed by the CLI
    window: object | None = None            # the read-out window (neurodeploy.inputs.Window) set by run_file

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
        """Hold ``cfg`` (a validated :class:`~neurodeploy.config.config_json.HardwareConfig`)."""

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


def _window_counts(result) -> tuple[np.ndarray, object | None]:
    """Output spike counts per output, summed over samples in the result's read-out window (all steps without one)."""
    w = getattr(result, "window", None)
    out = np.asarray(result.outputs)
    if w is not None:
        out = out[..., w.start:w.stop, :]
    return out.reshape(-1, out.shape[-2], out.shape[-1]).sum(axis=(0, 1)), w


def summary(result, cfg, verb: str = "ran") -> str:
    """One line: samples × steps, neurons, events, output spike counts — in the read-out window when the run has
    one (``result.window``, from the input's ``readout`` or ``--window``) — (+ a line naming outputs the host
    cannot see, when there are such)."""
    n, w = _window_counts(result)
    note = unrouted_note((getattr(result, "info", None) or {}).get("outputs_without_host_route", []))
    steps = result.spikes.shape[-2]
    where = "" if w is None or w.source == "whole trial" else f" in the read-out window ({w.describe(steps, result.dt)}):"
    return (("" if not note else note + "\n") + f"{verb} {result.spikes.shape[0]} sample(s) × {steps} steps on {result.sites.shape[0]} neurons; "
            f"{len(result.events())} spike events; output spike counts{where} "
            + ", ".join(f"{o.name}: {int(c)}" for o, c in zip(cfg.outputs, n)))


def summary_json(result, cfg, **extra) -> dict:
    """The summary as a JSON-able dict (``--json FILE`` of emulate and run); output counts in the read-out window."""
    n, w = _window_counts(result)
    out = {"samples": int(result.spikes.shape[0]), "steps": int(result.spikes.shape[1]), "dt": float(result.dt),
           "neurons": int(result.sites.shape[0]), "spike_events": int(len(result.events())), **extra}
    if w is not None:
        out["window"] = w.as_dict()
    out["output_spike_counts"] = {o.name: int(c) for o, c in zip(cfg.outputs, n)}
    return out


def run_file(backend: Backend, config_path, input_path, output_path, profile=None, window=None):
    """Load a config file (checked against ``profile`` as ``validate`` does, when given) and an input
    file, run them on ``backend``, write the result npz → (cfg, result). ``result.window`` is the read-out
    window: ``window`` ((start, stop) steps, ``--window``) over the input's ``readout``, else the whole trial."""
    from ..config.config_json import load_config
    from ..inputs import load_input, resolve_window

    if profile is not None:
        from ..validate import load_checked_config

        cfg = load_checked_config(config_path, profile)
    else:
        cfg = load_config(config_path)
    data = load_input(input_path, len(cfg.inputs), model=f"the config {config_path} ($.inputs)")
    if "spikes" in data:          # checked before the run; an events input's length is known after it
        resolve_window(data, window, data["spikes"].shape[1], input_path)
    backend.load(cfg)
    result = backend.run(data)
    result.window = resolve_window(data, window, np.asarray(result.outputs).shape[-2], input_path)
    write_result(output_path, result, cfg)
    return cfg, result
