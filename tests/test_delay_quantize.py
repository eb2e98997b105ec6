"""Delay quantization: per core the three delay biases SYPD_DLY0..2_P and each CAM entry's two
delay bits, written into quantized.json and config.json and decoded back by the emulator."""

import numpy as np
import pytest

from neurodeploy.config.decode import decode
from neurodeploy.config.state import board_state, encode_state
from neurodeploy.deployment import deploy
from neurodeploy.errors import NetworkError
from neurodeploy.quantize import delays as dq
from neurodeploy.quantize.quantized_json import QuantizedNetwork, load_quantized
from neurodeploy.network import network_from_dict

from pathlib import Path

CAM_RED = Path(__file__).resolve().parent / "data" / "cam_profile_chip_red.json.gz"


def _err(target, grids, ix):
    t = np.array([g.time[j] for g, j in zip(grids, ix)])
    return float(np.sqrt(np.mean((dq.levels(t)[dq.assign(target, t)] - target) ** 2)))


@pytest.mark.parametrize("case", ["uniform", "clusters", "mostly-zero", "one-value"])
def test_never_worse_than_the_best_uniform_choice_of_the_three_biases(profile, case):
    grids = dq.stage_grids(profile)
    rng = np.random.default_rng(3)
    target = {"uniform": rng.uniform(0, 0.03, 300),
              "clusters": np.abs(rng.choice([0, 0.003, 0.007, 0.012], 300) + rng.normal(0, 3e-4, 300)),
              "mostly-zero": np.r_[np.zeros(50), rng.uniform(0.001, 0.002, 5)],
              "one-value": np.full(20, 0.0042)}[case]
    r = dq.quantize_core_delays(target, grids, seed=0)
    uni = _err(target, grids, dq.uniform_choice(target, grids))
    assert r.uniform_rms_error == pytest.approx(uni)
    assert r.rms_error <= uni + 1e-15
    # what the result says is what its bits and codes give
    t = np.array([float(profile.bias.to_current(g.parameter, *c)) for g, c in zip(grids, r.codes)])
    t = np.array(profile.delay_times(t))
    np.testing.assert_allclose(t, r.t, rtol=1e-12)
    from neurodeploy.device import physics
    np.testing.assert_allclose(physics.entry_delay(*t, r.precise, r.mismatched), r.value, rtol=1e-12)
    assert r.rms_error == pytest.approx(np.sqrt(np.mean((r.value - target) ** 2)))
    assert np.all(r.value[target == 0] == 0)                          # no delay asked: bits 00, exactly none
    if case == "clusters":
        assert r.rms_error < 0.5 * uni                                # four levels beat the 0, 2t, 3t of uniform


def test_producible_levels_are_found_exactly(profile):
    """Targets that are exactly the four delays of some DAC codes come back with (almost) no error."""
    grids = dq.stage_grids(profile)
    t = np.array([g.time[j] for g, j in zip(grids, (900, 1000, 800))])
    target = np.repeat(dq.levels(t), [5, 10, 7, 3])
    r = dq.quantize_core_delays(target, grids, seed=1)
    assert r.rms_error < 1e-3 * float(np.sqrt(np.mean(target ** 2)))
    assert r.rms_error < 0.1 * r.uniform_rms_error


def _net(D, W=None, name="d", n_in=8, n=6):
    rng = np.random.default_rng(0)
    W = rng.uniform(0.2, 1, (n_in, n)) if W is None else W
    return network_from_dict({"name": name, "n_inputs": n_in, "populations": [{"name": "p", "size": n}],
                           "outputs": [{"population": "p"}],
                           "projections": [{"source": "input", "target": "p", "weight_scale": 1e-8,
                                            "weight": np.asarray(W).tolist(), "delay": np.asarray(D).tolist()}]})


def _decoded_delay_per_synapse(dep, profile):
    """{(src, dst): decoded delay (s)} — the emulator's view of the config (each synapse a distinct pair)."""
    d = decode(dep.config, profile)
    place = dep.config.placement[0]
    site_of = {(c, k, m): i for i, (c, k, m) in enumerate(zip(place.chip, place.core, place.neuron))}
    out = {}
    for s, m, dl in zip(d.src, d.dst, d.delay):
        out.setdefault((int(s), site_of[tuple(int(x) for x in d.sites[m])]), set()).add(float(dl))
    return out


@pytest.mark.parametrize("n_in, n, cams", [(8, 6, None), (40, 240, {0: str(CAM_RED)})])
def test_map_writes_bits_and_biases_that_decode_to_the_quantized_delays(profile, tmp_path, n_in, n, cams):
    """With a CAM defect profile the entries move to working slots (and spares are dropped): the bits move along."""
    rng = np.random.default_rng(1)
    D = rng.choice([0.0, 0.003, 0.006, 0.010], (n_in, n))
    dep = deploy(_net(D, rng.uniform(0.2, 1, (n_in, n)), n_in=n_in, n=n), profile, cam_profiles=cams, chips=1)
    if cams:
        assert dep.report["cam_defects"]["bad_slots_skipped"] > 0
    q = dep.quantized.synapses
    assert q.delay is not None and len(q.precise_delay) == len(q.src)
    cfg = dep.config
    assert encode_state(board_state(cfg)).dumps() == cfg.dumps()            # decode(encode) identical with delays
    core = next(c for c in cfg.chips[0].cores if c.neurons)
    assert {"SYPD_DLY0_P", "SYPD_DLY1_P", "SYPD_DLY2_P"} <= set(core.parameters)
    got = _decoded_delay_per_synapse(dep, profile)
    for s, m, v, target in zip(q.src, q.dst, q.delay_value, q.delay):
        assert len(got[(s, m)]) == 1                                          # every entry of the synapse, one delay
        assert got[(s, m)].pop() == pytest.approx(v, rel=1e-12)
    r = dep.report["delays"]
    assert r["per_core"][0]["core"] == 0 and r["rms_error_s"] <= r["uniform_rms_error_s"]
    err = np.asarray(q.delay_value) - np.asarray(q.delay)
    assert r["rms_error_s"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-5)
    # quantized.json round trip (with its delay columns); a file with some but not all of them is refused
    path = dep.quantized.save(tmp_path / "q.json")
    assert load_quantized(path).dumps() == dep.quantized.dumps()
    bad = path.read_text().replace('"delay_value": ', '"delay_value_x": ')
    (tmp_path / "bad.json").write_text(bad)
    with pytest.raises(NetworkError, match="delay"):
        load_quantized(tmp_path / "bad.json")


def test_delay_free_and_zero_delay_networks_write_no_delays(profile):
    W = np.random.default_rng(0).uniform(0.2, 1, (8, 6))
    plain = _net(np.zeros((8, 6)), W)
    plain_dict = plain.to_json_dict()
    plain_dict["projections"][0].pop("delay")
    from neurodeploy.network import network_from_dict as sd
    a, b = deploy(sd(plain_dict), profile), deploy(plain, profile)
    same = lambda x: x.dumps().replace(x.source_model_sha256, "")  # noqa: E731  (the models differ in 'delay' only)
    assert same(a.config) == same(b.config) and same(a.quantized) == same(b.quantized)
    assert "delay" not in a.quantized.dumps() and "delays" not in a.report
    assert "DLY" not in a.config.dumps() and "synapse_flags" not in a.config.dumps()


def test_cli_map_reports_the_delay_error(profile, run_cli, tmp_path):
    D = np.random.default_rng(2).choice([0.0, 0.002, 0.005], (8, 6))
    (tmp_path / "m.json").write_text(_net(D).dumps())
    code, out, err = run_cli("map", tmp_path / "m.json", "-o", tmp_path / "c.json", "--json", tmp_path / "r.json")
    assert code == 0, err
    assert "delays" in out + err and "uniform" in out + err
    import json
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["delays"]["per_core"] and r["delays"]["rms_error_s"] <= r["delays"]["uniform_rms_error_s"]
    # stage by stage (quantize, then map the quantized file) gives the same config, byte for byte
    assert run_cli("quantize", tmp_path / "m.json", "-o", tmp_path / "q.json")[0] == 0
    assert run_cli("map", tmp_path / "q.json", "-o", tmp_path / "c2.json")[0] == 0
    assert (tmp_path / "c.json").read_bytes() == (tmp_path / "c2.json").read_bytes()
    assert isinstance(load_quantized(tmp_path / "q.json"), QuantizedNetwork)


def test_the_precise_stage_takes_the_long_delays(profile):
    """Levels 0, 10, 20, 30 ms need t₀ → 0 and {t₁, t₂} = {10, 20} ms: either order gives the same nominal
    delays; the long one goes on the precise stage, the short one on DLY2 (3× the mismatch)."""
    grids = dq.stage_grids(profile)
    target = np.repeat([0.0, 0.01, 0.02, 0.03], 10)
    r = dq.quantize_core_delays(target, grids, stage_sigma=profile.analog.dly_mismatch)
    assert r.rms_error < 1e-4
    assert r.t[1] > r.t[2] and r.t[1] == pytest.approx(0.02, rel=0.02) and r.t[2] == pytest.approx(0.01, rel=0.02)
    swapped = np.array([r.t[0], r.t[2], r.t[1]])
    assert dq.spread_cost(target, r.t, (1, 1, 3)) < dq.spread_cost(target, swapped, (1, 1, 3))


def test_as_good_as_a_brute_force_search(profile):
    """On a small problem the alternating optimiser matches an exhaustive search over a 0.5 ms grid of stage delays."""
    target = np.random.default_rng(7).uniform(0, 0.02, 30)
    g = np.arange(0.0, 0.0205, 0.0005)
    best = np.inf
    for t0 in g[:11]:
        L = np.stack(np.broadcast_arrays(0.0 * g[:, None], t0 + g[:, None] + 0 * g, t0 + g + 0 * g[:, None],
                                         t0 + g[:, None] + g), -1)                     # [G, G, 4]
        e = (np.min(np.abs(L[..., None, :] - target[:, None]), -1) ** 2).sum(-1)
        best = min(best, float(e.min()))
    r = dq.quantize_core_delays(target, dq.stage_grids(profile))
    assert r.rms_error <= 1.02 * np.sqrt(best / target.size)
