"""Yield studies on Ray: a real local cluster; results identical to the in-process engine although two workers
finish the units in any order, and a worker that dies is retried; `verify --engine ray` reports what `--engine local` does."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from samna_helpers import example_config

ray = pytest.importorskip("ray")          # installed with the [ray] extra (and by `make test`)
EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray")
    example_config().save(d / "config.json")
    z = np.load(EX / "inputs.npz")
    np.savez(d / "in.npz", spikes=z["spikes"][:3, :150], dt=z["dt"], labels=np.load(EX / "labels.npy")[:3])
    return d


@pytest.fixture(scope="module")
def cluster():
    """One local 2-CPU cluster for the tests of this module."""
    from neurodeploy.study.engines import RayEngine

    RayEngine(num_cpus=2).start()
    yield ray
    ray.shutdown()


def _run(files, out, engine):
    from neurodeploy.study.run import run_study

    run_study(files / "config.json", files / "in.npz", out, model_path=EX / "model.json", boards=8, unit_size=2,
              seed=3, engine=engine)
    return (out / "summary.json").read_bytes()


def test_local_and_ray_with_two_workers_give_the_same_summary(files, cluster, tmp_path):
    from neurodeploy.study.engines import LocalEngine, RayEngine

    local = _run(files, tmp_path / "local", LocalEngine())
    two = _run(files, tmp_path / "two", RayEngine())
    assert ray.cluster_resources()["CPU"] == 2
    assert local == two
    assert json.loads(local)["boards"] == 8


def test_a_worker_that_dies_is_retried_and_the_result_is_unchanged(files, cluster, tmp_path):
    from neurodeploy.study.engines import LocalEngine, RayEngine, unit_task

    flag = str(tmp_path / "died-once")

    def dies_once(*args):
        if not os.path.exists(flag):
            open(flag, "w").close()
            os._exit(1)                                   # the worker process dies mid-task
        return unit_task(*args)

    got = _run(files, tmp_path / "ray", RayEngine(task=dies_once))
    assert os.path.exists(flag)
    assert got == _run(files, tmp_path / "local", LocalEngine())


def test_verify_on_ray_reports_the_same_bytes_as_in_process(run_cli, files, cluster, tmp_path, monkeypatch):
    import neurodeploy.study.engines as engines

    log, real = str(tmp_path / "units.log"), engines.unit_task

    def logged(*args):                                    # runs on a worker: which process, which boards
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {args[-1]}\n")
        return real(*args)

    monkeypatch.setattr(engines, "unit_task", logged)
    args = ["verify", EX / "model.json", files / "config.json", "--input", files / "in.npz", "--trials", "6",
            "--unit-size", "2", "--seed", "4"]
    local_code, local_out, err = run_cli(*args, "--json", tmp_path / "local.json")
    assert local_code in (0, 1), err                      # PASS or FAIL: a verdict either way
    assert not os.path.exists(log)                        # in process: no Ray task
    code, ray_out, err = run_cli(*args, "--json", tmp_path / "ray.json", "--engine", "ray")
    assert code == local_code, err
    units = sorted(line.split(" ", 1) for line in open(log).read().splitlines())
    assert sorted(b for _, b in units) == ["[4, 5]", "[6, 7]", "[8, 9]"]   # board b drawn from seed 4 + b
    assert all(int(pid) != os.getpid() for pid, _ in units)
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    assert ray_out == local_out and "6 mismatch trials" in ray_out


def _chip_profile(path, profile):
    """A measured chip for core 0 of chip 0: constants 10–20 % off the device profile's, per-neuron factors of
    σ 20 % (seeded), written with its probe data as `calibrate` writes one."""
    from neurodeploy.device.chip_profile import (ChipProfile, CoreCalibration, DeviceProfileRef, Estimate, ProbeData,
                                                 Provenance, write_chip_profile)

    rng = np.random.default_rng(7)
    a = profile.analog
    probe = b"probe data"
    import hashlib

    core = CoreCalibration(chip=0, core=0, neurons=list(range(256)),
                           constants={"C_mem": Estimate(value=a.C_mem * 1.2, sigma=0.01),
                                      "C_ref": Estimate(value=a.C_ref * 0.9, sigma=0.01),
                                      "C_pulse": Estimate(value=a.C_pulse * 1.1, sigma=0.01)},
                           factors={k: np.exp(0.2 * rng.standard_normal(256)).tolist()
                                    for k in ("tau_mem", "t_ref", "dc_drive", "ampa_drive")},
                           sigma={k: [0.01] * 256 for k in ("tau_mem", "t_ref", "dc_drive", "ampa_drive")})
    cp = ChipProfile(device_profile=DeviceProfileRef(name=profile.name, sha256="0" * 64),
                     provenance=Provenance(backend="emulator", probe_set="test", neurodeploy_version="0",
                                           board_time=0.0),
                     probe_data=ProbeData(file="chip.probes.npz", sha256=hashlib.sha256(probe).hexdigest()),
                     cores=[core])
    write_chip_profile(path, cp, probe)
    return path


def test_verify_with_a_chip_profile_on_ray_reports_the_same_bytes_as_in_process(run_cli, files, cluster, tmp_path,
                                                                                  profile):
    chip = _chip_profile(tmp_path / "chip.yaml", profile)
    args = ["verify", EX / "model.json", files / "config.json", "--input", files / "in.npz", "--trials", "4",
            "--unit-size", "2", "--chip", chip]
    code, local_out, err = run_cli(*args, "--json", tmp_path / "local.json")
    assert code in (0, 1), err
    code_ray, ray_out, err = run_cli(*args, "--json", tmp_path / "ray.json", "--engine", "ray")
    assert code_ray == code, err
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    report = json.loads((tmp_path / "local.json").read_text())
    assert report["chip_profile"]["file"] == "chip.yaml" and ray_out == local_out
    # the chip's factors are in the boards: without them (no --chip, the same residual σ) the counts differ
    run_cli(*args[:-2], "--mismatch", "0.02", "--json", tmp_path / "plain.json")
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert plain["quantization_and_mismatch"] != report["quantization_and_mismatch"]


def test_api_verify_on_ray_runs_the_float_draws_on_workers_and_reports_the_cli_bytes(run_cli, files, cluster, tmp_path,
                                                                                      monkeypatch):
    """The float network's draws run as Ray tasks too (2 units: the nominal chip and 9 draws), and the report is the
    in-process CLI's, byte for byte."""
    import neurodeploy.study.engines as engines
    from neurodeploy.api import verify
    from neurodeploy.fileio import write_json

    log, real = str(tmp_path / "float.log"), engines.float_task

    def logged(network, src, x, dt, window, factors, precise_timing=False):   # on a worker
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {len(factors['weight'])}\n")
        return real(network, src, x, dt, window, factors, precise_timing)

    monkeypatch.setattr(engines, "float_task", logged)
    args = ["verify", EX / "model.json", files / "config.json", "--input", files / "in.npz", "--trials", "9",
            "--seed", "2"]
    code, _, err = run_cli(*args, "--unit-size", "2", "--json", tmp_path / "cli.json")
    assert code in (0, 1), err
    assert not os.path.exists(log)                        # in process: no Ray task
    report = verify(EX / "model.json", files / "config.json", files / "in.npz", trials=9, seed=2, engine="ray",
                    unit_size=2)
    write_json(tmp_path / "api.json", report)
    assert (tmp_path / "api.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    units = sorted(line.split() for line in open(log).read().splitlines())
    assert sorted(n for _, n in units) == ["2", "8"]
    assert all(int(pid) != os.getpid() for pid, _ in units)


def test_workers_compile_at_the_optimisation_level_and_with_the_extra_options_of_the_driving_process(monkeypatch):
    from neurodeploy.study.engines import WORKER_ENV, worker_env
    from neurodeploy.xla_flags import device_flag, flag

    base = WORKER_ENV["XLA_FLAGS"].split()
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3 --xla_backend_optimization_level=1")
    env = worker_env()
    assert env["XLA_FLAGS"].split() == base + ["--xla_backend_optimization_level=1", flag(), device_flag(3)]
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    assert worker_env() == {**WORKER_ENV, "XLA_FLAGS": f"{WORKER_ENV['XLA_FLAGS']} {flag()} {device_flag(1)}"}
    own = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=0"
    monkeypatch.setenv("XLA_FLAGS", own)       # the driver's own extra options reach the workers instead
    # and, as the driver set no device count (XLA's default: one), one device
    assert worker_env()["XLA_FLAGS"].split() == base + [own, device_flag(1)]