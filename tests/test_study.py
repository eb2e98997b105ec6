"""Yield studies (`neurodeploy yield`): units keyed by board, atomic unit files, resume, exact intervals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from samna_helpers import example_config

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("study")
    example_config().save(d / "config.json")
    z = np.load(EX / "inputs.npz")
    np.savez(d / "in.npz", spikes=z["spikes"][:4, :200], dt=z["dt"], labels=np.load(EX / "labels.npy")[:4])
    return d


def _study(run_cli, files, out, *extra):
    return run_cli("yield", files / "config.json", "--input", files / "in.npz", "--model", EX / "model.json",
                   "--boards", "12", "--unit-size", "4", "-o", out, *extra)


def test_clopper_pearson_matches_closed_forms():
    from neurodeploy.study.stats import clopper_pearson

    lo, hi = clopper_pearson(0, 10)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)
    lo, hi = clopper_pearson(10, 10)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 10), abs=1e-9)
    assert clopper_pearson(5, 10) == pytest.approx((0.187086, 0.812914), abs=1e-6)


def test_a_resumed_study_recomputes_only_missing_units_and_gives_the_same_bytes(run_cli, files, tmp_path, monkeypatch):
    code, out, err = _study(run_cli, files, tmp_path / "a")
    assert code == 0, err
    assert "yield" in out and sorted(p.name for p in (tmp_path / "a" / "units").iterdir()) == [
        "unit-00000.json", "unit-00001.json", "unit-00002.json"]
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert s["boards"] == 12 and len(s["worst_boards"]) == 5 and 0 <= s["yield"]["ci95"][0] <= s["yield"]["fraction"]
    (tmp_path / "a" / "units" / "unit-00001.json").unlink()
    first = (tmp_path / "a" / "summary.json").read_bytes()
    import neurodeploy.study.engines as engines

    computed = []
    real = engines.run_unit
    monkeypatch.setattr(engines, "run_unit", lambda *a, **kw: computed.append(a[-1]) or real(*a, **kw))
    code, out, err = _study(run_cli, files, tmp_path / "a", "--resume")
    assert code == 0, err
    assert computed == [[4, 5, 6, 7]]                                      # only the missing unit's boards
    assert (tmp_path / "a" / "summary.json").read_bytes() == first


def test_a_folder_of_another_study_is_refused_in_one_line(run_cli, files, tmp_path):
    assert _study(run_cli, files, tmp_path / "a")[0] == 0
    code, out, err = _study(run_cli, files, tmp_path / "a")
    assert code == 2 and "already holds a study; continue it with --resume" in err and err.count("\n") == 1
    code, out, err = _study(run_cli, files, tmp_path / "a", "--resume", "--mismatch", "0.2")
    assert code == 2 and "made for another study (mismatch_sigma: 0.1 → 0.2)" in err and err.count("\n") == 1


def test_the_worst_board_is_reproduced_by_emulate_with_its_seed(run_cli, files, tmp_path):
    assert _study(run_cli, files, tmp_path / "a")[0] == 0
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    worst = s["worst_boards"][0]
    unit = json.loads((tmp_path / "a" / "units" / f"unit-{worst['board'] // 4:05d}.json").read_text())
    assert unit["seeds"][worst["board"] % 4] == worst["seed"] == worst["board"]
    code, out, err = run_cli("emulate", files / "config.json", "--input", files / "in.npz", "--mismatch", "0.1",
                             "--seed", worst["seed"], "-o", tmp_path / "w.npz")
    assert code == 0, err
    from neurodeploy.importers import load_network
    from neurodeploy.study.units import board_metrics
    from neurodeploy.sim import build_from_network, simulate
    from neurodeploy.device.profile import load_profile

    network = load_network(EX / "model.json")
    x = np.load(files / "in.npz")["spikes"].astype(np.float32)
    net, _ = build_from_network(network, load_profile())
    ref = np.asarray(simulate(net, x, None, dt=1e-3)[0])[..., network.output_indices()].sum(axis=1)
    counts = np.load(tmp_path / "w.npz")["outputs"].sum(axis=1)[None].astype(np.float64)
    m = board_metrics(counts, ref, np.load(files / "in.npz")["labels"], network.readout_matrix(), 0.2)[0]
    assert {k: m[k] for k in ("accuracy", "rate_correlation", "relative_rate_error")} == \
        {k: worst[k] for k in ("accuracy", "rate_correlation", "relative_rate_error")}


def test_a_study_killed_with_sigterm_and_resumed_equals_an_uninterrupted_one(files, tmp_path):
    args = [sys.executable, "-m", "neurodeploy.cli", "yield", str(files / "config.json"), "--input", str(files / "in.npz"),
            "--boards", "24", "--unit-size", "4"]
    env = dict(os.environ, JAX_PLATFORMS="cpu", NEURODEPLOY_CACHE_DIR="off")
    p = subprocess.Popen(args + ["-o", str(tmp_path / "cut")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not (tmp_path / "cut" / "units" / "unit-00001.json").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    done = sorted((tmp_path / "cut" / "units").glob("unit-*.json"))
    assert 0 < len(done) and not (tmp_path / "cut" / "summary.json").exists()
    assert all(json.loads(f.read_text())["unit"] >= 0 for f in done)       # every written unit is whole
    assert subprocess.run(args + ["-o", str(tmp_path / "cut"), "--resume"], env=env, capture_output=True).returncode == 0
    assert subprocess.run(args + ["-o", str(tmp_path / "full")], env=env, capture_output=True).returncode == 0
    assert (tmp_path / "cut" / "summary.json").read_bytes() == (tmp_path / "full" / "summary.json").read_bytes()


def test_plots_show_the_distribution_and_the_yield_against_the_tolerance(run_cli, files, tmp_path):
    code, out, err = _study(run_cli, files, tmp_path / "p", "--plot")
    assert code == 0, err
    for name in ("histogram.png", "yield_vs_tolerance.png"):
        assert (tmp_path / "p" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sweep = json.loads((tmp_path / "p" / "summary.json").read_text())["yield_vs_tolerance"]
    assert [s["accuracy_drop"] for s in sweep][:3] == [0.0, 0.01, 0.02]
    assert all(a["yield"] <= b["yield"] for a, b in zip(sweep, sweep[1:]))      # a looser tolerance never loses boards


NO_RAY = "import sys; sys.modules['ray'] = None; from neurodeploy.cli import main; main(sys.argv[1:])"


def test_verify_engine_ray_without_ray_is_one_line_and_address_needs_ray(run_cli, files, tmp_path):
    args = ["verify", str(EX / "model.json"), str(files / "config.json"), "--input", str(files / "in.npz"),
            "--json", str(tmp_path / "r.json")]
    p = subprocess.run([sys.executable, "-c", NO_RAY, *args, "--engine", "ray"], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--engine ray needs Ray: pip install" in p.stderr
    code = ("import sys, neurodeploy.cli, neurodeploy.commands.verify, neurodeploy.verification, "
            "neurodeploy.study.engines; print('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    code, out, err = run_cli(*args, "--address", "auto")
    assert code == 2 and "--address goes with --engine ray" in err
    code, out, err = run_cli(*args, "--engine", "ray", "--backend", "samna")
    assert code == 2 and "--engine ray runs emulated boards" in err
    assert not (tmp_path / "r.json").exists()


def test_verify_judges_the_boards_emulate_draws_with_seed_plus_board(files):
    """Board b of `verify --seed S` is `emulate --seed S+b`, as in a yield study, however the boards are cut."""
    from neurodeploy.verification import metrics as vm
    from neurodeploy.api import emulate
    from neurodeploy.config.config_json import load_config
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network
    from neurodeploy.verification import verify

    prof = load_profile()
    network, cfg = load_network(EX / "model.json", profile=prof), load_config(files / "config.json")
    z = np.load(files / "in.npz")
    x, dt = z["spikes"].astype(np.float32), float(z["dt"])
    pictures = {}
    got = verify(network, cfg, prof, x, dt, trials=2, seed=7, unit_size=1, pictures=pictures)["quantization_and_mismatch"]
    boards = np.stack([emulate(cfg, x, dt=dt, mismatch=0.1, seed=7 + b).outputs.sum(axis=1) for b in range(2)])
    err = vm.relative_rate_error(pictures["reference_counts"], boards)     # one value per board
    want = {k: round(float(f(err)), 4) for k, f in (("median", np.median), ("min", np.min), ("max", np.max))}
    assert want["min"] < want["max"]                                       # two different boards
    assert {k: got["relative_rate_error"][k] for k in want} == want


def test_precise_timing_runs_every_board_so_and_a_study_resumes_only_as_begun(run_cli, tmp_path):
    """--precise-timing: the manifest and summary record it, the worst board's reproduce command carries it, the boards
    differ from a study without it (a two-layer network: its outputs count spikes arriving from other neurons), and
    a folder begun one way is not continued the other."""
    from networks import two_layer

    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile

    network = two_layer()
    network.save(tmp_path / "m.json")
    deploy(network, load_profile()).config.save(tmp_path / "c.json")
    z = np.load(EX / "inputs.npz")
    np.savez(tmp_path / "in.npz", spikes=z["spikes"][:4, :300], dt=z["dt"])
    args = ("yield", tmp_path / "c.json", "--input", tmp_path / "in.npz", "--model", tmp_path / "m.json",
            "--boards", "4", "--unit-size", "4")
    code, out, err = run_cli(*args, "--precise-timing", "-o", tmp_path / "pt")
    assert code == 0, err
    s = json.loads((tmp_path / "pt" / "summary.json").read_text())
    assert s["precise_timing"] is True and json.loads((tmp_path / "pt" / "manifest.json").read_text())["precise_timing"]
    assert all("--precise-timing" in w["reproduce"] for w in s["worst_boards"])
    assert (tmp_path / "pt" / "summary.md").read_text().splitlines()[0].endswith("precise spike timing")
    assert run_cli(*args, "-o", tmp_path / "plain")[0] == 0
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert "precise_timing" not in plain and plain["distribution"] != s["distribution"]
    code, out, err = run_cli(*args, "--resume", "-o", tmp_path / "pt")
    assert code == 2 and "made for another study (precise_timing: True → None)" in err and len(err.strip().splitlines()) == 1


def test_precise_timing_runs_input_spike_times_at_their_times(tmp_path):
    """A study on input spike times ('times' and 'channels'): with precise timing the reference and every board take
    each spike at its own time (the study on the counts differs), without it the study is the one on the counts."""
    from networks import two_layer

    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.study.run import run_study

    network = two_layer()
    network.save(tmp_path / "m.json")
    deploy(network, load_profile()).config.save(tmp_path / "c.json")
    x = np.load(EX / "inputs.npz")["spikes"][:4, :300].astype(int)
    b, t, i = np.nonzero(x)
    n = x[b, t, i]
    b, t, i = np.repeat(b, n), np.repeat(t, n), np.repeat(i, n)
    times = (t + np.random.default_rng(1).uniform(0.05, 0.95, t.size)) * 1e-3
    np.savez(tmp_path / "times.npz", times=times, channels=i, samples=b, duration=0.3, dt=1e-3)
    np.savez(tmp_path / "counts.npz", spikes=x, dt=1e-3)
    got = {}
    for name in ("times", "counts"):
        for timed in (False, True):
            s = run_study(tmp_path / "c.json", tmp_path / f"{name}.npz", tmp_path / f"{name}{timed}", boards=2,
                          unit_size=2, model_path=tmp_path / "m.json", precise_timing=timed, progress=lambda u: None)
            got[name, timed] = s["distribution"]
    assert got["times", False] == got["counts", False]
    assert got["times", True] != got["counts", True]
