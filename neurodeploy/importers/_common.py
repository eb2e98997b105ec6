"""Helpers shared by the importers: option checking, neuron parameters, network assembly."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import NetworkError
from ..device.profile import NEURON_QUANTITIES, load_profile
from ..network import CONVENIENCE, Network, network_from_dict

#: convenience time constants accepted as importer options (→ network convenience fields / currents)
TIME_OPTIONS = ("tau_mem", "tau_ampa", "tau_nmda", "tau_gaba", "tau_shunt", "tau_ahp", "t_ref", "t_pulse", "t_pulse_ahp",
                "tau_syn")
NEURON_OPTIONS = tuple(NEURON_QUANTITIES) + TIME_OPTIONS
SYNAPSES = ("auto", "ampa", "nmda", "gaba", "shunt")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_options(source: str, options: dict, known: Iterable[str]) -> None:
    known = sorted(set(known))
    bad = sorted(k for k in options if k not in known)
    if bad:
        raise NetworkError(f"{source}: unknown import option(s) {', '.join(bad)} (known: {', '.join(known)})")


def positive_float(source: str, name: str, value: Any) -> float:
    try:
        v = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise NetworkError(f"{source}: option {name}: expected a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise NetworkError(f"{source}: option {name}: must be a positive, finite number, got {value!r}")
    return v


def scalar_or_list(arr: np.ndarray) -> float | list[float]:
    """A per-neuron array as the network writes it: one scalar when all values are equal, else a list."""
    a = np.asarray(arr, dtype=np.float64).reshape(-1)
    if a.size and np.all(a == a[0]):
        return float(a[0])
    return [float(x) for x in a]


def neuron_overrides(source: str, options: dict, size: int) -> dict[str, Any]:
    """Neuron parameters given as options → population fields (currents, or convenience time constants).

    ``tau_syn`` is shorthand for both ``tau_ampa`` and ``tau_gaba`` (the two dendrites "auto" uses).
    Each value is a scalar or one value per neuron.
    """
    out: dict[str, Any] = {}
    for key in NEURON_OPTIONS:
        if key not in options or options[key] is None:
            continue
        v = np.asarray(options[key], dtype=np.float64) if not isinstance(options[key], str) else None
        if v is None or v.ndim > 1 or (v.ndim == 1 and v.shape[0] != size):
            raise NetworkError(f"{source}: option {key}: expected a number or a list of {size} numbers (one per neuron), "
                            f"got {options[key]!r}")
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise NetworkError(f"{source}: option {key}: values must be positive and finite")
        val = scalar_or_list(v) if v.ndim else float(v)
        if key == "tau_syn":
            for k2 in ("tau_ampa", "tau_gaba"):
                if k2 in options:
                    raise NetworkError(f"{source}: option tau_syn: give either tau_syn or {k2}, not both")
                out[k2] = val
        else:
            out[key] = val
    for t, q in (("tau_mem", "Itau_mem"), ("tau_ampa", "Itau_ampa"), ("tau_gaba", "Itau_gaba"), ("tau_nmda", "Itau_nmda"),
                 ("tau_shunt", "Itau_shunt"), ("tau_ahp", "Itau_ahp"), ("t_ref", "Iref"), ("t_pulse", "Ipulse"),
                 ("t_pulse_ahp", "Ipulse_ahp")):
        if t in out and q in out:
            raise NetworkError(f"{source}: options {t} and {q} set the same current; give one")
    return out


def apply_overrides(pop: dict, overrides: dict) -> list[str]:
    """Put option values into a population dict, replacing derived ones; returns the names replaced."""
    replaced = []
    for key, val in overrides.items():
        current = CONVENIENCE[key][0] if key in CONVENIENCE else key
        for k in (key, current):
            if k in pop:
                del pop[k]
                replaced.append(current)
        pop[key] = val
    return replaced


def finish(raw: dict, source: str, profile) -> Network:
    """Validate the assembled dict as a Network (convenience forms converted through ``profile``)."""
    if profile is None:
        profile = load_profile("dynapse2")
    return network_from_dict(raw, source, profile=profile)
