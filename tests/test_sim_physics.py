"""The simulator's physics against the DPI equations (analytic checks, small networks, short runs)."""

import numpy as np
import pytest

from neurodeploy.sim import build_from_arrays, default_params, simulate
from neurodeploy.device.dendrites import DENDRITE_INDEX

AMPA, NMDA, GABA, SHUNT = (DENDRITE_INDEX[d] for d in ("ampa", "nmda", "gaba", "shunt"))


def net_of(profile, n, n_inputs, syn=(), flags=None, **params):
    """n neurons at the profile's defaults, ``params`` overriding (scalars or [n]); syn = (src, dst, dendrite, I_w)."""
    p = default_params(profile, n)
    for k, v in params.items():
        p[k] = np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()
    src, dst, dend, w = (np.asarray([s[i] for s in syn]) for i in range(4)) if syn else ([], [], [], [])
    return build_from_arrays(n_inputs, p, {k: np.broadcast_to(v, (n,)) for k, v in (flags or {}).items()},
                             src, dst, dend, w, profile)


def tau_of(profile, C, I):
    a = profile.analog
    return a.U_T * C / (a.kappa * I)


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_synapse_decay_follows_tau(profile, dt):
    a = profile.analog
    itau = {"ampa": 8e-11, "nmda": 4e-11, "gaba": 1.2e-10, "shunt": 6e-11}   # τ ≈ 11, 22, 7, 14 ms
    syn = [(i, 0, DENDRITE_INDEX[d], 5e-8) for i, d in enumerate(itau)]
    net = net_of(profile, 1, 4, syn, **{f"Itau_{d}": v for d, v in itau.items()}, Ispkthr=1e-6)
    T = int(round(0.03 / dt))
    x = np.zeros((T, 4), np.float32)
    x[0] = 1
    _, _, rec = simulate(net, x, record=True, dt=dt)
    k = int(round(0.01 / dt))                        # measure over 10 ms, from 1 step after the event
    for d, I_tau in itau.items():
        i = np.asarray(rec[f"I_{d}"])[:, 0] - a.I_0
        tau_est = k * dt / np.log(i[1] / i[1 + k])
        assert tau_est == pytest.approx(tau_of(profile, getattr(a, f"C_{d}"), I_tau), rel=0.02), d


def test_charge_per_spike_closed_form(profile):
    """One event adds (I_gain/I_tau)·I_w·(1 − exp(−t_pulse/τ)); k events in a bin add k times it; entries
    repeating the same (src, dst) add their weights (the chip's repeated CAM tags)."""
    a = profile.analog
    d = profile.default_currents()
    I_w = 3e-8
    syn = [(0, 0, AMPA, I_w), (1, 1, AMPA, I_w), (2, 2, AMPA, I_w), (2, 2, AMPA, I_w), (0, 3, GABA, I_w)]
    net = net_of(profile, 4, 3, syn, Ispkthr=1e-6)
    x = np.zeros((3, 3), np.float32)
    x[0] = [1, 3, 1]
    _, _, rec = simulate(net, x, record=True)
    for name, idx, n_w in (("ampa", 0, 1), ("ampa", 1, 3), ("ampa", 2, 2), ("gaba", 3, 1)):
        tau = tau_of(profile, getattr(a, f"C_{name}"), d[f"Itau_{name}"])
        t_pulse = a.V_th * a.C_pulse / d["Ipulse"]
        dI = (d[f"Igain_{name}"] / d[f"Itau_{name}"]) * I_w * (1 - np.exp(-t_pulse / tau))
        got = (float(rec[f"I_{name}"][0, idx]) - a.I_0) / np.exp(-1e-3 / tau)   # recorded at the end of the bin
        assert got == pytest.approx(n_w * dI, rel=1e-3)
    # a synapse never leaves its floor I_0 without input, and never goes below it
    assert float(np.min(np.asarray(rec["I_nmda"]))) == pytest.approx(a.I_0, rel=1e-6)


def test_dc_regular_rate_rising_and_capped_by_refractory(profile):
    a = profile.analog
    idc = np.array([2e-8, 3e-8, 5e-8, 1e-7, 3e-7, 1e-6, 1e-5, 1e-5, 1e-6])
    t_ref = np.full(9, 1e-3)
    t_ref[7] = 4e-3
    dc = np.ones(9, bool)
    dc[8] = False                                                 # the last one has its DC latch off
    net = net_of(profile, 9, 1, flags={"dc": dc}, Idc=idc, Iref=a.V_th * a.C_ref / t_ref)
    T = 2000
    s, _, _ = simulate(net, np.zeros((T, 1), np.float32))
    s = np.asarray(s)
    rates = s.sum(0) / (T * 1e-3)
    assert np.all(np.diff(rates[:7]) > 0), rates                  # rises with I_dc
    assert rates[0] > 5
    assert np.all(rates <= 1 / t_ref + 1e-9), rates               # never above 1/t_ref
    assert rates[7] > 0.9 / t_ref[7]                              # and approaches it
    for j in range(6):                                            # regular: ISIs equal within one bin
        isi = np.diff(np.flatnonzero(s[200:, j]))
        assert isi.max() - isi.min() <= 1, (j, isi)
    assert rates[8] == 0                                          # latch off: the current does nothing


def test_gaba_after_ampa_volley_still_inhibits(profile):
    syn = [(0, 0, AMPA, 4e-7), (1, 0, GABA, 4e-7)]
    net = net_of(profile, 1, 2, syn)
    x = np.zeros((3, 80, 2), np.float32)
    x[:, 10, 0] = 8                       # AMPA volley at step 10 (a burst of ~5 spikes)
    x[1, 12, 1] = 1                       # one GABA spike two steps later
    x[2, 12, 1] = 4                       # a stronger one
    n = np.asarray(simulate(net, x)[0]).sum(axis=(1, 2))
    assert n[0] >= 4, n
    assert n[1] < n[0] and n[2] < n[1], n


def test_shunt_reduces_rate(profile):
    syn = [(0, 0, SHUNT, 3e-7), (0, 1, SHUNT, 3e-7)]
    net = net_of(profile, 2, 1, syn, flags={"dc": True}, Idc=[8e-8, 8e-8])
    x = np.zeros((400, 1), np.float32)
    x[::10, 0] = 1                       # 100 Hz shunting input to both; neuron 0 has it, neuron 1 too
    s0 = np.asarray(simulate(net, np.zeros_like(x))[0]).sum(0)
    s1 = np.asarray(simulate(net, x)[0]).sum(0)
    assert s0[0] > 20
    assert s1[0] < 0.7 * s0[0], (s0, s1)


def test_nmda_gate(profile):
    """Gate on: NMDA input alone, with the membrane at rest below the gate, does nothing; with AMPA
    depolarising the membrane towards the gate it adds. Gate off: NMDA alone drives the neuron."""
    syn = [(0, 0, NMDA, 2e-7), (0, 1, NMDA, 2e-7), (0, 2, NMDA, 2e-7), (1, 2, AMPA, 1.5e-7), (1, 3, AMPA, 1.5e-7)]
    gate = np.array([True, False, True, True])
    net = net_of(profile, 4, 2, syn, flags={"nmda_gate": gate}, If_nmda=2e-7)
    x = np.zeros((300, 2), np.float32)
    x[::5, 0] = 1                        # 200 Hz NMDA drive (mean I_nmda ≈ 40 nA)
    x[::5, 1] = 1                        # 200 Hz AMPA drive (neurons 2 and 3)
    n = np.asarray(simulate(net, x)[0]).sum(0)
    assert n[0] == 0                     # gated NMDA alone: nothing
    assert n[1] > 10                     # ungated NMDA alone: a second excitatory synapse
    assert n[2] > n[3] > 0               # gated NMDA adds once AMPA has depolarised the membrane


def test_ahp_lowers_rate_over_time(profile):
    a = profile.analog
    kw = dict(Idc=1.5e-7, Iw_ahp=2e-8, Ipulse_ahp=a.V_th * a.C_pulse_ahp / 1e-4, Itau_ahp=8e-12)  # τ_ahp ≈ 180 ms
    net = net_of(profile, 2, 1, flags={"dc": True, "adaptation": np.array([True, False])}, **kw)
    s = np.asarray(simulate(net, np.zeros((1000, 1), np.float32))[0])
    first, last = s[:150].sum(0), s[-150:].sum(0)
    assert last[0] < 0.7 * first[0], (first, last)
    assert abs(int(last[1]) - int(first[1])) <= 1                 # latch off: no adaptation


def test_killed_neuron_is_silent(profile):
    syn = [(1, 0, AMPA, 1e-7)]           # neuron 1 (killed) → neuron 0
    net = build_from_arrays(0, {**default_params(profile, 3), "Idc": np.full(3, 3e-7)},
                            {"dc": np.ones(3, bool), "kill": np.array([False, True, False])}, *zip(*syn), profile)
    s, st, rec = simulate(net, np.zeros((300, 0), np.float32), record=True)
    n = np.asarray(s).sum(0)
    assert n[1] == 0 and n[0] > 50 and n[2] > 50
    assert np.all(np.isfinite(np.asarray(rec["I_mem"])))


def test_recurrent_spike_arrives_one_step_later(profile):
    syn = [(0, 0, AMPA, 1e-6), (1, 1, AMPA, 1e-6)]   # input → neuron 0 → neuron 1 (src 1 = neuron 0)
    net = net_of(profile, 2, 1, syn, Iref=1e-7)
    x = np.zeros((40, 1), np.float32)
    x[5, 0] = 5
    s, _, rec = simulate(net, x, record=True)
    s = np.asarray(s)
    t0 = np.flatnonzero(s[:, 0])
    t1 = np.flatnonzero(s[:, 1])
    assert t0.size and t1.size and t1[0] > t0[0]
    ampa1 = np.asarray(rec["I_ampa"])[:, 1]
    assert ampa1[t0[0]] == pytest.approx(profile.analog.I_0) and ampa1[t0[0] + 1] > 1e-9


def _reference_network(profile, seed=0):
    """30 neurons, 20 random inputs each on all four dendrites, half of them adapting."""
    rng = np.random.default_rng(seed)
    n, n_in, k = 30, 40, 20
    src, dst, dend, w = [], [], [], []
    scale = {AMPA: 1.6e-7, NMDA: 1e-7, GABA: 1.5e-7, SHUNT: 3e-10}
    for j in range(n):
        d = rng.choice([AMPA, AMPA, AMPA, NMDA, GABA, SHUNT], k)
        src += list(rng.choice(n_in, k, replace=False)); dst += [j] * k; dend += list(d)
        w += [scale[int(di)] * rng.uniform(0.5, 1.5) for di in d]
    a = profile.analog
    p = default_params(profile, n)
    p["Iw_ahp"][:] = 2e-9
    p["Ipulse_ahp"][:] = a.V_th * a.C_pulse_ahp / 1e-5
    return build_from_arrays(n_in, p, {"adaptation": np.arange(n) % 2 == 0}, src, dst, dend, w, profile)


def test_dt_convergence_1ms_vs_01ms(profile):
    """Same Poisson events (generated at 10 µs), binned at 1 ms and at 0.1 ms: rates within 10 %."""
    net = _reference_network(profile)
    rng = np.random.default_rng(1)
    rates = rng.uniform(10, 40, 40)
    fine = rng.random((2, 100000, 40)) < rates * 1e-5               # 2 samples × 1 s at 10 µs
    rate = {}
    for dt in (1e-3, 1e-4):
        k = int(round(dt / 1e-5))
        x = fine.reshape(2, -1, k, 40).sum(2).astype(np.float32)
        s = np.asarray(simulate(net, x, dt=dt)[0])
        rate[dt] = s.sum(axis=(0, 1)) / 2.0
    mean_ref = rate[1e-4].mean()
    assert mean_ref > 5, rate[1e-4]
    assert rate[1e-3].mean() == pytest.approx(mean_ref, rel=0.10)
    active = rate[1e-4] > 5
    assert np.all(np.abs(rate[1e-3][active] - rate[1e-4][active]) <= 0.1 * rate[1e-4][active] + 1.0)
