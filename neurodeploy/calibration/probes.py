"""Probe experiments that measure a chip through the backend interface alone (``load`` a config, ``run`` input,
read spikes), so the same code measures an emulated board and a real one.

Every probe is a :class:`~neurodeploy.config.config_json.HardwareConfig` built here with the config models: the
probed neurons of every probed core, each with a host route (so a board reports its spikes), the core's bias
codes of the probe, and for the synaptic probe ``SLOTS`` AMPA CAM entries (weight mask W0) on one input tag fed
by input channel 0. All probed cores run at once (the cores of a chip run in parallel).

Every modelled core parameter is written (the profile's default unless the run sets it).

* **DC f–I** (``dc``): the DC input (latch ``latch_so_dc``) at ``DC_DRIVES`` nominal drives D (the membrane's
  steady state as a multiple of threshold, eq. (1) of :mod:`.model`), plus the strongest drive again with the
  refractory bias at ``REFR_SLOW`` times less current (a t_ref about that many times longer).
* **AMPA** (``ampa``): regular event trains at ``AMPA_RATES`` (Hz) on the AMPA entries, DC off, with a slow
  AMPA time constant (``AMPA_TAU``) so that the synapse's current is nearly constant once settled.

Each run lasts ``duration`` seconds of chip time; the measurement of a neuron in a run is its mean inter-spike
interval over the spikes after ``settle`` seconds, (t_last − t_first)/(n − 1) (from the events' timestamps), and
its spike count there. The board time of a probe set is the sum of its runs' durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config.config_json import HardwareConfig
from ..device.physics import charge_per_event, pulse_width, tau_current, time_constant
from ..device.profile import HOST_CORE_MASK, HOST_X_HOP, host_tag

#: nominal DC drives D (multiples of the threshold drive 1) of the f–I runs
DC_DRIVES: tuple[float, ...] = (1.0, 1.4, 2.0, 3.0, 5.0, 10.0)
#: the slow-refractory run: the refractory current divided by this (at the strongest DC drive)
REFR_SLOW = 4.0
#: input rates (Hz) of the AMPA runs, and the nominal drive at the middle rate
AMPA_RATES: tuple[float, ...] = (100.0, 200.0, 400.0)
AMPA_DRIVE = 2.5
#: AMPA time constant of the synaptic probe (s) and CAM entries per probed neuron on the input tag
AMPA_TAU = 0.05
SLOTS = 8
#: input tag of the synaptic probe (the probed neurons' own host routes use tags 0..1023, :func:`host_tag`)
INPUT_TAG = 2000


@dataclass(frozen=True)
class ProbeRun:
    """One run: the probe it belongs to, its core bias codes, its input rate (Hz, 0: no input) and latches."""

    probe: str
    level: float                      # nominal drive D (dc) or input rate ν in Hz (ampa)
    codes: dict                       # parameter → (coarse, fine), for every probed core
    rate: float = 0.0
    dc: bool = False
    synapses: bool = False


@dataclass
class ProbeSet:
    """The runs of a calibration and where they probe: ``sites`` [M, 3] (chip, core, neuron)."""

    sites: np.ndarray
    runs: list[ProbeRun]
    duration: float = 1.5
    settle: float = 0.3
    dt: float = 1e-3
    currents: dict = field(default_factory=dict)    # the nominal currents (A) each run sets, per run

    @property
    def board_time(self) -> float:
        """Chip time of the probe set (s): the sum of the runs' durations."""
        return len(self.runs) * self.duration


def bias_code(profile, parameter: str, current: float) -> tuple[int, int]:
    """The (coarse, fine) code of ``parameter`` nearest ``current`` (A), clipped to the generator's range."""
    c = profile.bias.to_code(parameter, current, clip=True)
    return int(c.coarse), int(c.fine)


def _current(profile, parameter: str, code) -> float:
    return float(profile.bias.to_current(parameter, *code))


def default_code(profile, quantity: str) -> tuple[int, int]:
    return tuple(profile.parameters[profile.quantity_to_parameter[quantity]].default)


def plan(profile, sites, *, duration: float = 1.5, settle: float = 0.3, dt: float = 1e-3) -> ProbeSet:
    """The probe set for ``sites`` ([M, 3] chip, core, neuron), codes from the nominal ``profile``."""
    cur = profile.default_currents()
    a = profile.analog
    L = 1.0 + a.I_0 / cur["Itau_mem"]
    gain = cur["Igain_mem"] / (cur["Itau_mem"] * L * cur["Ispkthr"])      # D per ampere of input
    p = profile.quantity_to_parameter
    runs, currents = [], []
    for d in DC_DRIVES:
        code = bias_code(profile, p["Idc"], d / gain)
        runs.append(ProbeRun("dc", d, {p["Idc"]: code}, dc=True))
        currents.append({"Idc": _current(profile, p["Idc"], code), "Iref": cur["Iref"]})
    slow = bias_code(profile, p["Iref"], cur["Iref"] / REFR_SLOW)
    runs.append(ProbeRun("refr", DC_DRIVES[-1], {**runs[-1].codes, p["Iref"]: slow}, dc=True))
    currents.append({"Idc": currents[-1]["Idc"], "Iref": _current(profile, p["Iref"], slow)})
    # AMPA: a slow synapse, its gain set for AMPA_DRIVE at the middle rate
    tau_code = bias_code(profile, p["Itau_ampa"], tau_current(AMPA_TAU, a.C_ampa, a.U_T, a.kappa))
    it_a = _current(profile, p["Itau_ampa"], tau_code)
    tau_a = time_constant(a.C_ampa, it_a, a.U_T, a.kappa)
    t_pulse = pulse_width(a.C_pulse, cur["Ipulse"], a.V_th)
    mid = AMPA_RATES[len(AMPA_RATES) // 2]
    per_gain = mid * SLOTS * cur["Iw_0"] * charge_per_event(1.0, it_a, tau_a, t_pulse) * tau_a   # I_syn per A of I_gain
    gain_code = bias_code(profile, p["Igain_ampa"], AMPA_DRIVE / gain / per_gain)
    ig_a = _current(profile, p["Igain_ampa"], gain_code)
    for nu in AMPA_RATES:
        runs.append(ProbeRun("ampa", nu, {p["Itau_ampa"]: tau_code, p["Igain_ampa"]: gain_code}, rate=nu, synapses=True))
        currents.append({"Itau_ampa": it_a, "Igain_ampa": ig_a, "Iref": cur["Iref"]})
    ps = ProbeSet(np.asarray(sites, np.int64).reshape(-1, 3), runs, duration, settle, dt)
    ps.currents = {i: c for i, c in enumerate(currents)}
    return ps


def probe_config(profile, sites: np.ndarray, run: ProbeRun) -> HardwareConfig:
    """The config of one run (module doc)."""
    from .. import __version__

    chips = []
    for chip in sorted({int(c) for c in sites[:, 0]}):
        cores = []
        for core in sorted({int(k) for k in sites[sites[:, 0] == chip, 1]}):
            neurons = []
            for n in sorted(int(n) for n in sites[(sites[:, 0] == chip) & (sites[:, 1] == core), 2]):
                nc = {"neuron": n, "latch_so_dc": run.dc,
                      "destinations": [{"tag": host_tag(core, n, profile.geometry.neurons_per_core),
                                       "core": list(HOST_CORE_MASK), "x_hop": HOST_X_HOP, "y_hop": 0}]}
                if run.synapses:
                    nc["synapses"] = [[INPUT_TAG, "ampa", "1000"]] * SLOTS
                neurons.append(nc)
            # every modelled parameter written (the profile's default unless the run sets it): a board keeps its own
            # value for a parameter a config leaves out, which need not be the profile's
            base = {k: tuple(profile.parameters[k].default) for k in profile.modelled_parameters}
            codes = {k: {"coarse": v[0], "fine": v[1]} for k, v in {**base, **run.codes}.items()}
            cores.append({"core": core, "parameters": codes, "neurons": neurons})
        chips.append({"chip": chip, "cores": cores})
    inputs = []
    if run.synapses:
        inputs = [{"channel": 0, "destinations": [{"chip": c["chip"], "tag": INPUT_TAG, "core": [True] * 4} for c in chips]}]
    return HardwareConfig.model_validate({
        "profile": {"name": profile.name, "sha256": profile.sha256}, "neurodeploy_version": __version__,
        "chips": chips, "inputs": inputs, "metadata": {"calibration_probe": run.probe, "level": run.level}})


def probe_input(run: ProbeRun, duration: float, dt: float) -> dict:
    """The run's input: a regular event train of ``run.rate`` Hz on channel 0 (none for DC runs)."""
    T = int(round(duration / dt))
    if not run.synapses:
        return {"spikes": np.zeros((1, T, 0), np.float32), "dt": dt}
    k = np.floor(np.arange(T + 1) * dt * run.rate)
    return {"spikes": np.diff(k).astype(np.float32).reshape(1, T, 1), "dt": dt}


def interval_stats(events: np.ndarray, sites: np.ndarray, settle: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean inter-spike interval (s; NaN with fewer than 3 spikes) and spike count of every site after ``settle``
    seconds, from events [K, 5] (batch, t µs, chip, core, neuron)."""
    ev = np.asarray(events, np.int64).reshape(-1, 5)
    ev = ev[(ev[:, 0] == 0) & (ev[:, 1] >= settle * 1e6)]
    key = (sites[:, 0] * 4 + sites[:, 1]) * 4096 + sites[:, 2]
    order = np.argsort(key)
    ek = (ev[:, 2] * 4 + ev[:, 3]) * 4096 + ev[:, 4]
    pos = np.searchsorted(key[order], ek)
    ok = (pos < len(key)) & (key[order][np.minimum(pos, len(key) - 1)] == ek)
    idx = order[pos[ok]]
    t = ev[ok, 1] * 1e-6
    n = np.bincount(idx, minlength=len(sites))
    first = np.full(len(sites), np.inf)
    last = np.full(len(sites), -np.inf)
    np.minimum.at(first, idx, t)
    np.maximum.at(last, idx, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        isi = np.where(n >= 3, (last - first) / np.maximum(n - 1, 1), np.nan)
    return isi, n


def run_probes(backend, profile, probes: ProbeSet, progress=None) -> dict:
    """Run every probe on ``backend`` (``load`` + ``run`` only) → {"isi": [R, M] s, "count": [R, M]}."""
    runs = probes.runs if progress is None else progress(probes.runs, total=len(probes.runs), desc="probes")
    isi, count = [], []
    for run in runs:
        backend.load(probe_config(profile, probes.sites, run))
        result = backend.run(probe_input(run, probes.duration, probes.dt))
        i, n = interval_stats(result.events(), probes.sites, probes.settle)
        isi.append(i)
        count.append(n)
    return {"isi": np.stack(isi), "count": np.stack(count)}
