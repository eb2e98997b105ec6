"""Networks faster than the chip's neurons: the import's ``time-scale`` rule names them, ``-O time_scale=K`` slows
them down. The files in tests/data/nir/dt100us/ are snnTorch and SpikingJelly networks written for a 0.1 ms step,
with the frameworks' own runs (tools/make_nir_testdata.py --fast)."""

import json
import re
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest

from neurodeploy.errors import NetworkError
from neurodeploy.importers import load_network
from neurodeploy.importers.nir import load_nir
from neurodeploy.importers.nir.fidelity import compare
from neurodeploy.importers.nir.time_scale import TimeScaleWarning, nice_up, peak_spikes_per_step
from neurodeploy.rules import NetworkFacts, check_network

DATA = Path(__file__).resolve().parent / "data" / "nir" / "dt100us"
MANIFEST = json.loads((DATA / "MANIFEST.json").read_text())
FILES = sorted(p.name for p in DATA.glob("*.nir"))


def _import(name, profile, **opts):
    """(network, the import's time-scale warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = load_network(DATA / name, dt=1e-4, convention=MANIFEST[name]["tool"], profile=profile, **opts)
    return network, [str(w.message) for w in caught if issubclass(w.category, TimeScaleWarning)]


def _rule(network, profile):
    return [m for r, m in check_network(NetworkFacts(network, profile)) if r == "time-scale"]


def _meets_gates(rows):
    return all(r.r >= 0.9 and 1 / 1.5 <= r.ratio <= 1.5 for r in rows)


def test_the_files_are_what_they_claim():
    assert FILES == sorted(MANIFEST) == ["snntorch_leaky.nir", "snntorch_rleaky.nir", "spikingjelly_lif.nir"]
    for name in FILES:
        with np.load(DATA / name.replace(".nir", ".npz")) as z:
            assert float(z["dt"]) == 1e-4 and z["spikes"].shape == (400, 16)
            # the busiest neuron fires at 0.8-2 kHz on average: at or beyond the ~1 kHz of a 1-ms refractory period
            assert max(z[k].sum(axis=0).max() for k in ("layer0", "layer1")) / (400 * 1e-4) > 800


@pytest.mark.parametrize("name", FILES)
def test_fast_network_is_named_and_fits_when_slowed_down(name, profile):
    network, said = _import(name, profile)
    pops = [p.name for p in network.populations]
    assert len(said) == len(pops) == 2                            # one line per layer
    for line, pop in zip(said, pops):
        assert f"[time-scale] layer " in line and f"(population {pop}): neurons 0-" in line, line
    ks = {float(m) for m in re.findall(r"-O time_scale=([0-9.]+)", " ".join(said))}
    assert len(ks) == 1                                           # one K for the whole network
    k = ks.pop()
    assert _rule(network, profile) == [ln.split("[time-scale] ", 1)[1] for ln in said]
    rows = compare(network, DATA / name.replace(".nir", ".npz"), profile)
    assert not _meets_gates(rows), [r.line() for r in rows]       # what the rule predicts: the chip loses spikes

    scaled, said = _import(name, profile, time_scale=k)
    assert said == [] and _rule(scaled, profile) == []
    assert scaled.dt == pytest.approx(k * 1e-4)
    rows = compare(scaled, DATA / name.replace(".nir", ".npz"), profile)   # the reference's dt x K
    for row in rows:
        assert row.reference > 50, row.line()
        assert row.r >= 0.9, row.line()
        assert 1 / 1.5 <= row.ratio <= 1.5, row.line()


def test_validate_lists_the_rule_and_compares_the_scaled_network(run_cli):
    f, ref = DATA / "snntorch_leaky.nir", DATA / "snntorch_leaky.npz"
    code, out, err = run_cli("validate", f, "-O", "dt=1e-4", "-O", "convention=snntorch", "--compare", ref)
    assert code == 0, err
    rule_lines = [ln for ln in err.splitlines() if "[time-scale]" in ln]
    assert len(rule_lines) == 2 and all(ln.startswith(f"{f}: warning: [time-scale] layer") for ln in rule_lines)
    assert len(err.strip().splitlines()) == 2                    # the import's own warnings are not repeated
    code, out, err = run_cli("validate", f, "-O", "dt=1e-4", "-O", "convention=snntorch", "-O", "time_scale=10",
                             "--compare", ref)
    assert code == 0 and "[time-scale]" not in err, err
    assert "time_scale 10: the reference's dt x 10" in out and "dt 0.001 s" in out.splitlines()[0]


def test_scaled_network_maps(run_cli, tmp_path):
    f = DATA / "snntorch_rleaky.nir"
    code, _, err = run_cli("export", f, "-O", "dt=1e-4", "-O", "convention=snntorch", "-O", "time_scale=20",
                           "-o", tmp_path / "scaled.json")
    assert code == 0, err
    saved = json.loads((tmp_path / "scaled.json").read_text())
    assert saved["dt"] == pytest.approx(2e-3) and saved["metadata"]["import"]["timing"]["time_scale"] == 20
    code, out, err = run_cli("map", tmp_path / "scaled.json", "-o", tmp_path / "cfg.json")
    assert code == 0 and (tmp_path / "cfg.json").exists(), err
    code, out, err = run_cli("validate", tmp_path / "scaled.json")
    assert code == 0 and "[time-scale]" not in err
    # the unscaled network maps too (a warning rule never stops map), and validate names it from model.json alone
    run_cli("export", f, "-O", "dt=1e-4", "-O", "convention=snntorch", "-o", tmp_path / "fast.json")
    code, _, err = run_cli("map", tmp_path / "fast.json", "-o", tmp_path / "cfg2.json")
    assert code == 0, err
    code, _, err = run_cli("validate", tmp_path / "fast.json")
    assert code == 0 and err.count("warning: [time-scale]") == 2 and "-O time_scale=20" in err


def _graph(tau, delay, tau_syn=None):
    """Input → Linear → Delay → LIF (or CubaLIF with tau_syn) → Output, times in seconds."""
    n = 2
    if tau_syn is None:
        cell = nir.LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                       v_reset=np.zeros(n))
    else:
        cell = nir.CubaLIF(tau_mem=np.full(n, tau), tau_syn=np.full(n, tau_syn), r=np.ones(n), v_leak=np.full(n, 0.5),
                           v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n))
    nodes = {"input": nir.Input(input_type=np.array([3])), "fc": nir.Linear(weight=np.full((n, 3), 0.4)),
             "d": nir.Delay(delay=np.array([delay, 0.0])), "lif": cell, "output": nir.Output(output_type=np.array([n]))}
    path = ["input", "fc", "d", "lif", "output"]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(path, path[1:])), type_check=False)


@pytest.mark.parametrize("tau_syn", [None, 0.003])
def test_time_scale_is_the_network_with_every_time_k_times_longer(profile, tau_syn):
    """time_scale=K imports exactly the network whose dt, time constants, delays and time options are K× the file's."""
    k = 7.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeScaleWarning)
        a = load_nir(_graph(0.02, 0.002, tau_syn), dt=1e-3, time_scale=k, t_ref=2e-4, profile=profile)
        b = load_nir(_graph(0.02 * k, 0.002 * k, None if tau_syn is None else tau_syn * k), dt=1e-3 * k,
                     t_ref=2e-4 * k, profile=profile)
    assert a.dt == pytest.approx(b.dt)
    np.testing.assert_allclose(a.projections[0].delay, b.projections[0].delay)
    np.testing.assert_allclose(a.dense_weight(0), b.dense_weight(0))
    np.testing.assert_allclose(a.projections[0].weight_scale, b.projections[0].weight_scale, rtol=1e-9)
    pa, pb = a.neuron_params(profile), b.neuron_params(profile)
    for q in ("Itau_mem", "Iref", "Idc", "Itau_ampa", "Itau_gaba"):
        np.testing.assert_allclose(pa[q], pb[q], rtol=1e-9, err_msg=q)
    assert "time_scale 7" in " ".join(a.metadata["import"]["assumptions"])


def test_time_scale_refused_where_it_has_no_meaning(profile, tmp_path):
    with pytest.raises(NetworkError, match=r"option time_scale: must be a positive, finite number"):
        load_nir(_graph(0.02, 0.0), dt=1e-3, time_scale=0, profile=profile)
    nd = tmp_path / "nd.nir"
    from neurodeploy.importers.nir.export import export_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeScaleWarning)
        export_nir(load_nir(_graph(0.02, 0.0), dt=1e-3, profile=profile), nd)
    with pytest.raises(NetworkError, match=r"neurodeploy export holds the chip's currents"):
        load_network(nd, time_scale=10, profile=profile)


def test_reference_of_another_time_step_is_named(profile, tmp_path):
    network, _ = _import("snntorch_leaky.nir", profile, time_scale=10)
    with np.load(DATA / "snntorch_leaky.npz") as z:
        np.savez(tmp_path / "ref.npz", **{**{k: z[k] for k in z.files}, "dt": 1e-3})
    with pytest.raises(NetworkError, match=r"ref.npz: \$.dt = 0.001 s differs from the network's dt = 0.001 s / "
                                        r"time_scale 10 = 0.0001 s"):
        compare(network, tmp_path / "ref.npz", profile)


def test_peak_rate_bound():
    """q = min(1, 1/n) with n = ln(1 - (1 - beta)/u)/ln(beta); sources at their own peak through recurrence."""
    dt, tau = 1e-3, 0.01
    beta = np.exp(-dt / tau)
    # one input of weight 0.5 per step: v_n = 0.5(1 - beta^n)/(1 - beta) >= 1 after n = ln(1 - 2(1 - beta))/ln(beta)
    projs = [{"source": "input", "target": "a", "weight": [[0.5]]},
             {"source": "a", "target": "b", "weight": [[0.05]]},           # too weak to ever fire b
             {"source": "input", "target": "c", "weight": [[2.0]]}]        # fires every step
    timing = {p: {"tau_mem": [tau], "drive": [0.0]} for p in "abc"}
    q = peak_spikes_per_step(projs, timing, dt)
    assert q["a"][0] == pytest.approx(np.log(beta) / np.log(1 - 2 * (1 - beta)))
    assert q["b"][0] == 0.0 and q["c"][0] == 1.0
    # a drive above threshold fires alone; below it never does
    q = peak_spikes_per_step([], {"d": {"tau_mem": [tau, tau], "drive": [1.5, 0.9]}}, dt)
    assert q["d"][0] > 0 and q["d"][1] == 0.0
    assert [nice_up(x) for x in (9.97, 21.2, 1.06, 100.0)] == [10, 22, 1.1, 100]


def test_a_timing_record_edited_by_hand_is_skipped_not_fatal(run_cli, tmp_path):
    run_cli("export", DATA / "snntorch_leaky.nir", "-O", "dt=1e-4", "-O", "convention=snntorch", "-o", tmp_path / "m.json")
    raw = json.loads((tmp_path / "m.json").read_text())
    pops = raw["metadata"]["import"]["timing"]["populations"]
    first = next(iter(pops))
    pops[first]["peak_rate"] = [1.0, 2.0]                          # 2 values for 12 neurons
    (tmp_path / "m.json").write_text(json.dumps(raw))
    code, _, err = run_cli("validate", tmp_path / "m.json")
    assert code == 0 and err.count("[time-scale]") == 1 and first not in err, err   # the intact layer still checked
    code, _, err = run_cli("map", tmp_path / "m.json", "-o", tmp_path / "cfg.json")
    assert code == 0, err
