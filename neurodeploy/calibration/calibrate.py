"""The whole calibration: probes → fit → simulator-corrected refit → uncertainties → chip profile; and, on a profile
that models the delay stages, the delay probe → C_dly0..2 per core (:mod:`.delay_probe`, a linear fit of its own).

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
#: the probe set's name when the delay probe ran too
PROBE_SET_DELAYS = "dc-fi+refractory+ampa+delay-latency/1"
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


def _probe_npz(probes, measured, delays=None) -> bytes:
    """The probe data as npz bytes (fixed zip dates: the same data → the same bytes, as fileio.atomic_savez);
    ``delays`` = (delay probe set, its measurements): ``delay_latency`` [R, 4, M] s, ``delay_currents`` [R, 3] A,
    ``delay_sites`` [M, 3], ``delay_gap``, ``delay_dt`` too."""
    import zipfile

    buf = io.BytesIO()
    arrays = {"sites": probes.sites, "isi": measured["isi"], "count": measured["count"],
              "probe": np.array([r.probe for r in probes.runs]), "level": np.array([r.level for r in probes.runs]),
              "duration": np.float64(probes.duration), "settle": np.float64(probes.settle), "dt": np.float64(probes.dt)}
    if delays is not None:
        dps, dm = delays
        arrays.update(delay_latency=dm["latency"], delay_currents=np.array([r.currents for r in dps.runs]),
                      delay_sites=dps.sites, delay_gap=np.float64(dps.gap), delay_dt=np.float64(dps.dt))
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


def chip_profile(profile, probes, fit: dict, *, backend: str, seed, npz_name: str, npz: bytes, delays=None):
    """The :class:`~neurodeploy.device.chip_profile.ChipProfile` of a fit; ``delays`` = (delay probe set, its fit
    :func:`.delay_probe.fit_delays`) adds C_dly0..2 to every core (``delay_calibrated``)."""
    from .. import __version__
    from ..device.chip_profile import DELAY_CONSTANTS, FACTORS, ChipProfile

    a = profile.analog
    theta, sigma, ok = fit["theta"], fit["sigma_total"], fit["fitted"]
    cores = []
    for chip, core in sorted({(int(s[0]), int(s[1])) for s in probes.sites}):
        sel = (probes.sites[:, 0] == chip) & (probes.sites[:, 1] == core) & ok
        mean, se = core_summary(theta, sigma, sel)
        const = {"C_mem": (a.C_mem, 0), "C_ref": (a.C_ref, 2), "C_pulse": (a.C_pulse, 3)}
        constants = {k: {"value": _r(v * np.exp(mean[i])), "sigma": _r(se[i])} for k, (v, i) in const.items()}
        if delays is not None:
            constants.update({k: {"value": _r(v), "sigma": _r(e)} for k, (v, e) in
                              ((k, delays[1][(chip, core)][k]) for k in DELAY_CONSTANTS)})
        cores.append({"chip": chip, "core": core, "constants": constants,
                      "neurons": [int(n) for n in probes.sites[sel, 2]],
                      "factors": {f: [_r(np.exp(t - mean[i])) for t in theta[sel, i]] for i, f in enumerate(FACTORS)},
                      "sigma": {f: [_r(s) for s in sigma[sel, i]] for i, f in enumerate(FACTORS)}})
    return ChipProfile.model_validate({
        "device_profile": {"name": profile.name, "sha256": profile.sha256},
        "provenance": {"backend": backend, "probe_set": PROBE_SET if delays is None else PROBE_SET_DELAYS, "seed": seed,
                       "neurodeploy_version": __version__,
                       "board_time": probes.board_time + (0.0 if delays is None else delays[0].board_time)},
        "probe_data": {"file": npz_name, "sha256": hashlib.sha256(npz).hexdigest()},
        "delay_calibrated": delays is not None, "cores": cores})


def calibrate(backend, profile, sites, *, backend_name: str, seed=None, npz_name: str = "chip.probes.npz",
              progress=None, duration: float = 1.5, delays: bool | None = None):
    """Measure ``backend`` at ``sites`` and fit → (chip profile, probe npz bytes, fit dict, probe set).

    ``delays`` (default: whether ``profile`` models the delay stages): run the delay probe at the same sites too
    and write C_dly0..2 per core; its fit is ``fit["delays"]`` ({(chip, core): {...}}, :func:`.delay_probe.fit_delays`)
    and its probe set ``fit["delay_probes"]``."""
    from ..errors import NeurodeployError
    from .delay_probe import fit_delays, plan_delays, run_delay_probes

    probes = plan(profile, sites, duration=duration)
    measured = run_probes(backend, profile, probes, progress=progress)
    fit = fit_measurements(profile, probes, measured)
    if not fit["fitted"].any():
        raise NeurodeployError("calibrate: no probed neuron fired in two DC runs or more: check that the board runs "
                               "(`neurodeploy selftest`) and that the probed cores exist")
    dly = None
    if profile.models_delays if delays is None else delays:
        dps = plan_delays(profile, sites)
        dm = run_delay_probes(backend, profile, dps, progress=progress)
        fit["delays"], fit["delay_probes"] = fit_delays(profile, dps, dm), dps
        cores = {(int(c), int(k)) for c, k, _ in probes.sites}
        missing = sorted(cores - set(fit["delays"]))
        if missing:
            raise NeurodeployError("calibrate: the delay probe got no answer from fewer than 3 neurons of "
                                   + ", ".join(f"chip {c} core {k}" for c, k in missing)
                                   + " (every event should fire every probed neuron): check the board, or leave the "
                                     "delay stages out (--no-delays)")
        dly = (dps, dm)
    npz = _probe_npz(probes, measured, dly)
    cp = chip_profile(profile, probes, fit, backend=backend_name, seed=seed, npz_name=npz_name, npz=npz,
                      delays=None if dly is None else (dly[0], fit["delays"]))
    return cp, npz, fit, probes
