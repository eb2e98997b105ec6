"""The delay-stage probe: the latency of each synaptic delay level per core, through ``load``/``run`` only, and the
stage capacitors C_dly0..2 fitted to it.

**Experiment.** Every probed neuron holds four AMPA CAM entries (weight mask W0..W3 all on, a strong, fast synapse:
one event makes it fire within a millisecond or two), each on its own input tag:

    slot 0  tag REF   no delay bit                  (the reference)
    slot 1  tag P     precise_delay                 d_p  = t₀ + t₁
    slot 2  tag M     mismatched_delay              d_m  = t₀ + t₂
    slot 3  tag PM    precise_delay + mismatched    d_pm = t₀ + t₁ + t₂

Input channel c (0 REF, 1 P, 2 M, 3 PM) sends one event to its tag on every probed core at t = (c + 4·k)·``gap``
(k = 0..``repeats`` − 1). A neuron's latency to an event is its first spike at or after the event, within ``gap``;
its delay on level l is the latency on l minus its latency on REF — the neuron's own response time (membrane,
synapse, threshold mismatch) cancels, since the same neuron answers both. A run sets the core's stage biases
SYPD_DLYi_P to the codes nearest the nominal stage delays of :data:`STAGE_DELAYS`; two runs with different
ratios t₀ : t₁ : t₂ over-determine the three stages.

**Fit.** With eq. (8) of :mod:`neurodeploy.device.physics`, t_i = V_th·C_dly,i/I_dly,i, a level's delay is
linear in the capacitors:

    d_{r,l} = Σ_i R_{l,i}·(V_th/I_{r,i})·C_dly,i          R = rows ([p ∨ m], p, m) of the levels p, m, pm      (D1)

(I_{r,i}: the current of run r's code for stage i through the profile's bias table, V_th the profile's: the
C_dly written are effective, as C_ref). Per neuron n, the least-squares solution of (D1) over its 3·R measured
delays gives C_n (a neuron with a missing latency is left out); per core, C_dly,i = mean_n C_n,i, with the relative
standard error

    σ_i = √( (sd_n(C_n,i)/√N)² + (Σ_j A⁺_ij · dt/2)² ) / C_dly,i                                          (D2)

— the neurons' spread (each CAM entry's own delay mismatch, the per-entry factor of eq. (10) of
:mod:`neurodeploy.device.delays`, is what the mean averages out) and the spike timestamps' resolution: a bias of
up to half the run's time step ``dt`` shared by every latency difference, through the fit's pseudo-inverse A⁺.

Board time: ``runs × 4 × repeats × gap`` seconds of chip time (2 × 4 × 2 × 0.12 s = 1.9 s by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.config_json import HardwareConfig
from ..device.delays import ROWS
from ..device.profile import DELAY_QUANTITIES, HOST_CORE_MASK, HOST_X_HOP, host_tag
from .probes import bias_code

#: nominal stage delays (t₀, t₁, t₂) of the runs (s): two ratios, so that every stage is the largest term once
STAGE_DELAYS: tuple[tuple[float, float, float], ...] = ((4e-3, 8e-3, 12e-3), (12e-3, 6e-3, 3e-3))
#: the levels probed (p, m bits) in channel order after the reference, and their design rows ([p ∨ m], p, m)
LEVELS: tuple[tuple[bool, bool], ...] = ((True, False), (False, True), (True, True))
LEVEL_ROWS = ROWS[1:]
#: input tags of the four channels (REF, P, M, PM): above the probed neurons' host tags (0..1023)
TAGS: tuple[int, ...] = (2001, 2002, 2003, 2004)
#: time between two events (s), events per channel, time step of the runs (s)
GAP, REPEATS, DT = 0.12, 2, 1e-4
#: τ_AMPA of the probe's synapse (s): short, so that one event fires a neuron within a step or two
PROBE_TAU_AMPA = 2e-3


@dataclass(frozen=True)
class DelayRun:
    """One run: the stage codes (parameter → (coarse, fine)) and their currents (A) through the profile's table."""

    codes: dict
    currents: tuple[float, float, float]


@dataclass
class DelayProbeSet:
    """The delay probe at ``sites`` [M, 3] (chip, core, neuron)."""

    sites: np.ndarray
    runs: list[DelayRun]
    gap: float = GAP
    repeats: int = REPEATS
    dt: float = DT

    @property
    def duration(self) -> float:
        """Chip time of one run (s): 4 channels × ``repeats`` events, ``gap`` apart."""
        return 4 * self.repeats * self.gap

    @property
    def board_time(self) -> float:
        """Chip time of the delay probe (s)."""
        return len(self.runs) * self.duration


def plan_delays(profile, sites, *, gap: float = GAP, repeats: int = REPEATS, dt: float = DT,
                stage_delays=STAGE_DELAYS) -> DelayProbeSet:
    """The delay probe for ``sites``: per run, each stage's code nearest I = V_th·C_dly,i/t_i (nominal profile)."""
    from ..device import physics

    a = profile.analog
    runs = []
    for t in stage_delays:
        codes, cur = {}, []
        for i, q in enumerate(DELAY_QUANTITIES):
            pname = profile.quantity_to_parameter[q]
            codes[pname] = bias_code(profile, pname, physics.delay_current(t[i], getattr(a, f"C_dly{i}"), a.V_th))
            cur.append(float(profile.bias.to_current(pname, *codes[pname])))
        runs.append(DelayRun(codes, tuple(cur)))
    return DelayProbeSet(np.asarray(sites, np.int64).reshape(-1, 3), runs, gap, repeats, dt)


def _probe_codes(profile) -> dict:
    """The synapse and neuron biases of the probe: τ_AMPA = PROBE_TAU_AMPA, the AMPA gain and every base weight at
    their largest code, a refractory period of about 1 ms."""
    from ..device.physics import tau_current

    a = profile.analog
    p = profile.quantity_to_parameter
    top = lambda q: bias_code(profile, p[q], 1.0)  # noqa: E731   (clipped: the largest code)
    codes = {p["Itau_ampa"]: bias_code(profile, p["Itau_ampa"], tau_current(PROBE_TAU_AMPA, a.C_ampa, a.U_T, a.kappa)),
             p["Igain_ampa"]: top("Igain_ampa"),
             p["Iref"]: bias_code(profile, p["Iref"], a.V_th * a.C_ref / 1e-3)}
    for b in range(4):
        codes[p[f"Iw_{b}"]] = top(f"Iw_{b}")
    return codes


def delay_probe_config(profile, sites: np.ndarray, run: DelayRun) -> HardwareConfig:
    """The config of one run (module doc)."""
    from .. import __version__

    base = {k: tuple(profile.parameters[k].default) for k in profile.modelled_parameters}
    allc = {**base, **_probe_codes(profile), **run.codes}
    params = {k: {"coarse": v[0], "fine": v[1]} for k, v in allc.items()}
    flags = {i + 1: [f for f, on in (("precise_delay", pl), ("mismatched_delay", ml)) if on]
             for i, (pl, ml) in enumerate(LEVELS)}
    chips = []
    for chip in sorted({int(c) for c in sites[:, 0]}):
        cores = []
        for core in sorted({int(k) for k in sites[sites[:, 0] == chip, 1]}):
            neurons = [{"neuron": n, "synapses": [[t, "ampa", "1111"] for t in TAGS], "synapse_flags": flags,
                        "destinations": [{"tag": host_tag(core, n, profile.geometry.neurons_per_core),
                                          "core": list(HOST_CORE_MASK), "x_hop": HOST_X_HOP, "y_hop": 0}]}
                       for n in sorted(int(n) for n in sites[(sites[:, 0] == chip) & (sites[:, 1] == core), 2])]
            cores.append({"core": core, "parameters": params, "neurons": neurons})
        chips.append({"chip": chip, "cores": cores})
    inputs = [{"channel": c, "destinations": [{"chip": ch["chip"], "tag": t, "core": [True] * 4} for ch in chips]}
              for c, t in enumerate(TAGS)]
    return HardwareConfig.model_validate({
        "profile": {"name": profile.name, "sha256": profile.sha256}, "neurodeploy_version": __version__,
        "chips": chips, "inputs": inputs, "metadata": {"calibration_probe": "delay"}})


def event_times(probes: DelayProbeSet) -> np.ndarray:
    """[4, repeats] the time (s) of each channel's events: (c + 4·k)·gap."""
    c, k = np.meshgrid(np.arange(4), np.arange(probes.repeats), indexing="ij")
    return (c + 4 * k) * probes.gap


def delay_probe_input(probes: DelayProbeSet) -> dict:
    """One event per channel every 4·gap (:func:`event_times`), as a spike raster [1, T, 4] at ``dt``."""
    T = int(round(probes.duration / probes.dt))
    x = np.zeros((1, T, 4), np.float32)
    steps = np.rint(event_times(probes) / probes.dt).astype(np.int64)
    for c in range(4):
        x[0, steps[c], c] = 1.0
    return {"spikes": x, "dt": probes.dt}


def latencies(events: np.ndarray, sites: np.ndarray, probes: DelayProbeSet) -> np.ndarray:
    """[4, M] each site's mean latency (s) to each channel's events (first spike in [t_event, t_event + gap)),
    NaN where a neuron missed one of a channel's events; from events [K, 5] (batch, t µs, chip, core, neuron)."""
    ev = np.asarray(events, np.int64).reshape(-1, 5)
    ev = ev[ev[:, 0] == 0]
    key = (sites[:, 0] * 4 + sites[:, 1]) * 4096 + sites[:, 2]
    order = np.argsort(key)
    ek = (ev[:, 2] * 4 + ev[:, 3]) * 4096 + ev[:, 4]
    pos = np.searchsorted(key[order], ek)
    ok = (pos < len(key)) & (key[order][np.minimum(pos, len(key) - 1)] == ek)
    idx, t = order[pos[ok]], ev[ok, 1] * 1e-6
    times = event_times(probes)
    out = np.zeros((4, len(sites)))
    for c in range(4):
        for k in range(probes.repeats):
            t0 = times[c, k] - 0.5 * probes.dt
            inside = (t >= t0) & (t < t0 + probes.gap)
            first = np.full(len(sites), np.inf)
            np.minimum.at(first, idx[inside], t[inside])
            out[c] += np.where(np.isfinite(first), first - times[c, k], np.nan)
    return out / probes.repeats


def run_delay_probes(backend, profile, probes: DelayProbeSet, progress=None) -> dict:
    """Run the delay probe on ``backend`` (``load`` + ``run`` only) → {"latency": [R, 4, M] s}."""
    runs = probes.runs if progress is None else progress(probes.runs, total=len(probes.runs), desc="delay probes")
    lat = []
    for run in runs:
        backend.load(delay_probe_config(profile, probes.sites, run))
        result = backend.run(delay_probe_input(probes))
        lat.append(latencies(result.events(), probes.sites, probes))
    return {"latency": np.stack(lat)}


def design(profile, probes: DelayProbeSet) -> np.ndarray:
    """[3·R, 3] the matrix of (D1): row (r, l) = R_l · V_th/I_r (s per farad)."""
    v = profile.analog.V_th
    return np.concatenate([LEVEL_ROWS * (v / np.asarray(r.currents))[None, :] for r in probes.runs])


def fit_delays(profile, probes: DelayProbeSet, measured: dict) -> dict:
    """Per probed (chip, core): {"C_dly0".."C_dly2": (value F, relative standard error), "neurons": N used}
    (module doc). A core where fewer than 3 neurons answered every event is left out."""
    lat = np.asarray(measured["latency"], float)                       # [R, 4, M]
    delay = (lat[:, 1:, :] - lat[:, :1, :]).reshape(-1, lat.shape[-1])  # [3R, M] in (run, level) order
    A = np.linalg.pinv(design(profile, probes))                        # [3, 3R]
    out = {}
    for chip, core in sorted({(int(s[0]), int(s[1])) for s in probes.sites}):
        sel = (probes.sites[:, 0] == chip) & (probes.sites[:, 1] == core)
        d = delay[:, sel]
        d = d[:, np.all(np.isfinite(d), axis=0)]
        if d.shape[1] < 3:
            continue
        c = A @ d                                                       # [3, N] per-neuron capacitors
        mean = c.mean(axis=1)
        se = np.hypot(c.std(axis=1, ddof=1) / np.sqrt(c.shape[1]), A.sum(axis=1) * probes.dt / 2)   # (D2)
        out[(chip, core)] = {**{f"C_dly{i}": (float(mean[i]), float(se[i] / abs(mean[i]))) for i in range(3)},
                             "neurons": int(c.shape[1])}
    return out
