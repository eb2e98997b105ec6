"""``map --chip`` on a hidden chip: the retargeted currents give the float model's rates on the measured chip."""

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.backends.emulator import EmulatorBackend
from neurodeploy.calibration.apply import measured_profile, retarget_network
from neurodeploy.calibration.calibrate import calibrate, probe_sites
from neurodeploy.calibration.hidden import new_hidden_chip, write_hidden_chip
from neurodeploy.calibration.placement import place_on_measured
from neurodeploy.deployment import deploy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"
#: the largest factor between the total output rate of a map --chip config on the hidden chip and the float model's
#: (what the calibration cannot see — the synapses' time constants, each CAM slot's weight — moves it by ~10 %)
RATE_FACTOR = 1.3


@pytest.fixture(scope="module")
def case(tmp_path_factory, profile):
    """Hidden chip 3 (its effective C_mem is ~30 % below nominal: a τ kept by I_tau alone doubles the rates),
    calibrated on 32 neurons of core 0; the frozen-noise example and its inputs."""
    from neurodeploy.importers import load_network

    d = tmp_path_factory.mktemp("apply")
    path = write_hidden_chip(d / "hidden.chip", new_hidden_chip(seed=3, sigma=0.1))
    sites = probe_sites(profile, cores=[0], neurons=range(32))
    cp, *_ = calibrate(EmulatorBackend(profile, hidden_chip=path), profile, sites, backend_name="emulator", duration=1.2)
    network = load_network(EXAMPLE / "model.json", profile=profile)
    with np.load(EXAMPLE / "inputs.npz") as z:
        x, dt = z["spikes"].astype(np.float32), float(z["dt"])
    return path, cp, network, x, dt


def _float_rate(network, profile, x, dt) -> float:
    """Total output rate (Hz, summed over outputs, mean over samples) of the float network on ``profile``."""
    from neurodeploy.sim import build_from_network, no_mismatch, simulate

    net, index = build_from_network(network, profile)
    spikes, *_ = simulate(net, x, no_mismatch(net), dt=dt)
    return float(np.asarray(spikes)[..., index.output_indices].sum(axis=(1, 2)).mean() / (x.shape[1] * dt))


def test_retargeted_network_on_measured_constants_fires_like_nominal(case, profile):
    """The retargeted currents on the measured constants reproduce the nominal float rates (membrane gain kept)."""
    _, cp, network, x, dt = case
    meas = measured_profile(profile, cp)
    assert meas.analog.C_mem < 0.85 * profile.analog.C_mem          # the case moves C_mem
    nominal = _float_rate(network, profile, x, dt)
    assert nominal > 5
    assert _float_rate(retarget_network(network, profile, meas), meas, x, dt) == pytest.approx(nominal, rel=0.1)


def test_map_chip_config_on_the_hidden_chip_fires_like_the_float_model(case, profile):
    path, cp, network, x, dt = case
    meas = measured_profile(profile, cp)
    cfg, _ = place_on_measured(deploy(retarget_network(network, profile, meas), meas).config, cp,
                               profile.geometry.neurons_per_core)
    hidden = EmulatorBackend(profile, hidden_chip=path)
    hidden.load(cfg)
    out = np.asarray(hidden.run({"spikes": x, "dt": dt}).outputs)
    rate = float(out.sum(axis=(1, 2)).mean() / (x.shape[1] * dt))
    nominal = _float_rate(network, profile, x, dt)
    assert 1 / RATE_FACTOR < rate / nominal < RATE_FACTOR, (rate, nominal)


# ---- train --init model.json --chip chip.yaml: fine-tuning for the measured chip ---------------------------------

@pytest.fixture(scope="module")
def finetune(case, tmp_path_factory, profile):
    """The chip profile on disk (chip A) and a copy whose factors are the reciprocals (chip B); a small data file of
    the frozen-noise patterns (32 trials, 200 steps, some spikes dropped per trial); the example fine-tuned for A."""
    import hashlib
    import json

    from neurodeploy import api
    from neurodeploy.device.chip_profile import ChipProfile, write_chip_profile

    _, cp, _, x, dt = case
    d = tmp_path_factory.mktemp("finetune")
    raw = cp.model_dump(mode="json")
    data = b"probe data"
    raw["probe_data"]["sha256"] = hashlib.sha256(data).hexdigest()
    chip_a = ChipProfile.model_validate(raw)
    raw_b = json.loads(json.dumps(raw))
    for core in raw_b["cores"]:
        core["factors"] = {k: [1.0 / v for v in vals] for k, vals in core["factors"].items()}
    chip_b = ChipProfile.model_validate(raw_b)
    write_chip_profile(d / "a.yaml", chip_a, data)
    write_chip_profile(d / "b.yaml", chip_b, data)
    rng = np.random.default_rng(0)
    labels = np.load(EXAMPLE / "labels.npy")
    spikes = np.concatenate([x[:, :200] * (rng.random(x[:, :200].shape) > 0.2) for _ in range(4)]).astype(np.float32)
    np.savez(d / "data.npz", spikes=spikes, labels=np.tile(labels, 4), dt=dt)
    opts = dict(init=EXAMPLE / "model.json", epochs=2, batch_size=8, qat=False, report=False, progress=False, seed=1)
    api.train(d / "data.npz", d / "ft_a.json", chip=d / "a.yaml", **opts)
    return d, opts


def _chip_loss(model, chip, data, profile) -> float:
    """Count cross-entropy of ``model`` on the measured chip ``chip`` (its factors where map --chip places it)."""
    from neurodeploy.calibration.apply import apply_chip_factors
    from neurodeploy.importers import load_network
    from neurodeploy.sim import build_from_network, no_mismatch, simulate
    from neurodeploy.train.losses import ce_counts
    from neurodeploy.train.measured_chip import measured_chip

    network = load_network(model, profile=profile)
    net, index = build_from_network(network, profile)
    target = measured_chip(chip, network, profile, net)
    with np.load(data) as z:
        x, y = z["spikes"], z["labels"]
    spikes, *_ = simulate(net, x, apply_chip_factors(no_mismatch(net), target.factors), dt=network.dt)
    counts = np.asarray(spikes)[..., index.output_indices].sum(axis=1) @ network.readout_matrix()
    return float(ce_counts(counts, y, np.ones(len(y), np.float32), 1.0))


def test_fine_tuned_model_beats_its_init_on_the_measured_chip_and_records_it(finetune, profile):
    import hashlib
    import json

    d, opts = finetune
    meta = json.loads((d / "ft_a.json").read_text())["metadata"]
    assert meta["chip_profile"]["sha256"] == hashlib.sha256((d / "a.yaml").read_bytes()).hexdigest()
    assert meta["chip_profile"]["residual_sigma"] == 0.02 and meta["chip_profile"]["cores"] == [[0, 0]]
    before = _chip_loss(EXAMPLE / "model.json", d / "a.yaml", d / "data.npz", profile)
    after = _chip_loss(d / "ft_a.json", d / "a.yaml", d / "data.npz", profile)
    assert after < before, (before, after)


def test_fine_tuning_uses_the_chip_factors(finetune, capfd, monkeypatch):
    """Another chip (the reciprocal factors) gives other weights; the progress line names the measured chip."""
    import json

    from neurodeploy import api, log

    monkeypatch.setattr(log, "_VERBOSITY", 1)                   # -v: the epoch lines

    d, opts = finetune
    api.train(d / "data.npz", d / "ft_b.json", chip=d / "b.yaml", **{**opts, "progress": True})
    out, err = capfd.readouterr()
    assert "measured chip," in out + err and " nominal," not in out + err, out + err
    wa, wb = ([p["weight"] for p in json.loads((d / f).read_text())["projections"]] for f in ("ft_a.json", "ft_b.json"))
    assert wa != wb


def test_fine_tuned_model_maps_and_verifies_on_its_chip(finetune, case, run_cli):
    d, _ = finetune
    _, cp, *_ = case
    with np.load(d / "data.npz") as z:
        np.savez(d / "x.npz", spikes=z["spikes"][:4], dt=z["dt"])
    code, out, err = run_cli("map", d / "ft_a.json", "--chip", d / "a.yaml", "-o", d / "cfg.json")
    assert code == 0 and "fine-tuned for" not in out, err
    for args in (("--chip", d / "b.yaml"), ()):         # another chip, or none: a note names the chip trained for
        code, out, err = run_cli("map", d / "ft_a.json", *args, "-o", d / "other.json")
        assert code == 0 and "was fine-tuned for the chip profile with sha256" in out, err
    code, out, err = run_cli("verify", d / "ft_a.json", d / "cfg.json", "--input", d / "x.npz", "--chip", d / "a.yaml",
                             "--trials", 2)
    assert code in (0, 1) and "chip profile: a.yaml" in out, err


def test_train_chip_errors_are_one_line(finetune, run_cli, tmp_path):
    d, _ = finetune
    import json

    raw = json.loads((d / "a.yaml").read_text())
    raw["cores"][0]["factors"]["t_ref"] = raw["cores"][0]["factors"]["t_ref"][:-1]
    (tmp_path / "bad.yaml").write_text(json.dumps(raw))
    (tmp_path / (name := raw["probe_data"]["file"])).write_bytes((d / name).read_bytes())
    for args, needles in ((("--data", d / "data.npz", "--chip", d / "a.yaml"), ("--chip", "--init")),
                          (("--data", d / "data.npz", "--init", EXAMPLE / "model.json", "--chip", tmp_path / "bad.yaml"),
                           ("bad.yaml", "factors.t_ref")),
                          (("--data", d / "data.npz", "--init", EXAMPLE / "model.json", "--chip", tmp_path / "none.yaml"),
                           ("none.yaml", "not found"))):
        code, out, err = run_cli("train", *args, "--epochs", 1, "--quiet", "-o", tmp_path / "m.json")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert all(n in err for n in needles), err
        assert not (tmp_path / "m.json").exists()
