"""Yield studies on Ray: a real local cluster; results identical to the in-process engine, whatever the
number of workers, and a worker that dies is retried."""

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


def _run(files, out, engine):
    from neurodeploy.study.run import run_study

    run_study(files / "config.json", files / "in.npz", out, model_path=EX / "model.json", boards=8, unit_size=2,
              seed=3, engine=engine)
    return (out / "summary.json").read_bytes()


def test_local_and_ray_with_one_or_two_workers_give_the_same_summary(files, tmp_path):
    from neurodeploy.study.engines import LocalEngine, RayEngine

    local = _run(files, tmp_path / "local", LocalEngine())
    try:
        one = _run(files, tmp_path / "one", RayEngine(num_cpus=1))
    finally:
        ray.shutdown()
    try:
        two = _run(files, tmp_path / "two", RayEngine(num_cpus=2))
    finally:
        ray.shutdown()
    assert local == one == two
    assert json.loads(local)["boards"] == 8


def test_a_worker_that_dies_is_retried_and_the_result_is_unchanged(files, tmp_path):
    from neurodeploy.study.engines import LocalEngine, RayEngine, unit_task

    flag = str(tmp_path / "died-once")

    def dies_once(*args):
        if not os.path.exists(flag):
            open(flag, "w").close()
            os._exit(1)                                   # the worker process dies mid-task
        return unit_task(*args)

    try:
        got = _run(files, tmp_path / "ray", RayEngine(num_cpus=2, task=dies_once))
    finally:
        ray.shutdown()
    assert os.path.exists(flag)
    assert got == _run(files, tmp_path / "local", LocalEngine())
