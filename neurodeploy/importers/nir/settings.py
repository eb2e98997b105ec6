"""The import's settings: options checked and completed from the graph (dt, convention, units, weight scale, time scale).

``time_scale`` K slows the network down K× on the chip: the step becomes ``dt = K·dt_source``, every time
constant and delay read from the file (and every time given as an option: ``tau_*``, ``t_ref``, ``t_pulse``) is
multiplied by K, so the network computes the same in K× longer time (rates ÷ K); its inputs are the source's
rasters with ``dt`` × K. Weight gains ``r·w_in·dt/τ`` and decay factors ``exp(−dt/τ)`` are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import NetworkError
from .._common import NEURON_OPTIONS, SYNAPSES, TIME_OPTIONS, positive_float

CONVENTIONS = ("nir", "snntorch", "norse", "sinabs", "spikingjelly", "rockpool", "neurodeploy")
TAU_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
OPTIONS = ("dt", "convention", "tau_unit", "export_dt", "weight_scale", "synapse", "raw_weights", "name",
           "time_scale") + NEURON_OPTIONS
DEFAULT_EXPORT_DT = {"snntorch": 1e-4, "spikingjelly": 1e-4, "norse": 1e-3}
DEFAULT_TAU_UNIT = {"nir": "s", "snntorch": "s", "norse": "s", "sinabs": "steps", "spikingjelly": "s", "rockpool": "s",
                    "neurodeploy": "s"}
#: weight current per unit weight (A) when the option weight_scale is not given
DEFAULT_WEIGHT_SCALE = 1e-8


@dataclass
class Settings:
    """What the import needs to know besides the graph. ``weight_scale`` is None when not given as an option."""

    src: str
    convention: str
    dt: float                                           # the network's step on the chip (s): time_scale · source_dt
    tau_unit: str
    tau_unit_given: bool
    export_dt: float | None
    weight_scale: float | None
    synapse: str
    raw_weights: bool
    name: str | None
    overrides: dict = field(default_factory=dict)      # neuron parameters given as options, for every population
    ws_default: float = DEFAULT_WEIGHT_SCALE
    tau_max: float = 0.0                                # the longest membrane τ the chip makes (s), for IF/I nodes
    time_scale: float = 1.0                             # K: every time of the source × K on the chip

    @property
    def source_dt(self) -> float:
        """The source's own step (s): the option's or the graph's dt, before ``time_scale``."""
        return self.dt / self.time_scale

    @property
    def neurodeploy(self) -> bool:
        return self.convention == "neurodeploy"

    def tau_seconds(self, tau: np.ndarray) -> np.ndarray:
        """A time constant as the file writes it → seconds on the chip, by the convention (see the package doc),
        times ``time_scale``."""
        if self.convention in ("snntorch", "spikingjelly") and not self.tau_unit_given:
            return tau * (self.dt / self.export_dt)
        if self.convention == "norse" and not self.tau_unit_given:
            return tau / self.export_dt * self.time_scale
        return tau * self.dt if self.tau_unit == "steps" else tau * TAU_UNITS[self.tau_unit] * self.time_scale


    def delay_seconds(self, d: np.ndarray) -> np.ndarray:
        """A Delay node's delay as the file writes it → seconds: in ``tau_unit`` (s, ms, us, or steps of dt; the
        frameworks' export-dt conventions of τ do not apply to delays), times ``time_scale``."""
        return d * self.dt if self.tau_unit == "steps" else d * TAU_UNITS[self.tau_unit] * self.time_scale


def _time_step(src: str, options: dict, graph_meta: dict, assumptions: list[str]) -> float:
    if "dt" in options and options["dt"] is not None:
        dt = positive_float(src, "dt", options["dt"])
        if "dt" in graph_meta:
            said = float(np.asarray(graph_meta["dt"], dtype=np.float64).reshape(-1)[0])
            assumptions.append(f"dt = {dt} s from the option (the graph's metadata says {said})")
        else:
            assumptions.append(f"dt = {dt} s (option)")
        return dt
    if "dt" in graph_meta:
        dt = positive_float(src, "metadata dt", graph_meta["dt"])
        assumptions.append(f"dt = {dt} s (from the graph's metadata)")
        return dt
    raise NetworkError(f"{src}: NIR carries no time step: give the import option dt in seconds (-O dt=0.001; for "
                    f"commands without -O convert first: neurodeploy export FILE.nir -O dt=0.001 -o model.json)")


def parse_settings(src: str, options: dict, graph_meta: dict, from_neurodeploy: bool,
                   assumptions: list[str]) -> Settings:
    """Check the options (unknown names are refused earlier, by ``check_options``) and complete them from the graph."""
    convention = options.get("convention") or ("neurodeploy" if from_neurodeploy else "nir")
    if convention not in CONVENTIONS:
        raise NetworkError(f"{src}: option convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    dt = _time_step(src, options, graph_meta, assumptions)
    tau_unit = options.get("tau_unit") or DEFAULT_TAU_UNIT[convention]
    if tau_unit not in (*TAU_UNITS, "steps"):
        raise NetworkError(f"{src}: option tau_unit: expected s, ms, us or steps, got {tau_unit!r}")
    export_dt = positive_float(src, "export_dt", options["export_dt"]) if options.get("export_dt") is not None \
        else DEFAULT_EXPORT_DT.get(convention)
    weight_scale = positive_float(src, "weight_scale", options["weight_scale"]) \
        if options.get("weight_scale") is not None else None
    synapse = options.get("synapse", "auto")
    if synapse not in SYNAPSES:
        raise NetworkError(f"{src}: option synapse: expected one of {', '.join(SYNAPSES)}, got {synapse!r}")
    k = _time_scale(src, options, convention, dt, assumptions)
    return Settings(src=src, convention=convention, dt=dt * k, tau_unit=tau_unit, tau_unit_given=bool(options.get("tau_unit")),
                    export_dt=export_dt, weight_scale=weight_scale, synapse=synapse,
                    raw_weights=bool(options.get("raw_weights", False)) or convention == "neurodeploy",
                    name=options.get("name"), time_scale=k,
                    overrides={key: _scaled(key, options[key], k) for key in NEURON_OPTIONS if options.get(key) is not None})


def _time_scale(src: str, options: dict, convention: str, dt: float, assumptions: list[str]) -> float:
    """The option time_scale K (1 when not given); K ≥ 1 slows the network down."""
    if options.get("time_scale") is None:
        return 1.0
    k = positive_float(src, "time_scale", options["time_scale"])
    if convention == "neurodeploy":
        raise NetworkError(f"{src}: option time_scale: a file written by neurodeploy export holds the chip's currents, "
                        f"not a source network's time constants; give time_scale when importing the source network")
    assumptions.append(f"time_scale {k:g}: the network runs {k:g}x slower than the source (dt {dt:g} s -> "
                       f"{dt * k:g} s; every time constant, delay and time option x {k:g}; input rasters with dt x {k:g})")
    return k


def _scaled(key: str, value, k: float):
    """A neuron option as the chip gets it: times (``tau_*``, ``t_ref``, ``t_pulse``) × K, currents as given."""
    if k == 1.0 or key not in TIME_OPTIONS or isinstance(value, (str, bool)):
        return value
    try:
        return (np.asarray(value, dtype=np.float64) * k).tolist()
    except (TypeError, ValueError):
        return value           # neuron_overrides names the bad value
