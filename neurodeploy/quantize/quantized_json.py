"""QuantizedNetwork (``quantized.json``): the network after core assignment and weight quantization.

Placement-independent: which neurons share a core (a *logical* core), each logical core's bias
codes (including the base weights SYAM_W0_P..SYAM_W3_P), and each synapse's CAM entries.
``neurodeploy map`` places it on chips and writes the config.

Synapses are a table of columns (:class:`SynapseTable`), one row per synapse: ``src`` (0..n_inputs−1
are input channels, n_inputs + j is neuron j), ``dst`` (neuron), its CAM entry ``dendrite`` + ``mask``
and an optional spare entry ``spare_dendrite`` + ``spare_mask`` (same tag; the chip adds the two
entries' currents), ``target`` (the float model's weight current, A) and ``value`` (the quantized
weight current in AMPA-equivalent amperes, A). A mask is an integer 0..15 whose bit b selects the
core's base weight SYAM_Wb_P; mask 0 means no entry (a weight quantized to zero has ``mask`` 0, a
synapse without a spare entry has ``spare_mask`` 0). A network with synaptic delays adds four columns
(:data:`DELAY_COLUMNS`, absent otherwise): ``delay`` (the float model's delay, s), the entries' bits
``precise_delay`` and ``mismatched_delay`` (both entries of a synapse carry them) and ``delay_value`` (the
quantized nominal delay, s: [p ∨ m]·t₀ + p·t₁ + m·t₂ with the core's SYPD_DLY0..2_P, :mod:`.delays`).
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np

from pydantic import ConfigDict, Field, ValidationError, model_validator

from ..basemodel import FileModel
from ..device.dendrites import DENDRITE_INDEX, DENDRITES
from ..config.config_json import Code, ProfileRef
from ..errors import NetworkError, validation_lines
from ..fileio import RawJSON, dumps_json, parse_json

FORMAT_PREFIX = "neurodeploy.quantized/"
QUANTIZED_FORMAT = FORMAT_PREFIX + "2"


_Model = FileModel


class _BiasReport(FileModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    parameter: str
    max_rel_error: float
    median_rel_error: float
    worst_neuron: str


class _WeightsReport(FileModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    relative_rms_error: float = 0.0
    uniform_grid_error: float = 0.0
    synapses: int = 0
    spare_entries_used: int = 0
    nmda_scale_entries: int = 0
    quantized_to_zero: int = 0


class _PrunedReport(FileModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    synapses: int
    weight_mass_dropped: float
    neurons: list[str]


class _Report(FileModel):
    """The sections of ``report`` that ``map`` reads back (checked, kept as written)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    weights: _WeightsReport | None = None
    biases: dict[str, _BiasReport] = Field(default_factory=dict)
    pruned: _PrunedReport | None = None
    clustered_cores: list[int] = Field(default_factory=list)


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


#: The optional delay columns of the synapse table (all present or none).
DELAY_COLUMNS = ("delay", "precise_delay", "mismatched_delay", "delay_value")
NonNegativeFloat = Annotated[float, Field(ge=0)]
DendriteName = Literal[DENDRITES]          # "ampa", "nmda", "gaba", "shunt"
Mask = Annotated[int, Field(ge=0, le=15)]


class SynapseTable(_Model):
    """The synapses as columns (see the module doc); :meth:`columns` gives the entries as index arrays."""

    src: list[int]
    dst: list[int]
    dendrite: list[DendriteName]
    mask: list[Mask]
    spare_dendrite: list[DendriteName]
    spare_mask: list[Mask]
    target: list[float]
    value: list[float]
    delay: list[NonNegativeFloat] | None = Field(None, description="the float model's synaptic delay (s); the four "
                                                 "delay columns are absent when the network has no delays")
    precise_delay: list[bool] | None = Field(None, description="the CAM entries' precise_delay bit (stage DLY1)")
    mismatched_delay: list[bool] | None = Field(None, description="the CAM entries' mismatched_delay bit (stage DLY2)")
    delay_value: list[NonNegativeFloat] | None = Field(None, description="the quantized nominal delay (s)")

    @model_validator(mode="after")
    def _lengths(self):
        n = len(self.src)
        present = [f for f in SynapseTable.model_fields if getattr(self, f) is not None]
        if any(len(getattr(self, f)) != n for f in present):
            raise ValueError(f"$: {', '.join(present)} must have equal lengths")
        given = [f for f in DELAY_COLUMNS if getattr(self, f) is not None]
        if given and len(given) != len(DELAY_COLUMNS):
            missing = [f for f in DELAY_COLUMNS if f not in given]
            raise ValueError(f"$.synapses: {', '.join(given)} given without {', '.join(missing)} (the delay columns "
                             f"come together); re-run `neurodeploy quantize` on the model")
        if any(m == 0 < m2 for m, m2 in zip(self.mask, self.spare_mask)):
            i = next(i for i, (m, m2) in enumerate(zip(self.mask, self.spare_mask)) if m == 0 < m2)
            raise ValueError(f"$.spare_mask[{i}]: a spare entry on a synapse without an entry (mask 0); "
                             f"move it to dendrite/mask")
        return self

    def columns(self) -> "EntryColumns":
        """The CAM entries as int arrays (dendrite index as :class:`~neurodeploy.device.dendrites.Dendrite`)."""
        idx = lambda names: np.array([DENDRITE_INDEX[d] for d in names], np.int64).reshape(-1)  # noqa: E731
        bits = lambda b: None if b is None else np.asarray(b, bool).reshape(-1)  # noqa: E731
        return EntryColumns(idx(self.dendrite), np.asarray(self.mask, np.int64).reshape(-1),
                            idx(self.spare_dendrite), np.asarray(self.spare_mask, np.int64).reshape(-1),
                            bits(self.precise_delay), bits(self.mismatched_delay))


@dataclass
class EntryColumns:
    """CAM entries of S synapses: first entry (``dendrite``, ``mask``) and spare (``spare_dendrite``,
    ``spare_mask``), dendrite indices 0..3 (AMPA, NMDA, GABA, SHUNT), mask 0 = no entry; with delays, the delay
    bits ``precise`` and ``mismatched`` [S] bool that both entries of a synapse carry (None: no delays)."""

    dendrite: np.ndarray
    mask: np.ndarray
    spare_dendrite: np.ndarray
    spare_mask: np.ndarray
    precise: np.ndarray | None = None
    mismatched: np.ndarray | None = None

    def flags(self, i: int) -> list[str]:
        """The CAM flags of synapse i's entries (``precise_delay``, ``mismatched_delay``; [] without delays)."""
        if self.precise is None:
            return []
        return [f for f, b in (("precise_delay", self.precise[i]), ("mismatched_delay", self.mismatched[i])) if b]

    def count(self) -> np.ndarray:
        """[S] CAM entries per synapse (0, 1 or 2)."""
        return (self.mask > 0).astype(np.int64) + (self.spare_mask > 0)

    def table_fields(self) -> dict:
        """As :class:`SynapseTable` columns."""
        return {"dendrite": [DENDRITES[d] for d in self.dendrite], "mask": self.mask.tolist(),
                "spare_dendrite": [DENDRITES[d] for d in self.spare_dendrite], "spare_mask": self.spare_mask.tolist()}


class QuantizedNetwork(_Model):
    format: Literal["neurodeploy.quantized/2"] = QUANTIZED_FORMAT
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
                d_out[k] = {f: RawJSON(json.dumps(getattr(syn, f), separators=sep)) for f in SynapseTable.model_fields
                            if getattr(syn, f) is not None}
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
    try:
        _Report.model_validate(q.report)
    except ValidationError as e:
        out.extend(line.replace("<report>: $", "$.report", 1) for line in validation_lines("<report>", e))
    return out


def load_quantized(path: str | Path) -> QuantizedNetwork:
    path = Path(path)
    raw = parse_json(path.read_text(encoding="utf-8", errors="replace"), path, NetworkError)
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if isinstance(fmt, str) and fmt.startswith(FORMAT_PREFIX) and fmt != QUANTIZED_FORMAT:
        raise NetworkError(f"{path}: $.format: {fmt!r} was written by another neurodeploy version (this one reads "
                        f"{QUANTIZED_FORMAT!r}); re-run `neurodeploy quantize` on the model")
    try:
        return QuantizedNetwork.model_validate(raw)
    except ValidationError as e:
        raise NetworkError(str(path), lines=validation_lines(str(path), e)) from None


def is_quantized_file(path) -> bool:
    """Whether ``path`` is a quantized.json (its ``format``), so that ``map`` maps it rather than importing a network."""
    if not str(path).endswith(".json"):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            return str(json.load(f).get("format", "")).startswith(FORMAT_PREFIX)
    except (OSError, ValueError, AttributeError, RecursionError):
        return False
