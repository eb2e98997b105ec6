"""HardwareConfig: exactly what a Dynap-SE2 board holds (``config.json``), nothing float.

Format ``neurodeploy.config/1``::

    {
     "format": "neurodeploy.config/1",
     "profile": {"name": "dynapse2", "sha256": "..."},
     "neurodeploy_version": "0.1.0", "source_model_sha256": "...", "seed": 0,
     "chips": [
      {"chip": 0, "position": [0, 0],
       "global_parameters": {"R2R_BUFFER_AMPB": {"coarse": 5, "fine": 255}, ...},
       "shared_parameters": {"01": {"LBWR_VB_P": {"coarse": 5, "fine": 255}, ...}, "23": {...}},
       "sadc_group_parameters": {"01": [{"NCCF_BIAS_P": {"coarse": 5, "fine": 200}, ...}, {...}, {...}], "23": [...]},
       "cores": [
        {"core": 0,
         "parameters": {"SOIF_LEAK_N": {"coarse": 0, "fine": 27}, ...},
         "neurons": [
          {"neuron": 5, "latch_so_dc": false, ...,
           "synapses": [[17, "ampa", "1010"], [18, "gaba", "0001", ["stp"]]],
           "destinations": [{"tag": 5, "core": [true, false, false, false], "x_hop": 0, "y_hop": 0}]}
         ]}
       ]}
     ],
     "inputs": [{"channel": 0, "destinations": [{"chip": 0, "tag": 1024, "core": [true, true, false, false]}]}],
     "outputs": [{"name": "out[0]", "chip": 0, "core": 1, "neuron": 3}],
     "placement": [{"population": "out", "chip": [0, 0], "core": [1, 1], "neuron": [3, 4]}]
    }

A CAM entry (``synapses``, ≤ 64 per neuron) is ``[tag, dendrite, mask]``: tag 0..2047; dendrite
none/ampa/nmda/gaba/shunt; mask a 4-char string of 0/1, character i selecting base weight
SYAM_Wi_P (so "1010" = W0 + W2). The entry flags precise_delay, mismatched_delay and stp are rare
and live in ``synapse_flags`` {entry index: [flags]}. (The compact list form keeps a full 4-chip
board's 262 144 CAM entries readable, one neuron per few lines, and fast to validate.) A destination (SRAM, ≤ 4 per neuron) sends
the neuron's events with ``tag`` to the chip ``x_hop``, ``y_hop`` away (each −7..7), to the
cores whose ``core`` mask bit is set. Neurons absent from a core's list are unused: all latches
off, no synapses, no destinations. Parameters absent from a core keep samna's defaults.

Chip-level parameters (optional, each chip): samna holds some biases per chip rather than per core —
``global_parameters`` (samna's ``chips[h].global_parameters``), ``shared_parameters`` by pair of cores
(key ``"01"``: samna's ``shared_parameters01``, cores 0-1; ``"23"``: ``shared_parameters23``, cores 2-3)
and ``sadc_group_parameters`` by pair of cores, a list of exactly 3 maps, one per sADC group
(``sadc_group_parameters01[i]`` / ``sadc_group_parameters23[i]``). Every map is ``{name: {coarse, fine}}``
like a core's ``parameters``; the names each group takes are the profile's ``chip_parameters``. A group,
a pair, or a name that is absent (or an empty map) keeps samna's value. The emulator does not model them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from .. import rules
from ..basemodel import LAX_CONTAINER, FileModel, IntKey
from ..device.chip_parameters import CORE_PAIRS, SADC_GROUPS
from ..device.dendrites import CAM_DENDRITES
from ..device.profile import FORMAT_BIAS_LEVELS, FORMAT_GEOMETRY
from ..errors import ConfigError, validation_lines
from ..fileio import RawJSON, dumps_json, parse_json

CONFIG_FORMAT = "neurodeploy.config/1"

LATCHES: tuple[str, ...] = (
    "latch_so_dc", "latch_so_adaptation", "latch_soif_kill", "latch_denm_nmda",
    "latch_coho_ca_mem", "latch_ho_enable", "latch_ho_so_de", "latch_deam_ampa",
    "latch_de_conductance", "latch_deam_alpha", "latch_denm_alpha", "latch_de_mux",
    "latch_soif_type", "latch_ho_active",
)
CAM_FLAGS = ("precise_delay", "mismatched_delay", "stp")

# The file format's bounds are Dynap-SE2's (the profile's default geometry); a config is checked against the
# geometry of the profile it names by the registry's ``profile`` rules (``neurodeploy validate``).
_G = FORMAT_GEOMETRY
_B = FORMAT_BIAS_LEVELS
Tag = Annotated[int, Field(ge=0, le=_G.n_tags - 1)]
Hop = Annotated[int, Field(ge=-_G.max_hop, le=_G.max_hop)]
Mask4 = Annotated[str, Field(pattern=r"^[01]{%d}$" % _G.weight_bits)]
CoreMask = Annotated[list[bool], Field(min_length=_G.cores_per_chip, max_length=_G.cores_per_chip)]
DendriteName = Literal[CAM_DENDRITES]
CamFlag = Literal["precise_delay", "mismatched_delay", "stp"]
CamEntry = Annotated[tuple[Tag, DendriteName, Mask4], LAX_CONTAINER]


_Model = FileModel


class Code(_Model):
    """A bias generator code."""

    coarse: int = Field(ge=0, le=_B[0] - 1)
    fine: int = Field(ge=0, le=_B[1] - 1)


class Destination(_Model):
    """An SRAM entry: where a neuron's spikes go."""

    tag: Tag
    core: CoreMask
    x_hop: Hop = 0
    y_hop: Hop = 0


class NeuronConfig(_Model):
    neuron: int = Field(ge=0, le=_G.neurons_per_core - 1)
    latch_so_dc: bool = False
    latch_so_adaptation: bool = False
    latch_soif_kill: bool = False
    latch_denm_nmda: bool = False
    latch_coho_ca_mem: bool = False
    latch_ho_enable: bool = False
    latch_ho_so_de: bool = False
    latch_deam_ampa: bool = False
    latch_de_conductance: bool = False
    latch_deam_alpha: bool = False
    latch_denm_alpha: bool = False
    latch_de_mux: bool = False
    latch_soif_type: bool = False
    latch_ho_active: bool = False
    synapses: list[CamEntry] = Field(default_factory=list, max_length=_G.cam_entries_per_neuron)
    synapse_flags: dict[IntKey, list[CamFlag]] = Field(
        default_factory=dict, description="CAM entry index → flags (precise_delay, mismatched_delay, stp); absent = none")
    destinations: list[Destination] = Field(default_factory=list, max_length=_G.sram_entries_per_neuron)


class CoreConfig(_Model):
    core: int = Field(ge=0, le=_G.cores_per_chip - 1)
    parameters: dict[str, Code] = Field(default_factory=dict)
    neurons: list[NeuronConfig] = Field(default_factory=list, max_length=_G.neurons_per_core)


#: A pair of cores (:data:`neurodeploy.device.chip_parameters.CORE_PAIRS`): the key of ``shared_parameters`` and
#: ``sadc_group_parameters``; samna's attributes end with the same digits (``shared_parameters01``).
CorePair = Literal[CORE_PAIRS]
#: The chip-level fields of a ChipConfig, in file order.
CHIP_PARAMETER_FIELDS: tuple[str, ...] = ("global_parameters", "shared_parameters", "sadc_group_parameters")
ParameterMap = dict[str, Code]
SadcGroupMaps = Annotated[list[ParameterMap], Field(min_length=SADC_GROUPS, max_length=SADC_GROUPS)]


class ChipConfig(_Model):
    chip: int = Field(ge=0)
    position: Annotated[tuple[Annotated[int, Field(ge=-64, le=64)], Annotated[int, Field(ge=-64, le=64)]], LAX_CONTAINER] = Field(
        (0, 0), description="the chip's (x, y) place on the board's mesh; hops between chips are differences of positions")
    global_parameters: ParameterMap = Field(
        default_factory=dict, description="chip-level codes of samna's chips[h].global_parameters; absent = samna's value")
    shared_parameters: dict[CorePair, ParameterMap] = Field(
        default_factory=dict, description="codes by pair of cores: '01' = samna's shared_parameters01 (cores 0-1), "
                                          "'23' = shared_parameters23 (cores 2-3); absent = samna's value")
    sadc_group_parameters: dict[CorePair, SadcGroupMaps] = Field(
        default_factory=dict, description="codes by pair of cores, one map per sADC group 0..2: '01' = samna's "
                                          "sadc_group_parameters01[i], '23' = sadc_group_parameters23[i]; absent = samna's value")
    cores: list[CoreConfig] = Field(default_factory=list, max_length=_G.cores_per_chip)

    def parameter_maps(self):
        """Every chip-level map the chip lists: (JSON path below the chip, group, pair, sADC group, {name: Code}),
        e.g. ``("shared_parameters.01", "shared", "01", None, {...})``; pair and sADC group are None where
        they do not apply. In file order."""
        if self.global_parameters:
            yield "global_parameters", "global", None, None, self.global_parameters
        for pair, codes in self.shared_parameters.items():
            yield f"shared_parameters.{pair}", "shared", pair, None, codes
        for pair, groups in self.sadc_group_parameters.items():
            for i, codes in enumerate(groups):
                yield f"sadc_group_parameters.{pair}[{i}]", "sadc_group", pair, i, codes


class InputDestination(_Model):
    chip: int = Field(ge=0)
    tag: Tag
    core: CoreMask


class InputChannel(_Model):
    channel: int = Field(ge=0)
    destinations: list[InputDestination] = Field(default_factory=list)


class OutputNeuron(_Model):
    name: str = ""
    chip: int = Field(ge=0)
    core: int = Field(ge=0, le=_G.cores_per_chip - 1)
    neuron: int = Field(ge=0, le=_G.neurons_per_core - 1)


class PlacementRecord(_Model):
    """Where each neuron of a population sits: parallel lists indexed by the neuron's index."""

    population: str
    chip: list[int]
    core: list[int]
    neuron: list[int]


class ProfileRef(_Model):
    name: str
    sha256: str


class HardwareConfig(_Model):
    format: Literal["neurodeploy.config/1"] = CONFIG_FORMAT
    profile: ProfileRef
    neurodeploy_version: str
    source_model_sha256: str = ""
    seed: int = 0
    chips: list[ChipConfig] = Field(min_length=1)
    inputs: list[InputChannel] = Field(default_factory=list)
    outputs: list[OutputNeuron] = Field(default_factory=list)
    placement: list[PlacementRecord] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rules(self):
        problems = check_config(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def dumps(self) -> str:
        return dumps_config(self)

    def save(self, path: str | Path) -> Path:
        from ..fileio import atomic_write_text

        return atomic_write_text(path, self.dumps())


def _neuron_text(n: NeuronConfig, pad: str) -> RawJSON:
    """One neuron as a few lines of JSON: header (id, set latches), CAM entries, destinations."""
    sep = (", ", ": ")
    head = {"neuron": n.neuron}
    for latch in LATCHES:
        if getattr(n, latch):
            head[latch] = True
    lines = [json.dumps(head, separators=sep)[:-1]]
    lines.append(f'"synapses": {json.dumps(n.synapses, separators=sep)}')
    if n.synapse_flags:
        lines.append(f'"synapse_flags": {json.dumps({str(k): v for k, v in sorted(n.synapse_flags.items())}, separators=sep)}')
    dst = [{"tag": x.tag, "core": x.core, "x_hop": x.x_hop, "y_hop": x.y_hop} for x in n.destinations]
    lines.append(f'"destinations": {json.dumps(dst, separators=sep)}' + "}")
    return RawJSON((",\n" + pad + " ").join(lines))


def _codes_text(codes: dict[str, Code]) -> RawJSON:
    """A chip-level map on one line: ``{"NAME": {"coarse": c, "fine": f}, ...}`` (names in their order)."""
    return RawJSON(json.dumps({k: {"coarse": c.coarse, "fine": c.fine} for k, c in codes.items()}, separators=(", ", ": ")))


def dumps_config(cfg: HardwareConfig) -> str:
    """Canonical text of a config: one neuron per few lines, latches written only when set, each chip-level map on
    one line (groups written only when the chip lists them)."""
    d = cfg.model_dump(mode="json", exclude={"chips"})
    chips = []
    for chip in cfg.chips:
        cores = []
        for core in chip.cores:
            cd = core.model_dump(mode="json", exclude={"neurons"})
            cd["neurons"] = [_neuron_text(n, " " * 8) for n in core.neurons]
            cores.append(cd)
        entry = {"chip": chip.chip, "position": list(chip.position)}
        if chip.global_parameters:
            entry["global_parameters"] = _codes_text(chip.global_parameters)
        if chip.shared_parameters:
            entry["shared_parameters"] = {pair: _codes_text(m) for pair, m in chip.shared_parameters.items()}
        if chip.sadc_group_parameters:
            entry["sadc_group_parameters"] = {pair: [_codes_text(m) for m in ms] for pair, ms in chip.sadc_group_parameters.items()}
        entry["cores"] = cores
        chips.append(entry)
    out = {}
    for k in HardwareConfig.model_fields:
        out[k] = chips if k == "chips" else d[k]
    return dumps_json(out)


def check_config(cfg: HardwareConfig) -> list[str]:
    """Cross-field rules (the registry's ``config`` scope); one ``$.path: [rule] message`` per problem."""
    return rules.check_config(cfg)


def config_from_dict(raw: Any, source: str = "<dict>") -> HardwareConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: $: expected a JSON object, got {type(raw).__name__}")
    if raw.get("format") != CONFIG_FORMAT:
        raise ConfigError(f"{source}: $.format: expected {CONFIG_FORMAT!r}, got {raw.get('format')!r}")
    try:
        return HardwareConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(source, lines=validation_lines(source, e)) from None


def load_config(path: str | Path) -> HardwareConfig:
    """Load and validate a hardware config file; one-line errors naming file and JSON path."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    if "NaN" not in text and "Infinity" not in text:
        # fast path: pydantic parses and validates in one pass (~3x faster than json.loads + model_validate
        # on a full board); any problem falls through to the path below, which words the errors
        try:
            return HardwareConfig.model_validate_json(text)
        except (ValidationError, ValueError, RecursionError):
            pass
    raw = parse_json(text, path, ConfigError)
    return config_from_dict(raw, str(path))


__all__ = [
    "CONFIG_FORMAT", "LATCHES", "CAM_FLAGS", "CORE_PAIRS", "SADC_GROUPS", "CHIP_PARAMETER_FIELDS", "Code", "Destination",
    "NeuronConfig", "CoreConfig", "ChipConfig",
    "InputDestination", "InputChannel", "OutputNeuron", "PlacementRecord", "ProfileRef", "HardwareConfig",
    "check_config", "config_from_dict", "load_config", "dumps_config",
]
