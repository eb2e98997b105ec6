"""The NIR import's calibration on the DPI model: a unit weight moves the membrane as in the source LIF/CubaLIF.

The imported network is simulated (nominal chip) and its membrane current, in units of the effective threshold
θ·I_spkthr, is compared with the LIF's analytic response in units of v_threshold − v_reset: a single event
(waveform for equal time constants, integral for any), and a steady event train (mean excursion w·ν·τ_mem).
Also the Rockpool and Sinabs conventions, against the frameworks' documented update rules.
"""

import nir
import numpy as np
import pytest

from neurodeploy.importers.nir import load_nir
from neurodeploy.importers.nir.calibrate import EFFECTIVE_THRESHOLD

DT = 1e-3


def _one_layer(w: float, tau_mem: float, tau_syn: float | None, n: int = 1):
    cell = dict(v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n), r=np.ones(n))
    node = (nir.CubaLIF(tau_mem=np.full(n, tau_mem), tau_syn=np.full(n, tau_syn), w_in=np.ones(n), **cell)
            if tau_syn is not None else nir.LIF(tau=np.full(n, tau_mem), **cell))
    # NIR semantics: a spike through W raises v by W*dt/tau_mem in total: W = w*tau_mem/dt gives the weight w
    nodes = {"input": nir.Input(input_type=np.array([1])), "fc": nir.Linear(weight=np.full((n, 1), w * tau_mem / DT)),
             "lif": node, "output": nir.Output(output_type=np.array([n]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)


def _membrane(network, profile, x):
    """The membrane current in effective thresholds, per step [T]."""
    from neurodeploy.sim.network import build_from_network
    from neurodeploy.sim.simulate import simulate

    net, _ = build_from_network(network, profile)
    spikes, _, rec = simulate(net, x, record=("I_mem",))
    assert float(np.asarray(spikes).sum()) == 0   # sub-threshold: the response, not the spike
    i_th = EFFECTIVE_THRESHOLD * network.neuron_params(profile)["Ispkthr"][0]
    return (np.asarray(rec["I_mem"])[:, 0] - profile.analog.I_0) / i_th


def _lif_kernel(w, tau_mem, tau_syn, t):
    """v(t)/(v_th − v_reset) after one event of weight w at t = 0 (CubaLIF; LIF when tau_syn is None)."""
    if tau_syn is None:
        return w * np.exp(-t / tau_mem)
    return w * tau_mem / (tau_mem - tau_syn) * (np.exp(-t / tau_mem) - np.exp(-t / tau_syn))


@pytest.mark.parametrize("tau_mem, tau_syn", [(0.02, 0.005), (0.01, 0.005), (0.02, None)])
def test_single_event_matches_the_lif_response(profile, tau_mem, tau_syn):
    w, t0, T = 0.4, 5, 200
    network = load_nir(_one_layer(w, tau_mem, tau_syn), dt=DT, profile=profile)
    x = np.zeros((T, 1), np.float32)
    x[t0, 0] = 1
    v = _membrane(network, profile, x)
    t = (np.arange(T) - t0 + 1) * DT           # the event lands at the start of bin t0; records at the end of bins
    ref = np.where(t > 0, _lif_kernel(w, tau_mem, tau_syn, np.maximum(t, 0)), 0.0)
    integral_dpi, integral_lif = v.sum() * DT, w * tau_mem  # ∫Δv dt = w·τ_mem for every synaptic τ
    assert integral_dpi == pytest.approx(integral_lif, rel=0.05)
    if tau_syn is not None:                    # equal time constants: the same waveform
        assert np.max(np.abs(v - ref)) < 0.02 * np.max(ref)
        assert np.argmax(v) == pytest.approx(np.argmax(ref), abs=1)


def test_steady_train_gives_the_lif_mean_excursion(profile):
    w, tau_mem, period, T = 0.05, 0.02, 5, 600   # an event every 5 ms: mean excursion w·ν·τ_mem = 0.2 thresholds
    network = load_nir(_one_layer(w, tau_mem, 0.005), dt=DT, profile=profile)
    x = np.zeros((T, 1), np.float32)
    x[::period, 0] = 1
    v = _membrane(network, profile, x)
    assert v[200:].mean() == pytest.approx(w / (period * DT) * tau_mem, rel=0.05)


def test_rockpool_convention_follows_liftorch_update(profile):
    """Rockpool's LIFTorch per step: i += W·x; v *= α; i *= β; v += i — a spike raises v by W·β/(1−β) in total."""
    tau_mem, tau_syn = 0.02, 0.01
    n = 2
    alpha, beta = np.exp(-DT / tau_mem), np.exp(-DT / tau_syn)
    W = np.array([[0.3, -0.2]]).T    # [n_out x n_in] from one input
    node = nir.CubaLIF(tau_mem=np.full(n, tau_mem), tau_syn=np.full(n, tau_syn), r=np.full(n, tau_mem * alpha / DT),
                       v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=np.ones(n), v_reset=np.zeros(n))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1])), "fc": nir.Linear(weight=W), "lif": node,
                            "output": nir.Output(output_type=np.array([n]))},
                     edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)
    network = load_nir(g, dt=DT, convention="rockpool", profile=profile)
    # the update rule, iterated: total rise of v (no leak) per unit W
    i, rise = 1.0, 0.0
    for _ in range(2000):
        i *= beta
        rise += i
    w = network.dense_weight(0)[0]
    assert w[0] == pytest.approx(0.3 * rise, rel=1e-6)
    assert w[1] < 0 and abs(w[1]) == pytest.approx(0.2 * rise, rel=0.05)   # GABA: scaled by its unit current
    assert any("rockpool LIFTorch" in a for a in network.metadata["import"]["assumptions"])


def test_sinabs_exp_leak_convention(profile):
    """Sinabs's ExpLeak (norm_input=False): v = α·v + W·x settles at W/(1−α) for a spike every step — NIR's LI with
    r = 1/(1−α); sinabs writes r = 1. Its LIF (norm_input=True, v = α·v + (1−α)·W·x) settles at W: r = 1 as written."""
    tau_steps = 20.0
    n = 1
    alpha = np.exp(-1 / tau_steps)
    nodes = {"input": nir.Input(input_type=np.array([1])), "fc": nir.Linear(weight=np.array([[0.5]])),
             "li": nir.LI(tau=np.full(n, tau_steps), r=np.ones(n), v_leak=np.zeros(n)),
             "output": nir.Output(output_type=np.array([n]))}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "li"), ("li", "output")], type_check=False)
    network = load_nir(g, dt=DT, convention="sinabs", profile=profile)
    v, ss = 0.0, 0.0
    for _ in range(2000):   # the steady state of the rule under a spike every step, per unit W
        v = alpha * v + 1.0
    ss = v
    # the network's weight is the rise per spike in thresholds: NIR LI steady state r·W·(per-step input) = r·W
    # corresponds to a per-spike rise of r·W·dt/tau; the rule's steady state W/(1−α) = W·ss
    w = network.dense_weight(0)[0, 0]
    assert w == pytest.approx(0.5 * ss * DT / (tau_steps * DT), rel=1e-9)
    assert any("sinabs ExpLeak" in a for a in network.metadata["import"]["assumptions"])


def test_validate_fails_where_map_fails_bias_range(run_cli, tmp_path):
    """An imported DC drive beyond the DAC's range: validate and map both refuse it, naming bias-range."""
    n = 2
    nodes = {"input": nir.Input(input_type=np.array([1])),
             "fc": nir.Affine(weight=np.ones((n, 1)), bias=np.array([0.5, 500.0])),
             "lif": nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                            v_reset=np.zeros(n)),
             "output": nir.Output(output_type=np.array([n]))}
    path = tmp_path / "big_bias.nir"
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False))
    code, out, err = run_cli("validate", path, "-O", "dt=0.001")
    assert code == 2 and "[bias-range] neuron lif[1]: Idc" in err, (out, err)
    code, out, err = run_cli("map", path, "-O", "dt=0.001", "-o", tmp_path / "c.json")
    assert code == 2 and "[bias-range] neuron lif[1]: Idc" in err, (out, err)
    code, out, err = run_cli("validate", path, "-O", "dt=0.001", "-O", "Ispkthr=1e-9")   # a smaller Idc fits
    assert code == 0, err
