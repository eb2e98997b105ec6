"""Calibration: a tiny hidden chip measured through load/run only, its factors recovered; chip profiles and hidden
chip files validated in one line."""

import json

import numpy as np
import pytest

from neurodeploy.backends.emulator import EmulatorBackend
from neurodeploy.calibration.calibrate import calibrate, probe_sites
from neurodeploy.calibration.hidden import new_hidden_chip, truth, write_hidden_chip
from neurodeploy.device.chip_profile import FACTORS, load_chip_profile, write_chip_profile


class OnlyLoadRun:
    """A backend seen through load/run (and what the interface needs to close it): any other access raises."""

    ALLOWED = ("load", "run", "close", "__enter__", "__exit__")

    def __init__(self, inner):
        object.__setattr__(self, "_inner", inner)

    def __getattribute__(self, name):
        if name in OnlyLoadRun.ALLOWED:
            return getattr(object.__getattribute__(self, "_inner"), name)
        raise AssertionError(f"the calibration read backend.{name}")

    def __setattr__(self, name, value):
        raise AssertionError(f"the calibration set backend.{name}")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, profile):
    d = tmp_path_factory.mktemp("cal")
    chip = new_hidden_chip(seed=7, sigma=0.1)
    path = write_hidden_chip(d / "hidden.chip", chip)
    backend = OnlyLoadRun(EmulatorBackend(profile, hidden_chip=path))
    path.unlink()                       # the calibration cannot read the file: it is gone
    sites = probe_sites(profile, cores=[0], neurons=range(0, 256, 8))
    cp, npz, fit, probes = calibrate(backend, profile, sites, backend_name="emulator", duration=1.2)
    return d, chip, cp, npz, fit, probes


def test_factors_recovered_through_load_and_run_only(calibrated):
    _, chip, cp, _, fit, probes = calibrated
    ok = fit["fitted"]
    assert ok.sum() >= 28
    tr = truth(chip, probes.sites)
    core = cp.core(0, 0)
    assert core is not None and len(core.neurons) == ok.sum()
    for f in FACTORS:
        est = np.log(core.factors[f])
        true = np.log(tr["neurons"][f][ok])
        assert np.corrcoef(est, true)[0, 1] >= 0.9, f
        # the factors are relative to the core: compare the neuron's value (core constant × factor) with the truth
    nominal = {"tau_mem": fit["tau_nom"], "t_ref": fit["t_ref_nom"], "dc_drive": 1.0, "ampa_drive": 1.0}
    inside = []
    for i, f in enumerate(FACTORS):
        err = fit["theta"][ok, i] + np.log(nominal[f]) - np.log(tr["neurons"][f][ok])
        inside.append(np.abs(err) <= 2 * fit["sigma_total"][ok, i])
        assert np.mean(inside[-1]) >= 0.7, f
    assert np.mean(inside) >= 0.85          # the stated ±2σ covers the truth (pooled over the four factors)


def test_core_constants_recovered(calibrated):
    _, chip, cp, _, _, probes = calibrated
    tr = truth(chip, probes.sites)["constants"]
    for name, est in cp.core(0, 0).constants.items():
        rel = est.value / tr[name] - 1
        assert abs(rel) <= max(0.06, 3 * est.sigma), (name, rel, est.sigma)
    # the hidden constants are not the nominal ones: the calibration moved them
    from neurodeploy.device.profile import load_profile

    nominal = load_profile("dynapse2").analog
    assert any(abs(cp.core(0, 0).constants[k].value / getattr(nominal, k) - 1) > 0.05 for k in tr)


def test_chip_profile_round_trip_and_probe_hash(calibrated):
    d, _, cp, npz, _, probes = calibrated
    write_chip_profile(d / "chip.yaml", cp, npz)
    again = load_chip_profile(d / "chip.yaml")
    assert again == cp
    assert probes.board_time == pytest.approx(len(probes.runs) * 1.2)
    data = np.load(d / cp.probe_data.file)
    assert data["isi"].shape == (len(probes.runs), len(probes.sites))
    (d / cp.probe_data.file).write_bytes(npz + b"x")
    from neurodeploy.errors import ProfileError

    with pytest.raises(ProfileError, match=r"\$\.probe_data\.sha256"):
        load_chip_profile(d / "chip.yaml")


def test_invalid_chip_profile_is_one_line(tmp_path, run_cli, calibrated):
    d, _, cp, npz, _, _ = calibrated
    write_chip_profile(tmp_path / "chip.yaml", cp, npz)
    raw = json.loads((tmp_path / "chip.yaml").read_text())
    raw["cores"][0]["factors"]["t_ref"] = raw["cores"][0]["factors"]["t_ref"][:-1]
    (tmp_path / "chip.yaml").write_text(json.dumps(raw))
    code, out, err = run_cli("chip", "show", tmp_path / "chip.yaml")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(tmp_path / "chip.yaml") in err and "factors.t_ref" in err
    raw["cores"][0]["factors"]["t_ref"] = raw["cores"][0]["factors"]["tau_mem"]
    raw["cores"][0]["constants"]["C_mem"]["value"] = -1
    (tmp_path / "chip.yaml").write_text(json.dumps(raw))
    code, out, err = run_cli("chip", "show", tmp_path / "chip.yaml")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "$.cores[0].constants.C_mem.value" in err, err


def test_chip_new_is_deterministic_and_hidden_chip_errors(tmp_path, run_cli):
    a, b, c = tmp_path / "a.chip", tmp_path / "b.chip", tmp_path / "c.chip"
    assert run_cli("chip", "new", "--seed", 4, "-o", a)[0] == 0
    assert run_cli("chip", "new", "--seed", 4, "-o", b)[0] == 0
    assert run_cli("chip", "new", "--seed", 5, "-o", c)[0] == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    raw = json.loads(a.read_text())
    raw["analog"]["C_mem"] = 0
    a.write_text(json.dumps(raw))
    code, _, err = run_cli("calibrate", "--hidden-chip", a, "--cores", "0", "--neurons", "0-3", "-o", tmp_path / "x.yaml")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "$.analog.C_mem" in err, err
    assert not (tmp_path / "x.yaml").exists()


def test_measured_chip_emulates_like_the_hidden_one(calibrated, profile):
    """The chip profile's emulation (constants + factors) predicts the hidden board's intervals far better than the
    nominal chip does, on runs other than the probes' (other DC and input levels)."""
    from neurodeploy.calibration.probes import ProbeRun, interval_stats, probe_config, probe_input

    d, chip, cp, _, _, probes = calibrated
    hidden = EmulatorBackend(profile, hidden_chip=write_hidden_chip(d / "again.chip", chip))
    measured, nominal = EmulatorBackend(profile, chip_profile=cp), EmulatorBackend(profile)
    p = profile.quantity_to_parameter
    runs = [ProbeRun("dc", 0, {p["Idc"]: (5, 20)}, dc=True),
            ProbeRun("ampa", 300, dict(probes.runs[-1].codes), rate=300.0, synapses=True)]
    for run in runs:
        cfg, x = probe_config(profile, probes.sites, run), probe_input(run, 1.2, 1e-3)
        isi = {}
        for name, b in (("hidden", hidden), ("measured", measured), ("nominal", nominal)):
            b.load(cfg)
            isi[name] = interval_stats(b.run(x).events(), probes.sites, 0.3)[0]
        err = {k: np.nanmedian(np.abs(np.log(isi[k] / isi["hidden"]))) for k in ("measured", "nominal")}
        assert err["measured"] < 0.03 and err["measured"] < err["nominal"] / 3, (run.probe, err)


def test_map_with_chip_profile_uses_measured_constants(calibrated, tmp_path, run_cli):
    """map --chip retargets the time-constant currents to the measured capacitances: the leak, refractory and pulse
    codes move in the direction of the measured constants, the rest stays."""
    from neurodeploy.device.profile import load_profile
    from tests.networks import random_network

    d, _, cp, npz, _, _ = calibrated
    write_chip_profile(tmp_path / "chip.yaml", cp, npz)
    (tmp_path / "model.json").write_text(random_network(8, 4, n_inputs=4).dumps())
    assert run_cli("map", tmp_path / "model.json", "-o", tmp_path / "nominal.json")[0] == 0
    code, out, err = run_cli("map", tmp_path / "model.json", "--chip", tmp_path / "chip.yaml", "-o", tmp_path / "chip.json")
    assert code == 0, err
    import re

    before, after = map(float, re.search(r"factors ([0-9.]+) → ([0-9.]+)", out).groups())
    assert after < before / 2          # the core's neurons moved onto better-measured physical neurons
    prof = load_profile("dynapse2")
    codes = [json.loads((tmp_path / f).read_text())["chips"][0]["cores"][0]["parameters"] for f in ("nominal.json", "chip.json")]
    current = [{k: float(prof.bias.to_current(k, v["coarse"], v["fine"])) for k, v in c.items()} for c in codes]
    measured = {k: cp.cores[0].constants[k].value / getattr(prof.analog, k) for k in ("C_mem", "C_ref", "C_pulse")}
    for pname, const in (("SOIF_REFR_N", "C_ref"), ("SYPD_EXT_N", "C_pulse")):
        ratio = current[1][pname] / current[0][pname]
        assert ratio == pytest.approx(measured[const], rel=0.05), (pname, ratio, measured[const])
    assert current[1]["SOIF_SPKTHR_P"] == current[0]["SOIF_SPKTHR_P"]
    code, _, err = run_cli("emulate", tmp_path / "chip.json", "--input", tmp_path / "x.npz", "--chip", tmp_path / "chip.yaml",
                           "--hidden-chip", tmp_path / "h.chip", "-o", tmp_path / "o.npz")
    assert code == 2 and "not both" in err


@pytest.fixture(scope="module")
def chip_case(calibrated, tmp_path_factory):
    """The calibrated chip profile on disk, the frozen-noise example mapped for it with `map --chip`, a short input."""
    from pathlib import Path

    from neurodeploy.cli import main

    d = tmp_path_factory.mktemp("verify_chip")
    _, _, cp, npz, _, _ = calibrated
    write_chip_profile(d / "chip.yaml", cp, npz)
    ex = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"
    with np.load(ex / "inputs.npz") as z:
        np.savez(d / "x.npz", spikes=z["spikes"][[0, 1, 4, 5], :200], dt=z["dt"])
    with pytest.raises(SystemExit) as e:
        main(["map", str(ex / "model.json"), "--chip", str(d / "chip.yaml"), "-o", str(d / "config.json")])
    assert e.value.code in (0, None)
    return d, ex / "model.json", cp


def test_verify_with_chip_profile_names_the_chip(chip_case, run_cli):
    import hashlib

    d, model, _ = chip_case
    code, out, err = run_cli("verify", model, d / "config.json", "--input", d / "x.npz", "--chip", d / "chip.yaml",
                             "--trials", 2, "--json", d / "report.json")
    assert code in (0, 1), err
    report = json.loads((d / "report.json").read_text())
    digest = hashlib.sha256((d / "chip.yaml").read_bytes()).hexdigest()
    assert report["chip_profile"]["file"] == "chip.yaml" and report["chip_profile"]["sha256"] == digest
    assert report["chip_profile"]["residual_sigma"] == report["mismatch_sigma"] == 0.02     # the default residual
    assert f"chip profile: chip.yaml, sha256 {digest}" in out
    assert next(c for c in report["checks"] if c["name"] == "same_model")["value"] != "no source sha256 in the config"
    assert next(c for c in report["checks"] if c["name"] == "same_model")["passed"]   # map --chip records the model
    from neurodeploy import api

    assert api.verify(model, d / "config.json", d / "x.npz", trials=2, mismatch=0.02, chip=d / "chip.yaml") == report


def test_verify_chip_boards_are_the_measured_chip(chip_case, profile):
    """Board b of `verify --chip` is `emulate --chip --mismatch σ --seed SEED+b`: the report's per-board numbers
    come from those runs, and differ from the boards without the chip's factors."""
    from neurodeploy.verification import metrics as vm
    from neurodeploy.backends.emulator import Emulator
    from neurodeploy.calibration.apply import measured_profile
    from neurodeploy.config.config_json import HardwareConfig
    from neurodeploy.importers import load_network
    from neurodeploy.verification import verify

    d, model, cp = chip_case
    cfg = HardwareConfig.model_validate_json((d / "config.json").read_text())
    network = load_network(model, profile=profile)
    with np.load(d / "x.npz") as z:
        x, dt = z["spikes"].astype(np.float32), float(z["dt"])
    pictures: dict = {}
    report = verify(network, cfg, profile, x, dt, trials=2, mismatch=0.05, seed=3, chip=cp, pictures=pictures)
    chip_runs = []
    for s in (3, 4):
        b = EmulatorBackend(profile, chip_profile=cp, mismatch=0.05, seed=s)
        b.load(cfg)
        chip_runs.append(b.run({"spikes": x, "dt": dt}).outputs.sum(axis=1))
    chip_runs = np.stack(chip_runs)
    rel = vm.relative_rate_error(pictures["reference_counts"], chip_runs)
    assert report["quantization_and_mismatch"]["relative_rate_error"]["median"] == pytest.approx(np.median(rel), abs=1e-4)
    plain = Emulator(cfg, measured_profile(profile, cp), dt=dt).run_boards(x, dt, 0.05, [3, 4]).outputs.sum(axis=2)
    assert not np.array_equal(plain, chip_runs)        # the measured factors move the boards' counts


def test_verify_chip_errors_are_one_line(chip_case, run_cli, tmp_path):
    d, model, _ = chip_case
    raw = json.loads((d / "chip.yaml").read_text())
    raw["cores"][0]["factors"]["t_ref"] = raw["cores"][0]["factors"]["t_ref"][:-1]
    (tmp_path / (name := raw["probe_data"]["file"])).write_bytes((d / name).read_bytes())
    (tmp_path / "chip.yaml").write_text(json.dumps(raw))
    base = ("verify", model, d / "config.json", "--input", d / "x.npz", "--trials", 1)
    for args, needles in (((*base, "--chip", tmp_path / "chip.yaml"), ("chip.yaml", "factors.t_ref")),
                          ((*base, "--chip", tmp_path / "none.yaml"), ("none.yaml", "not found")),
                          ((*base, "--chip", d / "chip.yaml", "--backend", "samna"), ("--chip", "--backend samna"))):
        code, out, err = run_cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert all(n in err for n in needles), err


def test_probe_configs_of_every_core_tell_their_neurons_apart_on_a_board(profile):
    """A board reports a neuron by its host route's tag: the probes of all four cores give every probed neuron its
    own tag, so a board backend's output decoder accepts each probe config and finds every site."""
    from neurodeploy.backends.fpga import OutputDecoder
    from neurodeploy.calibration.probes import plan, probe_config

    sites = np.array([(0, core, n) for core in range(4) for n in (0, 7, 255)], np.int64)
    probes = plan(profile, sites)
    for run in probes.runs:
        dec = OutputDecoder.from_config(probe_config(profile, sites, run))
        assert [tuple(s) for s in dec.sites] == [tuple(s) for s in sites]
