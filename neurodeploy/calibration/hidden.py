"""Hidden chips: emulated boards whose truth a calibration has to find, to rehearse on and to score it.

A hidden chip file (``neurodeploy chip new --seed N -o hidden.chip``, JSON, format ``neurodeploy.hidden-chip/1``)
holds the device profile it perturbs, its analog constants and a per-location mismatch (seed, σ):

* the analog constants are the profile's times log-normal factors e^(σ_a·ξ), ξ ~ N(0, 1), σ_a = 0.2, clipped to
  [0.6, 1.6] (plausible bounds; κ stays ≤ 0.95): every capacitance (C_mem … C_dly2), I_0, κ_n, κ_p and V_th.
  U_T (the thermal voltage: set by temperature) and the positive feedback's constants keep the profile's values;
* the mismatch is the emulator's per-location draw (:func:`neurodeploy.sim.mismatch.sample_located_mismatch`)
  with the file's seed and σ: a (chip, core, neuron) keeps its factors whatever is configured.

:class:`~neurodeploy.backends.emulator.EmulatorBackend` runs a hidden chip (``hidden_chip=PATH``; the CLI's
``--backend emulator --hidden-chip PATH``) and shows it only through ``load`` and ``run``. :func:`truth` gives
the quantities a calibration identifies, for scoring (``tools/bench_calibrate.py``, the tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, PositiveFloat, ValidationError

from ..basemodel import FileModel
from ..errors import ProfileError, validation_lines
from ..fileio import dumps_json, parse_json
from ..device.physics import membrane_time_constant, pulse_width

HIDDEN_FORMAT = "neurodeploy.hidden-chip/1"
#: σ of the log-normal perturbation of the analog constants, and its clip (factor bounds)
CONSTANT_SIGMA, FACTOR_BOUNDS = 0.2, (0.6, 1.6)
#: the analog constants a hidden chip perturbs
PERTURBED: tuple[str, ...] = ("C_mem", "C_ampa", "C_nmda", "C_gaba", "C_shunt", "C_ahp", "C_ref", "C_pulse", "C_pulse_ahp",
                              "C_dly0", "C_dly1", "C_dly2", "I_0", "kappa_n", "kappa_p", "V_th")


class HiddenChip(FileModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["neurodeploy.hidden-chip/1"] = HIDDEN_FORMAT
    profile: str = "dynapse2"
    seed: int = Field(ge=0)
    sigma: float = Field(ge=0.0, le=0.5)
    analog: dict[Literal[PERTURBED], PositiveFloat]


def new_hidden_chip(seed: int, sigma: float = 0.1, profile_name: str = "dynapse2") -> HiddenChip:
    """A hidden chip drawn from ``seed`` (constants and mismatch seed alike), mismatch σ ``sigma`` (fraction)."""
    from ..device.profile import load_profile

    prof = load_profile(profile_name)
    rng = np.random.default_rng([seed, 0x4D1DE])
    f = np.clip(np.exp(CONSTANT_SIGMA * rng.standard_normal(len(PERTURBED))), *FACTOR_BOUNDS)
    a = prof.analog
    analog = {}
    for name, x in zip(PERTURBED, f):
        v = float(getattr(a, name)) * float(x)
        analog[name] = float(f"{min(v, 0.95) if name.startswith('kappa') else v:.6g}")
    return HiddenChip(profile=profile_name, seed=int(seed), sigma=float(sigma), analog=analog)


def write_hidden_chip(path, chip: HiddenChip) -> Path:
    from ..fileio import atomic_write_text

    return atomic_write_text(path, dumps_json(chip.model_dump(mode="json")))


def load_hidden_chip(path) -> HiddenChip:
    p = Path(path)
    if not p.is_file():
        raise ProfileError(f"{p}: hidden chip file not found (make one with `neurodeploy chip new --seed N -o {p}`)")
    raw = parse_json(p.read_text(encoding="utf-8"), p, ProfileError)
    try:
        return HiddenChip.model_validate(raw)
    except ValidationError as e:
        raise ProfileError(str(p), lines=validation_lines(str(p), e)) from None


def hidden_profile(chip: HiddenChip):
    """The device profile with the hidden chip's analog constants."""
    from ..device.profile import load_profile

    prof = load_profile(chip.profile)
    return prof.model_copy(update={"analog": prof.analog.model_copy(update=dict(chip.analog))})


def truth(chip: HiddenChip, sites: np.ndarray) -> dict:
    """The identifiable quantities of the hidden chip at ``sites`` [M, 3] (chip, core, neuron), at the default codes:
    {"tau_mem": τ_eff (s), "t_ref" (s), "dc_drive", "ampa_drive" (relative to the nominal profile, neuron part:
    the CAM slots' weight factors excluded)} per site, and the per-core constants at mismatch 1 ("C_mem", "C_ref",
    "C_pulse", effective: expressed with the nominal U_T, κ, V_th, I_0 as the calibration writes them; "C_dly0".."C_dly2"
    effective with the nominal V_th: t_i = V_th·C_dly,i/I_dly,i)."""
    import jax

    from ..device.profile import load_profile
    from ..sim.mismatch import Locations, sample_located_mismatch

    nom = load_profile(chip.profile)
    geo = nom.geometry
    sites = np.asarray(sites, np.int64).reshape(-1, 3)
    ids = tuple(sorted({int(c) for c in sites[:, 0]}))
    pos = np.array([ids.index(int(c)) for c in sites[:, 0]])
    loc = Locations(ids, pos, sites[:, 1] * geo.neurons_per_core + sites[:, 2], np.zeros(0, np.int64), np.zeros(0, np.int64),
                    geo.cores_per_chip * geo.neurons_per_core, geo.cores_per_chip * geo.neurons_per_core * geo.cam_entries_per_neuron)
    mm = jax.tree_util.tree_map(np.asarray, sample_located_mismatch(loc, chip.seed, sigma=chip.sigma))
    f, c = mm["currents"], mm["capacitances"]
    cur, a, h = nom.default_currents(), nom.analog, hidden_profile(chip).analog

    def quantities(f, c):
        it = cur["Itau_mem"] * f["Itau_mem"]
        L, L0 = 1 + h.I_0 / it, 1 + a.I_0 / cur["Itau_mem"]
        gain = f["Igain_mem"] / (f["Itau_mem"] * f["Ispkthr"]) * L0 / L
        t_pulse = pulse_width(h.C_pulse * c["C_pulse"], cur["Ipulse"] * f["Ipulse"], h.V_th)
        return {"tau_mem": membrane_time_constant(h.C_mem * c["C_mem"], it, h.I_0, h.U_T, h.kappa),
                "t_ref": pulse_width(h.C_ref * c["C_ref"], cur["Iref"] * f["Iref"], h.V_th),
                "dc_drive": gain * f["Idc"],
                "ampa_drive": gain * f["Igain_ampa"] / f["Itau_ampa"] * t_pulse / pulse_width(a.C_pulse, cur["Ipulse"], a.V_th)}
    per = quantities(f, c)
    one = quantities({k: 1.0 for k in f}, {k: 1.0 for k in c})
    tau0 = membrane_time_constant(a.C_mem, cur["Itau_mem"], a.I_0, a.U_T, a.kappa)
    const = {"C_mem": a.C_mem * one["tau_mem"] / tau0, "C_ref": h.V_th * h.C_ref / a.V_th,
             "C_pulse": a.C_pulse * one["ampa_drive"],
             **{f"C_dly{i}": getattr(h, f"C_dly{i}") * h.V_th / a.V_th for i in range(3)}}
    return {"neurons": {k: np.asarray(v, np.float64) for k, v in per.items()}, "constants": const}
