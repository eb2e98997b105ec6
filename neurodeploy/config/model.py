"""HardwareConfig: exactly what a Dynap-SE2 board holds (``config.json``), nothing float.

Format ``neurodeploy.config/1``::

    {
     "format": "neurodeploy.config/1",
     "profile": {"name": "dynapse2", "sha256": "..."},
     "neurodeploy_version": "0.1.0", "source_model_sha256": "...", "seed": 0,
     "chips": [
      {"chip": 0, "position": [0, 0],
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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError, validation_lines
from ..fileio import RawJSON, dumps_json

CONFIG_FORMAT = "neurodeploy.config/1"

LATCHES: tuple[str, ...] = (
    "latch_so_dc", "latch_so_adaptation", "latch_soif_kill", "latch_denm_nmda",
    "latch_coho_ca_mem", "latch_ho_enable", "latch_ho_so_de", "latch_deam_ampa",
    "latch_de_conductance", "latch_deam_alpha", "latch_denm_alpha", "latch_de_mux",
    "latch_soif_type", "latch_ho_active",
)
DENDRITE_NAMES = ("none", "ampa", "nmda", "gaba", "shunt")
CAM_FLAGS = ("precise_delay", "mismatched_delay", "stp")

Tag = Annotated[int, Field(ge=0, le=2047)]
Hop = Annotated[int, Field(ge=-7, le=7)]
Mask4 = Annotated[str, Field(pattern=r"^[01]{4}$")]
CoreMask = Annotated[list[bool], Field(min_length=4, max_length=4)]
DendriteName = Literal["none", "ampa", "nmda", "gaba", "shunt"]
CamFlag = Literal["precise_delay", "mismatched_delay", "stp"]
CamEntry = tuple[Tag, DendriteName, Mask4]


def mask_to_str(mask: int) -> str:
    """Mask index (bit b selects SYAM_Wb_P) → config string, character b = bit b ("1010" = W0 + W2)."""
    return "".join("1" if (mask >> b) & 1 else "0" for b in range(4))


def mask_from_str(s: str) -> int:
    """Config mask string → mask index (inverse of :func:`mask_to_str`)."""
    return sum(1 << b for b, ch in enumerate(s) if ch == "1")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Code(_Model):
    """A bias generator code."""

    coarse: int = Field(ge=0, le=5)
    fine: int = Field(ge=0, le=255)


class Destination(_Model):
    """An SRAM entry: where a neuron's spikes go."""

    tag: Tag
    core: CoreMask
    x_hop: Hop = 0
    y_hop: Hop = 0


class NeuronConfig(_Model):
    neuron: int = Field(ge=0, le=255)
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
    synapses: list[CamEntry] = Field(default_factory=list, max_length=64)
    synapse_flags: dict[int, list[CamFlag]] = Field(
        default_factory=dict, description="CAM entry index → flags (precise_delay, mismatched_delay, stp); absent = none")
    destinations: list[Destination] = Field(default_factory=list, max_length=4)


class CoreConfig(_Model):
    core: int = Field(ge=0, le=3)
    parameters: dict[str, Code] = Field(default_factory=dict)
    neurons: list[NeuronConfig] = Field(default_factory=list, max_length=256)


class ChipConfig(_Model):
    chip: int = Field(ge=0)
    position: tuple[Annotated[int, Field(ge=-64, le=64)], Annotated[int, Field(ge=-64, le=64)]] = Field(
        (0, 0), description="the chip's (x, y) place on the board's mesh; hops between chips are differences of positions")
    cores: list[CoreConfig] = Field(default_factory=list, max_length=4)


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
    core: int = Field(ge=0, le=3)
    neuron: int = Field(ge=0, le=255)


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


def dumps_config(cfg: HardwareConfig) -> str:
    """Canonical text of a config: one neuron per few lines, latches written only when set."""
    d = cfg.model_dump(mode="json", exclude={"chips"})
    chips = []
    for chip in cfg.chips:
        cores = []
        for core in chip.cores:
            cd = core.model_dump(mode="json", exclude={"neurons"})
            cd["neurons"] = [_neuron_text(n, " " * 8) for n in core.neurons]
            cores.append(cd)
        chips.append({"chip": chip.chip, "position": list(chip.position), "cores": cores})
    out = {}
    for k in HardwareConfig.model_fields:
        out[k] = chips if k == "chips" else d[k]
    return dumps_json(out)


def check_config(cfg: HardwareConfig) -> list[str]:
    """Cross-field rules; one ``$.path: [rule] message`` per problem."""
    problems: list[str] = []
    chips: dict[int, int] = {}
    positions: dict[tuple[int, int], int] = {}
    configured: set[tuple[int, int, int]] = set()
    for ci, chip in enumerate(cfg.chips):
        base = f"$.chips[{ci}]"
        if chip.chip in chips:
            problems.append(f"{base}.chip: [unique-chip] chip {chip.chip} listed twice (also $.chips[{chips[chip.chip]}])")
        chips[chip.chip] = ci
        if tuple(chip.position) in positions:
            problems.append(f"{base}.position: [unique-position] position {list(chip.position)} already used by $.chips[{positions[tuple(chip.position)]}]")
        positions[tuple(chip.position)] = ci
        cores_seen: set[int] = set()
        for ki, core in enumerate(chip.cores):
            cb = f"{base}.cores[{ki}]"
            if core.core in cores_seen:
                problems.append(f"{cb}.core: [unique-core] core {core.core} listed twice on chip {chip.chip}")
            cores_seen.add(core.core)
            seen: set[int] = set()
            for ni, n in enumerate(core.neurons):
                if n.neuron in seen:
                    problems.append(f"{cb}.neurons[{ni}].neuron: [unique-neuron] neuron {n.neuron} listed twice")
                beyond = [k for k in n.synapse_flags if not 0 <= k < len(n.synapses)]
                if beyond:
                    problems.append(f"{cb}.neurons[{ni}].synapse_flags: [synapse-flags] entry {beyond[0]} flagged, but the "
                                    f"neuron has {len(n.synapses)} CAM entries (indices 0..{len(n.synapses) - 1})")
                seen.add(n.neuron)
                configured.add((chip.chip, core.core, n.neuron))
    for ci, chip in enumerate(cfg.chips):
        for ki, core in enumerate(chip.cores):
            for ni, n in enumerate(core.neurons):
                for di, dst in enumerate(n.destinations):
                    tx, ty = chip.position[0] + dst.x_hop, chip.position[1] + dst.y_hop
                    if (dst.x_hop, dst.y_hop) != (0, 0) and (tx, ty) not in positions and not _is_host_route(dst):
                        problems.append(
                            f"$.chips[{ci}].cores[{ki}].neurons[{ni}].destinations[{di}]: [hop-target] hop ({dst.x_hop}, {dst.y_hop}) "
                            f"from chip {chip.chip} at {list(chip.position)} reaches {[tx, ty]}, where no chip is configured")
    for i, ch in enumerate(cfg.inputs):
        if ch.channel != i:
            problems.append(f"$.inputs[{i}].channel: [input-channels] expected channel {i}: input channels are listed 0, 1, 2, ... in order")
        for j, dst in enumerate(ch.destinations):
            if dst.chip not in chips:
                problems.append(f"$.inputs[{i}].destinations[{j}].chip: [input-chip] chip {dst.chip} is not in $.chips")
    for i, o in enumerate(cfg.outputs):
        if (o.chip, o.core, o.neuron) not in configured:
            problems.append(f"$.outputs[{i}]: [output-target] chip {o.chip} core {o.core} neuron {o.neuron} is not a configured neuron")
    from ..spec import nonfinite_numbers

    problems.extend(f"{where}: [finite] numbers must be finite, got {v}" for where, v in nonfinite_numbers(cfg.metadata, "$.metadata"))
    for i, p in enumerate(cfg.placement):
        if not (len(p.chip) == len(p.core) == len(p.neuron)):
            problems.append(f"$.placement[{i}]: [placement] 'chip', 'core' and 'neuron' lists differ in length")
            continue
        for j, key in enumerate(zip(p.chip, p.core, p.neuron)):
            if key not in configured:
                problems.append(f"$.placement[{i}].neuron[{j}]: [placement] {p.population}[{j}] placed on chip {key[0]} core {key[1]} "
                                f"neuron {key[2]}, which is not configured")
                break
    return problems


def _is_host_route(dst: Destination) -> bool:
    """Hops that leave the chip grid to reach the host/FPGA (samna convention: x_hop −7, no core)."""
    return dst.x_hop == -7 and not any(dst.core)


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
    try:
        raw = json.loads(text, parse_constant=_reject)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"{path}: invalid JSON: {e}") from None
    return config_from_dict(raw, str(path))


def _reject(name):
    raise ValueError(f"{name} is not allowed (numbers must be finite)")


__all__ = [
    "CONFIG_FORMAT", "LATCHES", "CAM_FLAGS", "Code", "Destination", "NeuronConfig", "CoreConfig", "ChipConfig",
    "InputDestination", "InputChannel", "OutputNeuron", "PlacementRecord", "ProfileRef", "HardwareConfig",
    "check_config", "config_from_dict", "load_config", "dumps_config", "mask_to_str", "mask_from_str",
]
