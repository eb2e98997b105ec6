"""Yield studies on Ray: a real local cluster; results identical to the in-process engine, whatever the
number of workers, and a worker that dies is retried; `verify --engine ray` reports what `--engine local` does."""

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
    """One local 2-CPU cluster for the tests after the first (which starts its own 1-CPU one first)."""
    from neurodeploy.study.engines import RayEngine

    RayEngine(num_cpus=2).start()
    yield ray
    ray.shutdown()


def _run(files, out, engine):
    from neurodeploy.study.run import run_study

    run_study(files / "config.json", files / "in.npz", out, model_path=EX / "model.json", boards=8, unit_size=2,
              seed=3, engine=engine)
    return (out / "summary.json").read_bytes()


def test_local_and_ray_with_one_or_two_workers_give_the_same_summary(files, tmp_path, request):
    from neurodeploy.study.engines import LocalEngine, RayEngine

    local = _run(files, tmp_path / "local", LocalEngine())
    try:
        one = _run(files, tmp_path / "one", RayEngine(num_cpus=1))
    finally:
        ray.shutdown()
    request.getfixturevalue("cluster")                                 # the 2-CPU cluster the next tests share
    two = _run(files, tmp_path / "two", RayEngine())
    assert ray.cluster_resources()["CPU"] == 2
    assert local == one == two
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
