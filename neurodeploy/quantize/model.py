"""QuantizedNetwork (``quantized.json``): the network after core assignment and weight quantization.

Placement-independent: which neurons share a core (a *logical* core), each logical core's bias
codes (including the base weights SYAM_W0_P..SYAM_W3_P), and each synapse's CAM entries as
``dendrite:mask`` strings (``"ampa:1010"``; a synapse with a spare entry has two,
``"ampa:1010+nmda:0001"``). ``neurodeploy map`` places it on chips and writes the config.
Synapses are columnar lists: ``src`` (0..n_inputs−1 are input channels, n_inputs + j is neuron j),
``dst`` (neuron), ``entries``, ``target`` (the float model's weight current, A) and ``value``
(the quantized weight current in AMPA-equivalent amperes, A).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config.model import Code, ProfileRef
from ..errors import SpecError, validation_lines
from ..fileio import RawJSON, dumps_json

QUANTIZED_FORMAT = "neurodeploy.quantized/1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _BiasReport(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    parameter: str
    max_rel_error: float
    median_rel_error: float
    worst_neuron: str


class _WeightsReport(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    relative_rms_error: float = 0.0
    uniform_grid_error: float = 0.0
    synapses: int = 0
    spare_entries_used: int = 0
    nmda_scale_entries: int = 0
    quantized_to_zero: int = 0


class _PrunedReport(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    synapses: int
    weight_mass_dropped: float
    neurons: list[str]


class _Report(BaseModel):
    """The sections of ``report`` that ``map`` reads back (checked, kept as written)."""
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    weights: _WeightsReport | None = None
    biases: dict[str, _BiasReport] = Field(default_factory=dict)
    pruned: _PrunedReport | None = None
    clustered_cores: list[int] = Field(default_factory=list)

#: Dendrite names a quantized CAM entry may use (``dendrite:mask``).
_ENTRY_DENDRITES = ("ampa", "nmda", "gaba", "shunt")


def _entry_problem(entry: str) -> str | None:
    """Why ``entry`` (``"ampa:1010"`` or ``"ampa:1010+nmda:0001"``, or "" for none) is malformed, else None."""
    if entry == "":
        return None
    for part in entry.split("+"):
        dend, sep, mask = part.partition(":")
        if not sep or dend not in _ENTRY_DENDRITES or len(mask) != 4 or set(mask) - {"0", "1"}:
            return (f"{entry!r}: expected dendrite:mask entries joined by '+', dendrite one of "
                    f"{', '.join(_ENTRY_DENDRITES)}, mask 4 binary digits (e.g. 'ampa:1010')")
    return None


class PopulationRef(_Model):
    name: str
    size: int = Field(ge=1)


class LogicalCoreRecord(_Model):
    id: int = Field(ge=0)
    neurons: list[int]
    parameters: dict[str, Code]
    nmda_scale: float | None = Field(None, description="g = (Igain_nmda/Itau_nmda)/(Igain_ampa/Itau_ampa) when NMDA is a 2nd excitatory scale")
    clustered: bool = False
    weight_error: float = 0.0
    uniform_grid_error: float = 0.0


class SynapseTable(_Model):
    src: list[int]
    dst: list[int]
    entries: list[str]
    target: list[float]
    value: list[float]

    @model_validator(mode="after")
    def _lengths(self):
        n = len(self.src)
        if not (len(self.dst) == len(self.entries) == len(self.target) == len(self.value) == n):
            raise ValueError("$.synapses: src, dst, entries, target and value must have equal lengths")
        return self


class QuantizedNetwork(_Model):
    format: Literal["neurodeploy.quantized/1"] = QUANTIZED_FORMAT
    name: str
    source_model_sha256: str
    profile: ProfileRef
    seed: int = 0
    n_inputs: int = Field(ge=0)
    populations: list[PopulationRef]
    outputs: list[int] = Field(default_factory=list)
    latch_so_dc: list[int] = Field(default_factory=list)
    latch_so_adaptation: list[int] = Field(default_factory=list)
    latch_denm_nmda: list[int] = Field(default_factory=list)
    cores: list[LogicalCoreRecord]
    synapses: SynapseTable
    metadata: dict[str, Any] = Field(default_factory=dict)
    report: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _semantics(self):
        problems = _check_quantized(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations)

    def neuron_name(self, index: int) -> str:
        off = 0
        for p in self.populations:
            if index < off + p.size:
                return f"{p.name}[{index - off}]"
            off += p.size
        raise IndexError(index)

    def dumps(self) -> str:
        d = self.model_dump(mode="json", exclude={"synapses"})
        syn = self.synapses
        sep = (", ", ": ")
        d_out: dict[str, Any] = {}
        for k in QuantizedNetwork.model_fields:
            if k == "synapses":
                d_out[k] = {f: RawJSON(json.dumps(getattr(syn, f), separators=sep)) for f in SynapseTable.model_fields}
            else:
                d_out[k] = d[k]
        return dumps_json(d_out)

    def save(self, path) -> Path:
        from ..fileio import atomic_write_text

        return atomic_write_text(path, self.dumps())


def _first_bad(values, lo: int, hi: int):
    for i, v in enumerate(values):
        if not lo <= v < hi:
            return i, v
    return None


def _check_quantized(q: "QuantizedNetwork") -> list[str]:
    """Cross-field rules of a quantized network; ``$.path: message`` lines."""
    n, n_src = q.n_neurons, q.n_inputs + q.n_neurons
    out = []
    for name in ("outputs", "latch_so_dc", "latch_so_adaptation", "latch_denm_nmda"):
        bad = _first_bad(getattr(q, name), 0, n)
        if bad:
            out.append(f"$.{name}[{bad[0]}]: neuron {bad[1]} out of range 0..{n - 1}")
    owner: dict[int, int] = {}
    for ci, core in enumerate(q.cores):
        if not core.neurons:
            out.append(f"$.cores[{ci}].neurons: empty (every logical core holds at least one neuron; remove the core)")
        bad = _first_bad(core.neurons, 0, n)
        if bad:
            out.append(f"$.cores[{ci}].neurons[{bad[0]}]: neuron {bad[1]} out of range 0..{n - 1}")
        for j, v in enumerate(core.neurons):
            if v in owner:
                out.append(f"$.cores[{ci}].neurons[{j}]: neuron {v} is already on logical core {owner[v]}")
                break
            owner[v] = ci
    if not out and len(owner) != n:
        first = next(i for i in range(n) if i not in owner)
        out.append(f"$.cores: {n - len(owner)} of the {n} neurons ($.populations) are on no logical core, the first "
                   f"is neuron {first} (every neuron needs one)")
    syn = q.synapses
    for name, values, hi in (("src", syn.src, n_src), ("dst", syn.dst, n)):
        bad = _first_bad(values, 0, hi)
        if bad:
            out.append(f"$.synapses.{name}[{bad[0]}]: {bad[1]} out of range 0..{hi - 1}")
    for i, e in enumerate(syn.entries):
        why = _entry_problem(e)
        if why:
            out.append(f"$.synapses.entries[{i}]: {why}")
            break
    try:
        _Report.model_validate(q.report)
    except ValidationError as e:
        out.extend(line.replace("<report>: $", "$.report", 1) for line in validation_lines("<report>", e))
    return out


def load_quantized(path: str | Path) -> QuantizedNetwork:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8", errors="replace"), parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise SpecError(f"{path}: invalid JSON: {e}") from None
    try:
        return QuantizedNetwork.model_validate(raw)
    except ValidationError as e:
        raise SpecError(str(path), lines=validation_lines(str(path), e)) from None


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed (numbers must be finite)")
