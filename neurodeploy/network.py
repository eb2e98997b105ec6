"""Network: what a trained network is, independent of placement (``model.json``).

Format ``neurodeploy.network/1``::

    {
     "format": "neurodeploy.network/1",
     "name": "frozen_noise",
     "dt": 0.001,                      # s, simulation/training step
     "n_inputs": 60,
     "populations": [
      {"name": "out", "size": 2, "Itau_mem": 5.3e-12, "Ispkthr": [1e-7, 1.1e-7], "adaptation": false}
     ],
     "projections": [
      {"source": "input", "target": "out", "synapse": "auto", "weight_scale": 1e-8,
       "weight": [[0.1, -0.2], ...]}                       # dense [n_source x n_target]
      {"source": "out", "target": "out", "pre": [0], "post": [1], "w": [0.3]}   # sparse form
      {"source": "input", "target": "out", "sidecar": {"path": "w.npz", "key": "w_in", "sha256": "..."}}
     ],
     "outputs": [{"population": "out"}],
     "metadata": {...}
    }

Neuron parameters are circuit currents in amperes, named as the simulator names them
(:data:`neurodeploy.device.profile.NEURON_QUANTITIES`); each is a scalar for the population or a list
with one value per neuron; an absent one takes the device profile's default. A weight ``w``
(unitless, signed) becomes the synaptic weight current ``|w| · weight_scale`` (A) on the
dendrite chosen by ``synapse`` ("auto": w > 0 → AMPA, w < 0 → GABA). Zeros are absent synapses.
An optional ``delay`` (s, 0..:data:`MAX_DELAY`): one number, or the weights' shape (a sidecar: one number).
Delays are simulated, not yet mapped to the chip (``neurodeploy map`` refuses them: rule ``delays``).

Convenience forms (:func:`convenience_to_currents`) let a user write time constants instead of
currents — ``tau_mem``, ``tau_ampa``, ``tau_nmda``, ``tau_gaba``, ``tau_shunt``, ``tau_ahp`` (s),
``t_ref``, ``t_pulse``, ``t_pulse_ahp`` (s) — converted on load through the profile with
τ = U_T·C/(κ·I_tau) and t = V_th·C/I; the network stores only currents.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt, PrivateAttr, ValidationError, model_validator

from .basemodel import FileModel, nonfinite_numbers  # noqa: F401  (nonfinite_numbers re-exported)
from .errors import NetworkError, validation_lines
from .fileio import dumps_json, parse_json, write_json
from .device.dendrites import DENDRITES
from .device.profile import NEURON_QUANTITIES
from .network_checks import MAX_DELAY, network_problems

NETWORK_FORMAT = "neurodeploy.network/1"

#: convenience field → (current it sets, kind, capacitance)
CONVENIENCE: dict[str, tuple[str, str, str]] = {
    "tau_mem": ("Itau_mem", "tau", "C_mem"),
    "tau_ampa": ("Itau_ampa", "tau", "C_ampa"),
    "tau_nmda": ("Itau_nmda", "tau", "C_nmda"),
    "tau_gaba": ("Itau_gaba", "tau", "C_gaba"),
    "tau_shunt": ("Itau_shunt", "tau", "C_shunt"),
    "tau_ahp": ("Itau_ahp", "tau", "C_ahp"),
    "t_ref": ("Iref", "pulse", "C_ref"),
    "t_pulse": ("Ipulse", "pulse", "C_pulse"),
    "t_pulse_ahp": ("Ipulse_ahp", "pulse", "C_pulse_ahp"),
}

_NAME = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"

Scalar_or_list = float | list[float]


_Model = FileModel   # strict types; allow_inf_nan=False: JSON like 1e999 parses to inf, never allowed


class Population(_Model):
    """A group of DPI neurons sharing a name; parameters are currents (A), scalar or per neuron."""

    name: str = Field(pattern=_NAME)
    size: PositiveInt
    adaptation: bool = Field(False, description="enable the AHP adaptation DPI (latch_so_adaptation)")
    Itau_mem: Scalar_or_list | None = None
    Igain_mem: Scalar_or_list | None = None
    Iref: Scalar_or_list | None = None
    Ispkthr: Scalar_or_list | None = None
    Idc: Scalar_or_list | None = Field(None, description="DC input (A); setting it enables latch_so_dc")
    Itau_ampa: Scalar_or_list | None = None
    Igain_ampa: Scalar_or_list | None = None
    Itau_nmda: Scalar_or_list | None = None
    Igain_nmda: Scalar_or_list | None = None
    If_nmda: Scalar_or_list | None = Field(None, description="NMDA gate current (A); setting it enables the gate (latch_denm_nmda)")
    Itau_gaba: Scalar_or_list | None = None
    Igain_gaba: Scalar_or_list | None = None
    Itau_shunt: Scalar_or_list | None = None
    Igain_shunt: Scalar_or_list | None = None
    Ipulse: Scalar_or_list | None = None
    Ipulse_ahp: Scalar_or_list | None = None
    Itau_ahp: Scalar_or_list | None = None
    Igain_ahp: Scalar_or_list | None = None
    Iw_ahp: Scalar_or_list | None = None

    def given(self) -> dict[str, Scalar_or_list]:
        """The currents set explicitly in the network (quantity → scalar or list)."""
        return {q: getattr(self, q) for q in NEURON_QUANTITIES if getattr(self, q) is not None}

    @property
    def dc_enabled(self) -> bool:
        return self.Idc is not None

    @property
    def nmda_gate(self) -> bool:
        return self.If_nmda is not None


class Sidecar(_Model):
    """A weight matrix stored in a sidecar ``.npz`` next to the JSON."""

    path: str
    key: str = "weight"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Projection(_Model):
    """Synapses from ``source`` ("input" or a population) to ``target`` (a population)."""

    source: str
    target: str
    synapse: Literal[("auto",) + DENDRITES] = "auto"
    weight_scale: PositiveFloat = Field(1e-8, description="A per unit weight")
    weight: list[list[float]] | None = Field(None, description="dense [n_source x n_target]; 0 = no synapse")
    pre: list[int] | None = None
    post: list[int] | None = None
    w: list[float] | None = None
    sidecar: Sidecar | None = None
    delay: float | list[float] | list[list[float]] | None = Field(None, description=f"synaptic delay (s), 0..{MAX_DELAY}: one number or the weights' shape")

    @model_validator(mode="after")
    def _one_form(self):
        forms = [self.weight is not None, self.pre is not None or self.post is not None or self.w is not None,
                 self.sidecar is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one weight form: 'weight' (dense), 'pre'/'post'/'w' (sparse) or 'sidecar'")
        if forms[1] and (self.pre is None or self.post is None or self.w is None):
            raise ValueError("the sparse form needs all of 'pre', 'post' and 'w'")
        return self


class Readout(_Model):
    """A read-out: neurons of one population (all, or ``indices``). ``readout`` "each" (default): every
    neuron is a read-out channel of its own (one class per neuron); "sum": the neurons form ONE channel
    whose count is the sum of theirs — a population read-out, c_k = Σ_{n ∈ group k} c_n, which averages
    single neurons' mismatch out (a relative gain error σ per neuron becomes σ/√size per channel)."""

    population: str
    indices: list[int] | None = None
    readout: Literal["each", "sum"] | None = None


class Network(_Model):
    """A trained network: populations of DPI neurons, projections between them, read-outs."""

    format: Literal["neurodeploy.network/1"] = NETWORK_FORMAT
    name: str = "network"
    dt: PositiveFloat = Field(1e-3, description="time step (s)")
    n_inputs: int = Field(ge=0)
    populations: list[Population] = Field(min_length=1)
    projections: list[Projection] = Field(default_factory=list)
    outputs: list[Readout] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    # sidecar arrays, loaded by load_network (not serialised)
    _sidecar_data: dict[int, np.ndarray] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _semantics(self):
        problems = network_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ---- structure -----------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def source_size(self, name: str) -> int:
        return self.n_inputs if name == "input" else self.population(name).size

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations)

    def offsets(self) -> dict[str, int]:
        """Global index of each population's first neuron (populations in file order)."""
        off, out = 0, {}
        for p in self.populations:
            out[p.name] = off
            off += p.size
        return out

    def neuron_name(self, index: int) -> str:
        """``population[i]`` for a global neuron index."""
        for p, off in zip(self.populations, self.offsets().values()):
            if off <= index < off + p.size:
                return f"{p.name}[{index - off}]"
        raise IndexError(index)

    def output_indices(self) -> np.ndarray:
        """Global neuron indices of the read-outs, in order."""
        offs = self.offsets()
        idx: list[int] = []
        for o in self.outputs:
            pop = self.population(o.population)
            sel = range(pop.size) if o.indices is None else o.indices
            idx.extend(offs[o.population] + i for i in sel)
        return np.asarray(idx, dtype=np.int64)

    def readout_matrix(self) -> np.ndarray:
        """R [n_output_neurons, n_channels] (0/1, float32): channel counts = neuron counts @ R, the output
        neurons in :meth:`output_indices` order; the identity when every read-out is "each"."""
        cols: list[list[int]] = []
        row = 0
        for o in self.outputs:
            n = self.population(o.population).size if o.indices is None else len(o.indices)
            if o.readout == "sum":
                cols.append(list(range(row, row + n)))
            else:
                cols.extend([r] for r in range(row, row + n))
            row += n
        R = np.zeros((row, len(cols)), np.float32)
        for c, rows in enumerate(cols):
            R[rows, c] = 1.0
        return R

    @property
    def n_readouts(self) -> int:
        """The number of read-out channels (classes): one per "each" neuron, one per "sum" group."""
        return int(self.readout_matrix().shape[1])

    def projection_coo(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Projection k as (pre, post, w): local indices and unitless signed weights, zeros dropped."""
        pr = self.projections[k]
        if pr.weight is not None:
            mat = np.asarray(pr.weight, dtype=np.float64)
        elif pr.sidecar is not None:
            if k not in self._sidecar_data:
                raise NetworkError(f"$.projections[{k}].sidecar: weights not loaded (load the network with load_network)")
            mat = self._sidecar_data[k]
        else:
            pre = np.asarray(pr.pre, dtype=np.int64)
            post = np.asarray(pr.post, dtype=np.int64)
            w = np.asarray(pr.w, dtype=np.float64)
            keep = w != 0
            return pre[keep], post[keep], w[keep]
        pre, post = np.nonzero(mat)
        return pre.astype(np.int64), post.astype(np.int64), mat[pre, post]

    @property
    def has_delays(self) -> bool:
        """Whether any projection gives a ``delay`` (even 0: the network then runs the delayed simulation)."""
        return any(pr.delay is not None for pr in self.projections)

    def projection_delay(self, k: int) -> np.ndarray | None:
        """Projection k's delays (s) in :meth:`projection_coo` order, or None when it gives none."""
        pr = self.projections[k]
        if pr.delay is None:
            return None
        d = np.asarray(pr.delay, dtype=np.float64)
        if d.ndim == 0:
            return np.full(self.projection_coo(k)[0].shape[0], float(d))
        if pr.weight is not None:
            pre, post = np.nonzero(np.asarray(pr.weight, dtype=np.float64))
            return d[pre, post]
        return d[np.asarray(pr.w, dtype=np.float64) != 0]

    def dense_weight(self, k: int) -> np.ndarray:
        """Projection k as a dense [n_source x n_target] matrix (unitless, signed)."""
        pr = self.projections[k]
        mat = np.zeros((self.source_size(pr.source), self.population(pr.target).size))
        pre, post, w = self.projection_coo(k)
        np.add.at(mat, (pre, post), w)
        return mat

    def neuron_params(self, profile) -> dict[str, np.ndarray]:
        """Every neuron quantity as a float64 array over all neurons [N] (A), defaults filled in."""
        defaults = profile.default_currents()
        out = {}
        for q in NEURON_QUANTITIES:
            parts = []
            for p in self.populations:
                v = getattr(p, q)
                parts.append(np.broadcast_to(np.asarray(defaults[q] if v is None else v, dtype=np.float64), (p.size,)))
            out[q] = np.concatenate(parts)
        return out

    # ---- io ------------------------------------------------------------------------------
    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)

    def dumps(self) -> str:
        return dumps_json(self.to_json_dict())

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_json_dict())

    def sha256(self) -> str:
        h = hashlib.sha256(self.dumps().encode())
        for k in sorted(self._sidecar_data):
            h.update(np.ascontiguousarray(self._sidecar_data[k]).tobytes())
        return h.hexdigest()


# ---------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------
def convenience_to_currents(raw: dict, profile) -> dict:
    """Replace convenience fields (tau_mem, t_ref, ...) in raw population dicts by currents."""
    pops = raw.get("populations")
    if not isinstance(pops, list):
        return raw
    for i, p in enumerate(pops):
        if not isinstance(p, dict):
            continue
        for field, (q, kind, cap) in CONVENIENCE.items():
            if field not in p:
                continue
            if q in p:
                raise NetworkError(f"$.populations[{i}]: give either {field} or {q}, not both")
            val = p.pop(field)
            def _num(x):
                return isinstance(x, (int, float)) and not isinstance(x, bool)
            if not (_num(val) or (isinstance(val, list) and val and all(_num(x) for x in val))):
                raise NetworkError(f"$.populations[{i}].{field}: expected a time in seconds (a number, or a non-empty "
                                f"list of numbers, one per neuron), got {json.dumps(val)[:40]}")
            v = np.asarray(val, dtype=np.float64)
            if not np.all(np.isfinite(v)) or np.any(v <= 0):
                raise NetworkError(f"$.populations[{i}].{field}: must be a positive time in seconds")
            conv = profile.tau_to_current if kind == "tau" else profile.pulse_to_current
            cur = np.vectorize(lambda t: conv(float(t), cap))(v)
            p[q] = cur.tolist() if cur.ndim else float(cur)
    return raw


def network_from_dict(raw: Any, source: str = "<dict>", profile=None, base_dir: Path | None = None) -> Network:
    """Validate a raw dict as a Network; errors are one line each, ``SOURCE: $.path: msg``."""
    if not isinstance(raw, dict):
        raise NetworkError(f"{source}: $: expected a JSON object, got {type(raw).__name__}")
    if raw.get("format") not in (None, NETWORK_FORMAT):
        raise NetworkError(f"{source}: $.format: expected {NETWORK_FORMAT!r}, got {raw.get('format')!r}")
    if any(isinstance(p, dict) and any(f in p for f in CONVENIENCE) for p in raw.get("populations") or []):
        if profile is None:
            from .device.profile import load_profile

            profile = load_profile("dynapse2")
        try:
            raw = convenience_to_currents(json.loads(json.dumps(raw)), profile)
        except NetworkError as e:
            raise NetworkError(f"{source}: {e}") from None
    try:
        network = Network.model_validate(raw)
    except ValidationError as e:
        raise NetworkError(source, lines=validation_lines(source, e)) from None
    for k, pr in enumerate(network.projections):
        if pr.sidecar is not None:
            from .network_sidecar import load_sidecar

            network._sidecar_data[k] = load_sidecar(network, k, pr, source, base_dir or Path("."))
    return network


def load_network_json(path: str | Path, profile=None) -> Network:
    """Load a Network ``.json`` file (sidecar weights resolved next to it).

    Files of other formats (``.npz``, ``.nir``) are imported by :func:`neurodeploy.importers.load_network`.
    """
    path = Path(path)
    if not path.exists():
        raise NetworkError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    raw = parse_json(text, path, NetworkError)
    return network_from_dict(raw, str(path), profile=profile, base_dir=path.parent)


