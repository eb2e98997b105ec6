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

from pydantic import Field, ValidationError, model_validator

from ..basemodel import FileModel
from ..config.model import Code, ProfileRef
from ..errors import SpecError, validation_lines
from ..fileio import RawJSON, dumps_json

QUANTIZED_FORMAT = "neurodeploy.quantized/1"


_Model = FileModel


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


def load_quantized(path: str | Path) -> QuantizedNetwork:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}") from None
    try:
        return QuantizedNetwork.model_validate(raw)
    except ValidationError as e:
        raise SpecError(str(path), lines=validation_lines(str(path), e)) from None
