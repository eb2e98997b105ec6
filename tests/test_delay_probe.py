"""The delay-stage probe: C_dly0..2 of a hidden chip recovered through load/run only; map --chip sets the delay biases
from the measured stages, core by core."""

import json

import numpy as np
import pytest

from neurodeploy.backends.emulator import EmulatorBackend
from neurodeploy.calibration import delay_probe as dp
from neurodeploy.calibration.apply import chip_delay_factors, measured_profile, retarget_delay_codes
from neurodeploy.calibration.calibrate import probe_sites
from neurodeploy.calibration.hidden import hidden_profile, new_hidden_chip, write_hidden_chip
from neurodeploy.calibration.placement import deploy_on_chip
from neurodeploy.config.decode import decode
from neurodeploy.deployment import deploy
from neurodeploy.fileio import dumps_json
from neurodeploy.device.chip_profile import ChipProfile, dumps_chip_profile
from neurodeploy.network import network_from_dict

DELAYS = [0.012, 0.018, 0.03, 0.03]     # three levels a core gives: t₁, t₂, t₁ + t₂ (t₀ at its shortest; s)


class LoadRunOnly:
    """The backend seen through load/run alone: any other attribute raises."""

    def __init__(self, inner):
        self._inner = inner

    def load(self, cfg):
        return self._inner.load(cfg)

    def run(self, data):
        return self._inner.run(data)

    def __getattr__(self, name):
        raise AssertionError(f"the delay probe read backend.{name}")


def test_delay_probe_recovers_the_hidden_stages(tmp_path, profile):
    chip = new_hidden_chip(seed=11, sigma=0.1)          # C_dly0 +61 %, C_dly1 +21 %, C_dly2 +29 % (effective)
    path = write_hidden_chip(tmp_path / "hidden.chip", chip)
    backend = LoadRunOnly(EmulatorBackend(profile, hidden_chip=path))
    path.unlink()
    sites = probe_sites(profile, cores=[0], neurons=range(0, 256, 4))
    probes = dp.plan_delays(profile, sites)
    measured = dp.run_delay_probes(backend, profile, probes)
    assert measured["latency"].shape == (2, 4, 64) and np.isfinite(measured["latency"]).all()
    fit = dp.fit_delays(profile, probes, measured)[(0, 0)]
    h, a = hidden_profile(chip).analog, profile.analog
    moved = 0
    for i in range(3):
        true = getattr(h, f"C_dly{i}") * h.V_th / a.V_th
        value, sigma = fit[f"C_dly{i}"]
        assert 0 < sigma < 0.05
        assert abs(value / true - 1) <= max(0.05, 3 * sigma), (i, value / true, sigma)
        moved += abs(true / getattr(a, f"C_dly{i}") - 1) > 0.15
    assert moved >= 2                                    # the hidden stages are far from the nominal ones
    assert probes.board_time == pytest.approx(2 * 4 * dp.REPEATS * dp.GAP)


def _network():
    return network_from_dict({"n_inputs": 4, "populations": [{"name": "p", "size": 4}], "outputs": [{"population": "p"}],
                              "projections": [{"source": "input", "target": "p", "weight_scale": 1e-7,
                                               "pre": [0, 1, 2, 3], "post": [0, 1, 2, 3], "w": [3.0] * 4,
                                               "delay": DELAYS}]})


def _chip_profile(profile, ratios: dict) -> ChipProfile:
    """A chip profile measuring 1.01× the nominal constants, with C_dly,i = ratio·nominal on each (chip, core) of
    ``ratios``."""
    a = profile.analog
    ones = [1.0] * 4
    cores = [{"chip": c, "core": k, "neurons": [0, 1, 2, 3],
              "constants": {**{n: {"value": getattr(a, n) * 1.01, "sigma": 0.01} for n in ("C_mem", "C_ref", "C_pulse")},
                            **{f"C_dly{i}": {"value": getattr(a, f"C_dly{i}") * r, "sigma": 0.01} for i in range(3)}},
              "factors": {f: ones for f in ("tau_mem", "dc_drive", "t_ref", "ampa_drive")},
              "sigma": {f: [0.0] * 4 for f in ("tau_mem", "dc_drive", "t_ref", "ampa_drive")}}
             for (c, k), r in ratios.items()]
    return ChipProfile.model_validate({
        "device_profile": {"name": profile.name, "sha256": profile.sha256},
        "provenance": {"backend": "emulator", "probe_set": "test", "neurodeploy_version": "0", "board_time": 1.0},
        "probe_data": {"file": "chip.probes.npz", "sha256": "0" * 64}, "delay_calibrated": True, "cores": cores})


def _with_dly(profile, r: float):
    return profile.model_copy(update={"analog": profile.analog.model_copy(
        update={f"C_dly{i}": getattr(profile.analog, f"C_dly{i}") * r for i in range(3)})})


def _stage_currents(cfg, profile, chip=0, core=0):
    k = next(c for c in next(ch for ch in cfg.chips if ch.chip == chip).cores if c.core == core)
    return np.array([float(profile.bias.to_current(p, k.parameters[p].coarse, k.parameters[p].fine))
                     for p in ("SYPD_DLY0_P", "SYPD_DLY1_P", "SYPD_DLY2_P")])


def _decoded_delays(cfg, profile):
    d = decode(cfg, profile)
    return np.sort(d.delay)


def test_map_chip_sets_the_delay_biases_from_the_measured_stages(profile):
    network = _network()
    nominal = deploy(network, profile)
    assert nominal.report["delays"]["model"].startswith("uncalibrated")
    cp = _chip_profile(profile, {(0, 0): 1.5})
    d, cfg, _ = deploy_on_chip(network, profile, cp)
    assert d.report["delays"]["model"].startswith("calibrated")
    # a chip with 1.5× the capacitors needs 1.5× the stage currents (larger codes) for the same delays
    ratio = _stage_currents(cfg, profile) / _stage_currents(nominal.config, profile)
    used = _stage_currents(nominal.config, profile) < 1e-9          # stages set to a delay (t > 0.7 ms), not to their shortest
    np.testing.assert_allclose(ratio[used], 1.5, rtol=0.03)
    # on that chip the map --chip config delays as the nominal config does on the nominal chip; the nominal one does not
    want = _decoded_delays(nominal.config, profile)
    np.testing.assert_allclose(want, DELAYS, rtol=0.01)
    np.testing.assert_allclose(_decoded_delays(cfg, _with_dly(profile, 1.5)), want, rtol=0.02)
    assert np.max(np.abs(_decoded_delays(nominal.config, _with_dly(profile, 1.5)) / want - 1)) > 0.3


def test_each_core_gets_its_own_stage_codes(profile):
    """Core (0, 0) measures 1.2×, core (0, 1) 1.8× nominal: the network on core (0, 0) is coded for 1.2×, not for the
    cores' mean; the emulated measured chip (chip_delay_factors) delays it as that core would."""
    network = _network()
    cp = _chip_profile(profile, {(0, 0): 1.2, (0, 1): 1.8})
    meas = measured_profile(profile, cp)
    assert meas.analog.delay_calibrated and meas.analog.C_dly0 == pytest.approx(profile.analog.C_dly0 * np.sqrt(1.2 * 1.8))
    _, cfg, _ = deploy_on_chip(network, profile, cp)
    want = _decoded_delays(deploy(network, profile).config, profile)
    np.testing.assert_allclose(_decoded_delays(cfg, _with_dly(profile, 1.2)), want, rtol=0.02)
    assert np.max(np.abs(_decoded_delays(cfg, meas) / want - 1)) > 0.1           # coded for core (0, 0), not the mean
    decoded = decode(cfg, meas)
    f = chip_delay_factors(decoded, cp, meas)
    np.testing.assert_allclose(np.sort(decoded.delay * f), want, rtol=0.02)
    # a config without delay codes is unchanged
    plain = deploy(network.model_copy(update={"projections": [network.projections[0].model_copy(update={"delay": None})]}),
                   meas).config
    same, changed = retarget_delay_codes(plain, cp, meas)
    assert changed == {} and same.dumps() == plain.dumps()


def test_delay_calibrated_without_stages_is_one_line(tmp_path, run_cli, profile):
    raw = json.loads(dumps_chip_profile(_chip_profile(profile, {(0, 0): 1.1})))
    del raw["cores"][0]["constants"]["C_dly1"]
    (tmp_path / "chip.yaml").write_text(dumps_json(raw))
    code, out, err = run_cli("chip", "show", tmp_path / "chip.yaml")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "delay_calibrated" in err and "C_dly1" in err and "Traceback" not in err


def test_a_value_written_without_a_decimal_point_is_a_number(tmp_path, profile):
    """JSON writes 1 pF as ``1e-12``; the chip profile (YAML or JSON) reads it as the number it is."""
    from neurodeploy.device.profile import validated_yaml

    raw = json.loads(dumps_chip_profile(_chip_profile(profile, {(0, 0): 1.1})))
    raw["cores"][0]["constants"]["C_dly1"]["value"] = 1e-12
    (tmp_path / "chip.yaml").write_text(dumps_json(raw))
    text = (tmp_path / "chip.yaml").read_bytes()
    assert b'"value": 1e-12' in text
    cp = validated_yaml(tmp_path / "chip.yaml", text, ChipProfile, "chip profile")
    assert cp.cores[0].constants["C_dly1"].value == 1e-12


def test_a_core_whose_neurons_missed_events_is_left_out(profile):
    """The fit uses a neuron only when it answered every event; a core with fewer than 3 such neurons gets no value
    (calibrate then stops with one line naming it)."""
    sites = probe_sites(profile, cores=[0, 1], neurons=range(4))
    probes = dp.plan_delays(profile, sites)
    d = dp.design(profile, probes)
    C = np.array([profile.analog.C_dly0, profile.analog.C_dly1, profile.analog.C_dly2]) * [1.1, 0.9, 1.3]
    lat = np.zeros((2, 4, 8))
    lat[:, 1:, :] = (d @ C).reshape(2, 3, 1)                 # exact delays: the fit returns C
    lat[0, 2, 4:7] = np.nan                                 # core 1: three of four neurons missed an event
    fit = dp.fit_delays(profile, probes, {"latency": lat})
    assert set(fit) == {(0, 0)} and fit[(0, 0)]["neurons"] == 4
    np.testing.assert_allclose([fit[(0, 0)][f"C_dly{i}"][0] for i in range(3)], C, rtol=1e-9)
