"""The whole calibration: probes → fit → simulator-corrected refit → uncertainties → chip profile.

    θ⁰ = fit(log ISI_meas)                                   closed form (:mod:`.model`), optax + Gauss–Newton
    θᵏ⁺¹ = fit(log ISI_meas − δ(θᵏ)),  δ = log ISI_sim − log ISI_model      (:mod:`.refine`, REFITS times)

Uncertainty of a neuron's log-factor: the fit's curvature (:func:`.fit.fit_factors`) combined in quadrature with
the shift that the unidentified quantities' mismatch would cause (:func:`.refine.systematic_shifts` at the chip's
mismatch σ̂, estimated from the spread of the refractory factors, σ̂ = sd(c)/√2 (sd as 1.4826·MAD) as c = ln(C_ref/I_ref) factors
combine two), and, for the AMPA drive, the CAM slots' weight factors averaged over ``SLOTS`` entries (σ̂/√SLOTS).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

from .fit import core_summary, fit_factors, model_log_isi, propagate
from .probes import SLOTS, plan, run_probes
from .refine import simulated_intervals, systematic_shifts

PROBE_SET = "dc-fi+refractory+ampa/1"
REFITS = 2


def probe_sites(profile, chips=(0,), cores=None, neurons=None) -> np.ndarray:
    """[M, 3] (chip, core, neuron): every listed chip × core (default all) × neuron (default all)."""
    geo = profile.geometry
    cores = range(geo.cores_per_chip) if cores is None else cores
    neurons = range(geo.neurons_per_core) if neurons is None else neurons
    return np.array([(c, k, n) for c in chips for k in cores for n in neurons], np.int64).reshape(-1, 3)


def fit_measurements(profile, probes, measured: dict) -> dict:
    """The fit of module doc → fit dict with ``sigma_total`` [M, 4] (log-space) and ``mismatch`` σ̂."""
    fit = fit_factors(profile, probes, measured)
    for _ in range(REFITS):
        delta = np.log(simulated_intervals(profile, probes, fit["theta"])) - model_log_isi(profile, probes, fit["theta"])
        fit = fit_factors(profile, probes, measured, correction=delta, theta0=fit["theta"])
    ok = fit["fitted"]
    c = fit["theta"][ok, 2]
    sig = float(1.4826 * np.median(np.abs(c - np.median(c))) / np.sqrt(2)) if ok.sum() > 2 else 0.1   # robust sd
    sys = propagate(fit, systematic_shifts(profile, probes, fit["theta"], sig))
    total = np.sqrt(fit["sigma"] ** 2 + sys ** 2)
    total[:, 3] = np.sqrt(total[:, 3] ** 2 + sig ** 2 / SLOTS)
    fit.update(sigma_total=total, mismatch=sig)
    return fit


def _probe_npz(probes, measured) -> bytes:
    """The probe data as npz bytes (fixed zip dates: the same data → the same bytes, as fileio.atomic_savez)."""
    import zipfile

    buf = io.BytesIO()
    arrays = {"sites": probes.sites, "isi": measured["isi"], "count": measured["count"],
              "probe": np.array([r.probe for r in probes.runs]), "level": np.array([r.level for r in probes.runs]),
              "duration": np.float64(probes.duration), "settle": np.float64(probes.settle), "dt": np.float64(probes.dt)}
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            b = io.BytesIO()
            np.lib.format.write_array(b, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, b.getvalue())
    return buf.getvalue()


def _r(x) -> float:
    return float(f"{float(x):.6g}")


def chip_profile(profile, probes, fit: dict, *, backend: str, seed, npz_name: str, npz: bytes):
    """The :class:`~neurodeploy.device.chip_profile.ChipProfile` of a fit."""
    from .. import __version__
    from ..device.chip_profile import FACTORS, ChipProfile

    a = profile.analog
    theta, sigma, ok = fit["theta"], fit["sigma_total"], fit["fitted"]
    cores = []
    for chip, core in sorted({(int(s[0]), int(s[1])) for s in probes.sites}):
        sel = (probes.sites[:, 0] == chip) & (probes.sites[:, 1] == core) & ok
        mean, se = core_summary(theta, sigma, sel)
        const = {"C_mem": (a.C_mem, 0), "C_ref": (a.C_ref, 2), "C_pulse": (a.C_pulse, 3)}
        cores.append({"chip": chip, "core": core,
                      "constants": {k: {"value": _r(v * np.exp(mean[i])), "sigma": _r(se[i])} for k, (v, i) in const.items()},
                      "neurons": [int(n) for n in probes.sites[sel, 2]],
                      "factors": {f: [_r(np.exp(t - mean[i])) for t in theta[sel, i]] for i, f in enumerate(FACTORS)},
                      "sigma": {f: [_r(s) for s in sigma[sel, i]] for i, f in enumerate(FACTORS)}})
    return ChipProfile.model_validate({
        "device_profile": {"name": profile.name, "sha256": profile.sha256},
        "provenance": {"backend": backend, "probe_set": PROBE_SET, "seed": seed, "neurodeploy_version": __version__,
                       "board_time": probes.board_time},
        "probe_data": {"file": npz_name, "sha256": hashlib.sha256(npz).hexdigest()},
        "cores": cores})


def calibrate(backend, profile, sites, *, backend_name: str, seed=None, npz_name: str = "chip.probes.npz",
              progress=None, duration: float = 1.5):
    """Measure ``backend`` at ``sites`` and fit → (chip profile, probe npz bytes, fit dict, probe set)."""
    from ..errors import NeurodeployError

    probes = plan(profile, sites, duration=duration)
    measured = run_probes(backend, profile, probes, progress=progress)
    fit = fit_measurements(profile, probes, measured)
    if not fit["fitted"].any():
        raise NeurodeployError("calibrate: no probed neuron fired in two DC runs or more: check that the board runs "
                               "(`neurodeploy selftest`) and that the probed cores exist")
    npz = _probe_npz(probes, measured)
    return chip_profile(profile, probes, fit, backend=backend_name, seed=seed, npz_name=npz_name, npz=npz), npz, fit, probes
