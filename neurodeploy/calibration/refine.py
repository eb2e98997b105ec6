"""The simulator as the forward model of the fit: run the probe set on the nominal chip with the fitted factors.

The factors of :mod:`.fit` act on the simulator's mismatch pytree exactly (nominal profile, factors per probed
neuron): e^a on C_mem scales τ_eff, e^b on I_dc scales every DC drive, e^c on C_ref scales t_ref, e^e on the
neuron's AMPA entries' weights scales every synaptic drive. Simulating the probes with them gives the
intervals the simulator predicts; their difference from :mod:`.model`'s closed form,

    δ_r,m = log ISI_sim(θ_m) − log ISI_model(θ_m),

is the closed form's error for that neuron and run (the simulator's quadrature of the feedback's passage, the
ripple of the synaptic current). :func:`neurodeploy.calibration.calibrate.calibrate` refits against
log ISI_meas − δ until δ stops changing: the fixed point is the simulator's own fit to the measurements.
"""

from __future__ import annotations

import numpy as np

from ..backends.events import spike_events
from ..backends.emulator import Emulator
from .probes import interval_stats, probe_config, probe_input


def _factors(em: Emulator, sites: np.ndarray, theta: np.ndarray) -> dict:
    import jax.numpy as jnp

    from ..sim import no_mismatch

    mm = no_mismatch(em.net)
    pos = {tuple(int(v) for v in s): i for i, s in enumerate(sites)}
    rows = np.array([pos[tuple(int(v) for v in s)] for s in em.decoded.sites])
    th = np.asarray(theta)[rows]
    mm["capacitances"]["C_mem"] = jnp.asarray(np.exp(th[:, 0]), mm["capacitances"]["C_mem"].dtype)
    mm["capacitances"]["C_ref"] = jnp.asarray(np.exp(th[:, 2]), mm["capacitances"]["C_ref"].dtype)
    mm["currents"]["Idc"] = jnp.asarray(np.exp(th[:, 1]), mm["currents"]["Idc"].dtype)
    if em.net.n_synapses:
        mm["weight"] = jnp.asarray(np.exp(th[np.asarray(em.decoded.dst), 3]), mm["weight"].dtype)
    return mm


def simulated_intervals(profile, probes, theta: np.ndarray) -> np.ndarray:
    """[R, M] mean inter-spike intervals (s) the simulator gives for the probe set with factors θ [M, 4]."""
    from ..sim import simulate

    out = []
    for run in probes.runs:
        em = Emulator(probe_config(profile, probes.sites, run), profile, dt=probes.dt)
        x = probe_input(run, probes.duration, probes.dt)["spikes"]
        spikes, _, _ = simulate(em.net, x, _factors(em, probes.sites, theta), dt=probes.dt)
        ev = spike_events(np.asarray(spikes), em.decoded.sites, probes.dt)
        out.append(interval_stats(ev, probes.sites, probes.settle)[0])
    return np.stack(out)


#: per-neuron quantities the probes identify only in combination with others: each perturbed with the identified
#: combinations held (the membrane gain I_gain/(I_spkthr·(I_tau + I_0)) through I_dc and the weights, τ_eff through
#: C_mem), so that what is left is the effect the fit cannot absorb
UNIDENTIFIED: tuple[str, ...] = ("Igain_mem", "Ispkthr", "Itau_mem")


def _perturb(mm: dict, q: str, sigma: float, profile) -> dict:
    """The draw with quantity q of every neuron 1 + sigma times higher and the identified combinations held."""
    cur = profile.default_currents()
    it, i0 = cur["Itau_mem"], profile.analog.I_0
    k = 1.0 + sigma
    if q == "Igain_mem":
        gain = k
    elif q == "Ispkthr":
        gain = 1 / k
    else:
        gain = (it + i0) / (it * k + i0)
        mm["capacitances"]["C_mem"] = mm["capacitances"]["C_mem"] / gain
    mm["currents"][q] = mm["currents"][q] * k
    mm["currents"]["Idc"] = mm["currents"]["Idc"] / gain
    mm["weight"] = mm["weight"] / gain
    return mm


def systematic_shifts(profile, probes, theta: np.ndarray, sigma: float) -> np.ndarray:
    """[Q, R, M] change of log ISI when one :data:`UNIDENTIFIED` quantity of every neuron is ``1 + sigma`` times
    higher (identified combinations held, at the fitted factors θ): how that quantity's mismatch biases the fit."""
    from ..sim import simulate

    base = np.log(simulated_intervals(profile, probes, theta))
    out = []
    for q in UNIDENTIFIED:
        rows = []
        for run in probes.runs:
            em = Emulator(probe_config(profile, probes.sites, run), profile, dt=probes.dt)
            mm = _perturb(_factors(em, probes.sites, theta), q, sigma, profile)
            x = probe_input(run, probes.duration, probes.dt)["spikes"]
            spikes, _, _ = simulate(em.net, x, mm, dt=probes.dt)
            ev = spike_events(np.asarray(spikes), em.decoded.sites, probes.dt)
            rows.append(interval_stats(ev, probes.sites, probes.settle)[0])
        out.append(np.log(np.stack(rows)) - base)
    return np.stack(out)
