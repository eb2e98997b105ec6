"""Device profile: geometry, limits, analog constants and bias generator of a chip.

A profile is a YAML file (``device_profiles/dynapse2.yaml``) plus two data files next to it
(measured bias-generator table, scale-factor curves). ``load_profile("dynapse2")`` loads the
built-in one; ``load_profile("path/to/calibrated.yaml")`` loads another. Bias parameters come in two
kinds: core parameters (``parameters``, one code per core) and chip-level ones (``chip_parameters``,
grouped as samna holds them per chip: ``global``, ``shared`` by each pair of cores, ``sadc_group``).
Every field is in SI units. Everything here is validated; a bad profile is a one-line :class:`ProfileError`
naming the file and the field.
"""

from __future__ import annotations

import csv
import hashlib
import io
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError, model_validator

from ..basemodel import FileModel
from .chip_parameters import ChipParameters
from .dendrites import DENDRITES
from ..errors import ProfileError, validation_lines
from ..fileio import load_yaml
from . import physics

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "device_profiles"

#: Per-neuron circuit currents the simulator knows (amperes), in a fixed order.
NEURON_QUANTITIES: tuple[str, ...] = (
    "Itau_mem", "Igain_mem", "Iref", "Ispkthr", "Idc",
    "Itau_ampa", "Igain_ampa", "Itau_nmda", "Igain_nmda", "If_nmda",
    "Itau_gaba", "Igain_gaba", "Itau_shunt", "Igain_shunt",
    "Ipulse", "Ipulse_ahp", "Itau_ahp", "Igain_ahp", "Iw_ahp",
)
#: Per-core base weight currents (amperes).
WEIGHT_QUANTITIES: tuple[str, ...] = ("Iw_0", "Iw_1", "Iw_2", "Iw_3")
#: Per-core synaptic delay stage currents (amperes): SYPD_DLY0_P..SYPD_DLY2_P (optional in a profile:
#: without them a config's delay bits cannot be decoded).
DELAY_QUANTITIES: tuple[str, ...] = ("Idly_0", "Idly_1", "Idly_2")
#: What every profile must model (the delay stages are optional).
REQUIRED_QUANTITIES: tuple[str, ...] = NEURON_QUANTITIES + WEIGHT_QUANTITIES
SIM_QUANTITIES: tuple[str, ...] = REQUIRED_QUANTITIES + DELAY_QUANTITIES

#: The x_hop of an SRAM entry that sends a neuron's events off the chip grid to the host/FPGA. An event
#: the host reads back from chip h carries x_hop = HOST_X_HOP + 1 + h.
HOST_X_HOP = -7
#: The core mask of that entry: all four cores. A destination with no core bit set is not a destination:
#: the router does not send it. Public evidence, all in agreement: Rockpool's Dynap-SE2 allocator builds
#: its monitor routes as ``[True, True, True, True], -7, -7`` and its config reader
#: (``hardware/from_config/memory.py``) counts a destination only ``if sum(dest.core) > 0``; the lab
#: scripts of haoran215/dynapse2 and Maryada-27/dynapse_homeostasis (``lib/dynapse2_util.py clear_srams``)
#: monitor neurons with ``core=[True]*4, x_hop=-7`` and fill unused entries with the all-False default.
HOST_CORE_MASK: tuple[bool, ...] = (True, True, True, True)


def reaches_host(x_hop: int, core) -> bool:
    """Whether an SRAM destination (x_hop, core mask) sends a neuron's events to the host: x_hop =
    HOST_X_HOP and at least one core bit (an all-False mask is not sent, see :data:`HOST_CORE_MASK`)."""
    return int(x_hop) == HOST_X_HOP and any(bool(b) for b in core)


def host_tag(core: int, neuron: int, neurons_per_core: int = 256) -> int:
    """The tag of a neuron's host route, core·neurons_per_core + neuron: unique on its chip, so that the host
    tells every observed neuron apart (two neurons of one chip on one host tag cannot be)."""
    return int(core) * int(neurons_per_core) + int(neuron)


def host_event_x_hop(chip: int) -> int:
    """x_hop of an event the host reads back from chip ``chip`` (−6 + chip)."""
    return HOST_X_HOP + 1 + chip


class _Strict(FileModel):
    # YAML reads some numbers as strings (1e-12 without a dot): a profile converts them (lax), and is frozen
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)


class Geometry(_Strict):
    cores_per_chip: PositiveInt = 4
    neurons_per_core: PositiveInt = 256
    cam_entries_per_neuron: PositiveInt = 64
    sram_entries_per_neuron: PositiveInt = 4
    n_tags: PositiveInt = 2048
    max_hop: PositiveInt = 7
    max_chips: PositiveInt = 4
    weight_bits: PositiveInt = 4

    @model_validator(mode="after")
    def _supported(self):
        """What the config format and the chips' digital logic can hold (Dynap-SE2): 4-bit core masks and
        weight masks, at most 256 neurons per core, 64 CAM and 4 SRAM entries, 11-bit tags, hops ±7."""
        limits = {"cores_per_chip": (4, 4), "neurons_per_core": (1, 256), "cam_entries_per_neuron": (1, 64),
                  "sram_entries_per_neuron": (1, 4), "n_tags": (1, 2048), "max_hop": (1, 7), "weight_bits": (4, 4),
                  "max_chips": (1, 64)}
        bad = [f"{k} = {getattr(self, k)} (supported: {lo}" + (f"..{hi})" if hi != lo else ")")
               for k, (lo, hi) in limits.items() if not lo <= getattr(self, k) <= hi]
        if bad:
            raise ValueError("unsupported geometry: " + "; ".join(bad) + " — neurodeploy targets Dynap-SE2's digital logic")
        return self


#: Dynap-SE2's geometry (Geometry's defaults): the bounds of the config file format.
FORMAT_GEOMETRY = Geometry()


class Dendrite(_Strict):
    samna_value: int = Field(ge=0)
    sign: Literal["none", "excitatory", "inhibitory"]


class Analog(_Strict):
    """Analog model constants (SI). ``calibrated: false`` marks uncalibrated model values."""

    calibrated: bool = False
    C_mem: PositiveFloat
    C_ampa: PositiveFloat
    C_nmda: PositiveFloat
    C_gaba: PositiveFloat
    C_shunt: PositiveFloat
    C_ahp: PositiveFloat
    C_ref: PositiveFloat
    C_pulse: PositiveFloat
    C_pulse_ahp: PositiveFloat
    I_0: PositiveFloat
    U_T: PositiveFloat
    kappa_n: PositiveFloat = Field(le=1.0)
    kappa_p: PositiveFloat = Field(le=1.0)
    V_th: PositiveFloat
    # positive feedback of the membrane, I_a = G·σ((I_mem − Θ)/W), as fractions of I_spkthr
    feedback_gain: PositiveFloat = 0.01
    feedback_threshold: PositiveFloat = Field(0.8, lt=1.0)
    feedback_norm: PositiveFloat = 0.02
    # synaptic delay circuit (eq. (8) of sim.physics): one capacitor per delay stage DLY0..DLY2, and the
    # mismatch of each stage relative to the chip's σ (DLY2 is a minimum-size transistor). UNCALIBRATED:
    # no published measurement; ``delay_calibrated`` says whether these were measured on a chip.
    delay_calibrated: bool = False
    C_dly0: PositiveFloat = 1.0e-12
    C_dly1: PositiveFloat = 1.0e-12
    C_dly2: PositiveFloat = 1.0e-12
    dly_mismatch: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = (1.0, 1.0, 3.0)

    @property
    def kappa(self) -> float:
        """Mean subthreshold slope factor used in τ = U_T·C/(κ·I)."""
        return 0.5 * (self.kappa_n + self.kappa_p)


class BiasGeneratorSpec(_Strict):
    table_file: str
    scale_curves_file: str
    scale_mode: Literal["curve", "constant"] = "curve"
    coarse_levels: PositiveInt = 6
    fine_levels: PositiveInt = 256


#: (coarse, fine) levels of Dynap-SE2's bias generator (BiasGeneratorSpec's defaults): the config format's bounds.
FORMAT_BIAS_LEVELS = (BiasGeneratorSpec.model_fields["coarse_levels"].default, BiasGeneratorSpec.model_fields["fine_levels"].default)


class ParameterSpec(_Strict):
    type: Literal["N", "P"]
    geometry: str | None = None
    quantity: str | None = None
    constant_scale: PositiveFloat
    default: tuple[int, int] | None = None
    meaning: str = ""

    @model_validator(mode="after")
    def _check(self):
        if self.quantity is not None and self.quantity not in SIM_QUANTITIES:
            raise ValueError(f"unknown simulator quantity {self.quantity!r}; known: {', '.join(SIM_QUANTITIES)}")
        if self.quantity is not None and self.default is None:
            raise ValueError("a modelled parameter (quantity set) needs a default [coarse, fine]")
        return self


class DeviceProfile(_Strict):
    """A chip's profile: geometry, dendrites, analog constants, bias generator, core and chip-level parameters."""

    name: str
    description: str = ""
    geometry: Geometry
    dendrites: dict[str, Dendrite]
    analog: Analog
    bias_generator: BiasGeneratorSpec
    parameters: dict[str, ParameterSpec]
    chip_parameters: ChipParameters = Field(default_factory=ChipParameters)   # lab-practice defaults, see chip_parameters.py

    # filled in by load_profile (not part of the YAML)
    source: str = Field(default="", exclude=True)
    sha256: str = Field(default="", exclude=True)
    table: np.ndarray | None = Field(default=None, exclude=True)          # [2 (N,P), coarse, fine]
    scale_currents: np.ndarray | None = Field(default=None, exclude=True)  # [n_points]
    scale_curves: dict[str, np.ndarray] | None = Field(default=None, exclude=True)

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self):
        missing = [d for d in ("none",) + DENDRITES if d not in self.dendrites]
        if missing:
            raise ValueError(f"dendrites: missing {', '.join(missing)}")
        seen: dict[str, str] = {}
        for pname, p in self.parameters.items():
            if p.quantity is None:
                continue
            if p.quantity in seen:
                raise ValueError(f"parameters.{pname}: quantity {p.quantity} is already set by {seen[p.quantity]}")
            seen[p.quantity] = pname
            if p.default is not None:
                c, f = p.default
                if not (0 <= c < self.bias_generator.coarse_levels and 0 <= f < self.bias_generator.fine_levels):
                    raise ValueError(f"parameters.{pname}.default: ({c}, {f}) outside coarse 0..{self.bias_generator.coarse_levels-1}, fine 0..{self.bias_generator.fine_levels-1}")
        absent = [q for q in REQUIRED_QUANTITIES if q not in seen]
        if absent:
            raise ValueError(f"parameters: no parameter sets {', '.join(absent)}")
        bad = self.chip_parameters.problems(self.parameters, self.bias_generator.coarse_levels, self.bias_generator.fine_levels)
        if bad:
            raise ValueError("\n".join(bad))
        return self

    # ---- lookups -------------------------------------------------------------------------
    @cached_property
    def quantity_to_parameter(self) -> dict[str, str]:
        return {p.quantity: n for n, p in self.parameters.items() if p.quantity is not None}

    @cached_property
    def modelled_parameters(self) -> tuple[str, ...]:
        """Parameters that set a simulator quantity, in profile order."""
        return tuple(n for n, p in self.parameters.items() if p.quantity is not None)

    def parameter(self, name: str) -> ParameterSpec:
        try:
            return self.parameters[name]
        except KeyError:
            raise ProfileError(f"{self.source or self.name}: unknown parameter {name!r}; known: {', '.join(self.parameters)}") from None

    @cached_property
    def bias(self):
        """The profile's :class:`neurodeploy.device.bias.BiasGenerator`."""
        from .bias import BiasGenerator

        return BiasGenerator(self)

    def default_currents(self) -> dict[str, float]:
        """Simulator quantity → current (A) of the profile's default (coarse, fine) codes."""
        out = {}
        for q, pname in self.quantity_to_parameter.items():
            c, f = self.parameters[pname].default
            out[q] = float(self.bias.to_current(pname, c, f))
        return out

    def tau_to_current(self, tau: float, capacitance: str) -> float:
        """τ = U_T·C/(κ·I)  ⇒  I = U_T·C/(κ·τ)  (A), for the named capacitance (e.g. ``C_mem``)."""
        a = self.analog
        return physics.tau_current(tau, getattr(a, capacitance), a.U_T, a.kappa)

    def current_to_tau(self, current: float, capacitance: str) -> float:
        a = self.analog
        return physics.time_constant(getattr(a, capacitance), current, a.U_T, a.kappa)

    def pulse_to_current(self, width: float, capacitance: str = "C_pulse") -> float:
        """t_pulse = V_th·C/I  ⇒  I = V_th·C/t_pulse (A)."""
        return physics.pulse_current(width, getattr(self.analog, capacitance), self.analog.V_th)

    @property
    def models_delays(self) -> bool:
        """Whether every delay stage DLY0..DLY2 has a parameter (:data:`DELAY_QUANTITIES`)."""
        return all(q in self.quantity_to_parameter for q in DELAY_QUANTITIES)

    def delay_times(self, currents) -> tuple:
        """(t_dly0, t_dly1, t_dly2) (s) of the three delay stages for their currents (A): t = V_th·C_dly,i/I_dly,i."""
        a = self.analog
        return tuple(physics.delay_time(getattr(a, f"C_dly{i}"), currents[i], a.V_th) for i in range(3))


def _read_csv_numbers(path: Path) -> tuple[list[str], np.ndarray]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = rows[0], rows[1:]
    try:
        data = np.array([[float(x) for x in r] for r in body], dtype=np.float64)
    except ValueError as e:
        raise ProfileError(f"{path}: not a table of numbers ({e})") from None
    if data.ndim != 2 or (len(body) and data.shape[1] != len(header)):
        raise ProfileError(f"{path}: rows have different lengths from the header ({len(header)} columns)")
    return header, data


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in str(name_or_path):
        return p
    return BUILTIN_DIR / f"{name_or_path}.yaml"


def _table_path(profile_path: Path, name: str, field: str) -> Path:
    """A bias table named in a profile: a plain file name, looked up next to the profile, then in the
    built-in profile folder (so a copied YAML keeps using the measured tables). Paths that leave those
    folders are refused (the message never quotes the file)."""
    p = Path(name)
    if p.name != name or name in ("", ".", ".."):
        raise ProfileError(f"{profile_path}: $.bias_generator.{field}: {name!r} must be a plain file name (no "
                           f"directories): tables are read next to the profile or from the built-in folder {BUILTIN_DIR}")
    for folder in (profile_path.parent, BUILTIN_DIR):
        if (folder / name).is_file():
            return folder / name
    raise ProfileError(f"{profile_path}: $.bias_generator.{field}: file {name} found neither next to the profile "
                       f"nor in {BUILTIN_DIR}")


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


_CACHE: dict[tuple[str, float], DeviceProfile] = {}


def validated_yaml(path: Path, raw_bytes: bytes, model, what: str):
    """``raw_bytes`` (YAML or JSON) parsed and validated as ``model``; every problem as :class:`ProfileError`
    lines ``FILE: $.field: message`` (a syntax error with its line, a non-mapping, each failed field)."""
    try:
        raw = load_yaml(raw_bytes)
    except RecursionError:
        raise ProfileError(f"{path}: nested too deeply to be a {what}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ProfileError(f"{path}: {where}: YAML syntax error: {problem}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: $: expected a mapping of {what} fields, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ProfileError(str(path), lines=validation_lines(str(path), e)) from None


def load_profile(name_or_path: str | Path = "dynapse2") -> DeviceProfile:
    """Load and validate a device profile by built-in name or YAML path.

    Raises :class:`ProfileError` with one line per problem: ``FILE: $.field: message``.
    """
    path = _resolve(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin_profiles())
        raise ProfileError(f"{path}: profile not found (built-in profiles: {known}; or give a path to a .yaml file)")
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    raw_bytes = path.read_bytes()
    prof = validated_yaml(path, raw_bytes, DeviceProfile, "device profile")

    bg = prof.bias_generator
    table_path = _table_path(path, bg.table_file, "table_file")
    curves_path = _table_path(path, bg.scale_curves_file, "scale_curves_file")
    h = hashlib.sha256(raw_bytes)
    for p in (table_path, curves_path):
        h.update(p.read_bytes())
    header, data = _read_csv_numbers(table_path)
    expected_cols = 1 + 2 * bg.coarse_levels
    if data.shape != (bg.fine_levels, expected_cols):
        raise ProfileError(
            f"{path}: $.bias_generator.table_file: {table_path.name} has shape {data.shape[0]}x{data.shape[1]}, "
            f"expected {bg.fine_levels} fine rows x {expected_cols} columns (fine, N_0..N_{bg.coarse_levels-1}, P_0..P_{bg.coarse_levels-1})")
    if not np.array_equal(data[:, 0], np.arange(bg.fine_levels)):
        raise ProfileError(f"{path}: $.bias_generator.table_file: first column must be fine = 0..{bg.fine_levels-1} in order")
    cur = data[:, 1:]
    if not np.all(np.isfinite(cur)) or np.any(cur <= 0):
        raise ProfileError(f"{path}: $.bias_generator.table_file: currents must be finite and positive")
    table = np.stack([cur[:, : bg.coarse_levels].T, cur[:, bg.coarse_levels:].T])  # [2, coarse, fine]

    cheader, cdata = _read_csv_numbers(curves_path)
    if cheader[0] != "current" or cdata.shape[0] < 2:
        raise ProfileError(f"{path}: $.bias_generator.scale_curves_file: expected a 'current' column and at least 2 rows")
    if not np.all(np.diff(cdata[:, 0]) > 0) or np.any(cdata <= 0):
        raise ProfileError(f"{path}: $.bias_generator.scale_curves_file: currents must increase and all values be positive")
    curves = {name: cdata[:, i + 1].copy() for i, name in enumerate(cheader[1:])}
    for pname, p in prof.parameters.items():
        if p.geometry is not None and f"{p.type}{p.geometry}" not in curves:
            raise ProfileError(
                f"{path}: $.parameters.{pname}.geometry: no scale curve '{p.type}{p.geometry}' in {curves_path.name} "
                f"(available: {', '.join(curves)})")
    prof = prof.model_copy(update=dict(source=str(path), sha256=h.hexdigest(), table=table,
                                       scale_currents=cdata[:, 0].copy(), scale_curves=curves))
    _CACHE[key] = prof
    return prof
