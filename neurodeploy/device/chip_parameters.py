"""Chip-level bias parameters of a device profile (``chip_parameters`` in ``device_profiles/*.yaml``).

samna holds some of Dynap-SE2's biases per chip rather than per core, in maps of
``Dynapse2Configuration.chips[h]``. A profile lists them by group:

* ``global``     — ``global_parameters``;
* ``shared``     — ``shared_parameters01`` (cores 0-1) and ``shared_parameters23`` (cores 2-3), the same names;
* ``sadc_group`` — ``sadc_group_parameters01[i]`` and ``sadc_group_parameters23[i]``, i = 0..2, the same names.

Each parameter has a transistor type (N/P, or none where the name carries none), an optional default
(coarse, fine) every config neurodeploy makes writes into every map of its group, where that default
comes from, and its meaning. None of them is modelled by the simulator.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from ..basemodel import FileModel

#: Group → the field of a config's chip (:class:`neurodeploy.config.config_json.ChipConfig`) holding its codes.
CHIP_PARAMETER_GROUPS: dict[str, str] = {
    "global": "global_parameters", "shared": "shared_parameters", "sadc_group": "sadc_group_parameters"}
#: The pairs of cores sharing samna's ``shared_parameters01/23`` and ``sadc_group_parameters01/23`` maps
#: (cores 0-1 and 2-3), and the sADC groups per pair (each ``sadc_group_parameters01/23`` is a list of 3 maps).
CORE_PAIRS: tuple[str, ...] = ("01", "23")
SADC_GROUPS = 3
#: Group → the samna maps of ``Dynapse2Configuration.chips[h]`` holding its names (for messages).
CHIP_PARAMETER_SAMNA_MAPS: dict[str, str] = {
    "global": "global_parameters", "shared": "shared_parameters01 and shared_parameters23",
    "sadc_group": "sadc_group_parameters01[0..2] and sadc_group_parameters23[0..2]"}

_LAX = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)


class ChipParameterSpec(FileModel):
    """A chip-level parameter: held by samna per chip (or per pair of cores), not in a core's map."""

    model_config = _LAX

    type: Literal["N", "P"] | None = None
    default: tuple[int, int] | None = None
    source: str = ""
    meaning: str = ""


class ChipParameters(FileModel):
    """Chip-level parameters by group (``global``, ``shared``, ``sadc_group``); a name lives in one group."""

    model_config = ConfigDict(**_LAX, populate_by_name=True)

    global_: dict[str, ChipParameterSpec] = Field(default_factory=dict, alias="global")
    shared: dict[str, ChipParameterSpec] = Field(default_factory=dict)
    sadc_group: dict[str, ChipParameterSpec] = Field(default_factory=dict)

    def groups(self) -> dict[str, dict[str, ChipParameterSpec]]:
        """Group name → its parameters, in :data:`CHIP_PARAMETER_GROUPS` order."""
        return {"global": self.global_, "shared": self.shared, "sadc_group": self.sadc_group}

    @cached_property
    def group_of(self) -> dict[str, str]:
        """Parameter name → its group."""
        return {n: g for g, params in self.groups().items() for n in params}

    def defaults(self, group: str) -> dict[str, tuple[int, int]]:
        """(coarse, fine) defaults of a group, in profile order (a parameter without one is left out: not written)."""
        return {n: tuple(p.default) for n, p in self.groups()[group].items() if p.default is not None}

    @model_validator(mode="after")
    def _one_group_each(self):
        seen: dict[str, str] = {}
        bad = []
        for group, params in self.groups().items():
            for name in params:
                if name in seen:
                    bad.append(f"$.{group}.{name}: also listed in group '{seen[name]}'; a parameter lives in one "
                               f"group of samna maps: remove one of the two")
                seen.setdefault(name, group)
        if bad:
            raise ValueError("\n".join(bad))
        return self

    def problems(self, core_parameters, coarse_levels: int, fine_levels: int) -> list[str]:
        """``$.chip_parameters...: message`` per name that is also a core parameter and per default outside the
        bias generator's levels (checked by the profile, which knows both)."""
        bad = []
        for group, params in self.groups().items():
            for name, p in params.items():
                where = f"$.chip_parameters.{group}.{name}"
                if name in core_parameters:
                    bad.append(f"{where}: also listed in $.parameters; samna holds it per chip "
                               f"({CHIP_PARAMETER_SAMNA_MAPS[group]}), not per core: remove it from $.parameters")
                if p.default is not None and not (0 <= p.default[0] < coarse_levels and 0 <= p.default[1] < fine_levels):
                    bad.append(f"{where}.default: ({p.default[0]}, {p.default[1]}) outside coarse 0..{coarse_levels - 1}, "
                               f"fine 0..{fine_levels - 1}")
        return bad
