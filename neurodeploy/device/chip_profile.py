"""Chip profile: what a calibration measured on one board (``chip.yaml``, format ``neurodeploy.chip-profile/1``).

A chip profile refines a device profile (``device_profile``: its name and sha256) for one physical board:

* ``cores`` — per (chip, core): the analog constants the probes identify, each ``{value, sigma}`` (value in SI
  units, sigma the relative standard error), and per probed neuron the identified factors with their relative
  standard errors (parallel lists, in ``neurons`` order);
* ``provenance`` — backend, probe set, seed, neurodeploy version, the probes' board time (s);
* ``probe_data`` — the measurements the fit used, in an npz file next to this one, named with its sha256
  (checked on load).

Identified per core (the others keep the device profile's values; see :mod:`neurodeploy.calibration`):

    C_mem    effective, with the profile's U_T, κ, I_0:   τ_eff = U_T·C_mem/(κ·(I_tau + I_0))
    C_ref    effective, with the profile's V_th:          t_ref = V_th·C_ref/I_ref
    C_pulse  effective synaptic efficacy, with the profile's V_th: the AMPA drive ∝ V_th·C_pulse/I_pulse
    C_dly0, C_dly1, C_dly2   the delay stages, effective, with the profile's V_th: t_i = V_th·C_dly,i/I_dly,i
             (the delay probe, :mod:`neurodeploy.calibration.delay_probe`; present on every core exactly when
             ``delay_calibrated`` is true)

Per neuron (factors ≈ 1; a neuron's value is the core's times its factor):

    tau_mem     τ_eff factor                    t_ref       refractory period factor
    dc_drive    DC drive factor (I_gain·I_dc/(I_tau·I_spkthr) relative to nominal)
    ampa_drive  AMPA drive factor (the neuron's part of a synaptic event's effect on its membrane)

The file is YAML (JSON is YAML: :func:`write_chip_profile` writes canonical JSON, the same object → the same
bytes). Validation failures are one line per problem naming the file and the field (:class:`ProfileError`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, NonNegativeFloat, PositiveFloat, model_validator

from ..basemodel import FileModel
from ..errors import ProfileError
from .profile import validated_yaml

CHIP_PROFILE_FORMAT = "neurodeploy.chip-profile/1"
#: the per-core constants a calibration identifies, and the per-neuron factors
CONSTANTS: tuple[str, ...] = ("C_mem", "C_ref", "C_pulse", "C_dly0", "C_dly1", "C_dly2")
#: the delay stages' constants (written when the delay probe ran: ``delay_calibrated``)
DELAY_CONSTANTS: tuple[str, ...] = ("C_dly0", "C_dly1", "C_dly2")
FACTORS: tuple[str, ...] = ("tau_mem", "dc_drive", "t_ref", "ampa_drive")
ConstantName = Literal[CONSTANTS]
FactorName = Literal[FACTORS]


class _Model(FileModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Estimate(_Model):
    value: PositiveFloat
    sigma: NonNegativeFloat = Field(description="relative standard error (0.01 = 1 %)")


class CoreCalibration(_Model):
    chip: int = Field(ge=0)
    core: int = Field(ge=0, le=3)
    constants: dict[ConstantName, Estimate]
    neurons: list[int] = Field(description="probed neurons of the core (0..255), the order of every factor list")
    factors: dict[FactorName, list[PositiveFloat]]
    sigma: dict[FactorName, list[NonNegativeFloat]] = Field(description="relative standard error of each factor")

    @model_validator(mode="after")
    def _lengths(self):
        n = len(self.neurons)
        if any(not 0 <= v <= 255 for v in self.neurons) or len(set(self.neurons)) != n:
            raise ValueError("$.neurons: neuron indices must be distinct, 0..255")
        for group in ("factors", "sigma"):
            for k, v in getattr(self, group).items():
                if len(v) != n:
                    raise ValueError(f"$.{group}.{k}: {len(v)} values for {n} neurons (one per entry of neurons)")
        return self


class Provenance(_Model):
    backend: str
    probe_set: str
    seed: int | None = None
    neurodeploy_version: str
    board_time: NonNegativeFloat = Field(description="chip time of the probes (s)")


class ProbeData(_Model):
    file: str = Field(pattern=r"^[^/\\]+\.npz$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DeviceProfileRef(_Model):
    name: str
    sha256: str


class ChipProfile(_Model):
    format: Literal["neurodeploy.chip-profile/1"] = CHIP_PROFILE_FORMAT
    device_profile: DeviceProfileRef
    provenance: Provenance
    probe_data: ProbeData
    delay_calibrated: bool = Field(False, description="the delay stages were measured: every core has C_dly0..2")
    cores: list[CoreCalibration] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self):
        seen = [(c.chip, c.core) for c in self.cores]
        if len(set(seen)) != len(seen):
            raise ValueError("$.cores: a (chip, core) appears twice")
        for i, c in enumerate(self.cores):
            have = [k for k in DELAY_CONSTANTS if k in c.constants]
            if self.delay_calibrated and len(have) != len(DELAY_CONSTANTS):
                raise ValueError(f"$.cores[{i}].constants: delay_calibrated is true but chip {c.chip} core {c.core} lacks "
                                 f"{', '.join(k for k in DELAY_CONSTANTS if k not in have)} (measure them or set it false)")
            if not self.delay_calibrated and have:
                raise ValueError(f"$.cores[{i}].constants: {', '.join(have)} given but delay_calibrated is false "
                                 f"(set it true with all three, or remove them)")
        return self

    def core(self, chip: int, core: int) -> CoreCalibration | None:
        return next((c for c in self.cores if (c.chip, c.core) == (chip, core)), None)


def dumps_chip_profile(cp: ChipProfile) -> str:
    from ..fileio import dumps_json

    return dumps_json(cp.model_dump(mode="json"))


def write_chip_profile(path, cp: ChipProfile, probe_npz: bytes) -> list[Path]:
    """Write ``path`` and its probe data (``cp.probe_data.file`` next to it); atomic."""
    from ..fileio import atomic_write_bytes, atomic_write_text

    p = Path(path)
    return [atomic_write_bytes(p.parent / cp.probe_data.file, probe_npz), atomic_write_text(p, dumps_chip_profile(cp))]


def load_chip_profile(path, *, check_probe_data: bool = True) -> ChipProfile:
    """Read and validate a chip profile (YAML or JSON); its probe data must be next to it with the recorded sha256."""
    p = Path(path)
    if not p.is_file():
        raise ProfileError(f"{p}: chip profile not found (make one with `neurodeploy calibrate ... -o {p}`)")
    cp = validated_yaml(p, p.read_bytes(), ChipProfile, "chip-profile")
    if check_probe_data:
        data = p.parent / cp.probe_data.file
        if not data.is_file():
            raise ProfileError(f"{p}: $.probe_data.file: {data} not found (keep the probe data next to the chip profile)")
        if hashlib.sha256(data.read_bytes()).hexdigest() != cp.probe_data.sha256:
            raise ProfileError(f"{p}: $.probe_data.sha256: {data.name} does not match the recorded hash (changed since calibration)")
    return cp
