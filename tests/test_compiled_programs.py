"""A long-lived process drops its compiled programs before it reaches the operating system's cap on memory
mappings (neurodeploy.compiled_programs): the programs compile again, with the same results."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy import compiled_programs as cp

LINUX = os.path.exists(cp.MAPS)


def test_mappings_and_cap_read_their_files_and_fall_back(tmp_path):
    (tmp_path / "maps").write_text("a\nb\nc\n")
    assert cp.mappings(str(tmp_path / "maps")) == 3
    assert cp.mappings(str(tmp_path / "missing")) is None
    (tmp_path / "cap").write_text("262144\n")
    assert cp.cap(str(tmp_path / "cap")) == 262144
    (tmp_path / "bad").write_text("many\n")
    assert cp.cap(str(tmp_path / "bad")) == cp.DEFAULT_CAP
    assert cp.cap(str(tmp_path / "missing")) == cp.DEFAULT_CAP


def test_nothing_is_dropped_without_the_maps_file_or_below_the_share(tmp_path):
    traces = []

    @jax.jit
    def f(x):
        traces.append(1)
        return jnp.sin(x) * 2.0

    f(jnp.ones(3))
    (tmp_path / "cap").write_text(f"{10**9}\n")
    assert not cp.release_if_crowded(maps_path=str(tmp_path / "missing"), cap_path=str(tmp_path / "missing"))
    assert not cp.release_if_crowded(cap_path=str(tmp_path / "cap"))
    f(jnp.ones(3))
    assert len(traces) == 1                       # still compiled: not traced again


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/maps")
def test_above_the_share_the_programs_are_dropped_and_compile_again_to_the_same_numbers(tmp_path):
    traces = []

    @jax.jit
    def f(x):
        traces.append(1)
        return jnp.exp(jnp.sin(x)) @ jnp.cos(x).T

    x = jnp.asarray(np.random.default_rng(0).standard_normal((16, 16)), jnp.float32)
    before = np.asarray(f(x))
    (tmp_path / "cap").write_text(f"{cp.mappings()}\n")          # the process is at its cap
    assert cp.release_if_crowded(cap_path=str(tmp_path / "cap"))
    after = np.asarray(f(x))
    assert len(traces) == 2                       # traced and compiled again
    np.testing.assert_array_equal(after, before)


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/maps")
def test_a_process_compiling_program_after_program_stays_below_its_cap(tmp_path):
    """Each new program adds mappings; released at half a cap set a few programs above the start, the process never
    holds more than that cap, while without the release it grows past it."""
    def programs(n, release):
        most = 0
        for i in range(n):
            g = jax.jit(lambda x, i=i: jnp.tanh(x * (i + 1.5)) @ jnp.exp(x.T - i) + jnp.log1p(x * x) * i)
            g(jnp.ones((9 + i, 9 + i))).block_until_ready()
            if release:
                cp.release_if_crowded(cap_path=str(tmp_path / "cap"))
            most = max(most, cp.mappings())
        return most

    cp.release_if_crowded(1e-9)                   # start from a process without programs
    start = cp.mappings()
    limit = start + 60
    (tmp_path / "cap").write_text(f"{2 * limit}\n")   # the share: half of it, `limit` mappings
    grown = programs(40, release=False) - start
    assert grown > 2 * 60                          # programs hold mappings: without release past the cap
    cp.release_if_crowded(1e-9)
    assert cp.mappings() < start + grown
    assert programs(40, release=True) <= 2 * limit


class _Called(Exception):
    pass


def test_every_entry_that_compiles_releases_first(monkeypatch, tmp_path):
    """Training, yield, the API's simulate/emulate/verify and the Ray tasks check the cap before they compile
    (the check raises here, so each call stops there)."""
    import neurodeploy.api as api
    import neurodeploy.train.run as train_run
    from neurodeploy.study import engines
    from neurodeploy.study.run import run_study

    calls = []

    def check(*args, **kwargs):
        calls.append(1)
        raise _Called

    for mod in (cp, api, train_run):
        monkeypatch.setattr(mod, "release_if_crowded", check)
    entries = {
        "simulate": lambda: api.simulate("model.json", np.zeros((1, 3, 2)), dt=1e-3),
        "emulate": lambda: api.emulate("config.json", np.zeros((1, 3, 2)), dt=1e-3),
        "verify": lambda: api.verify("model.json", "config.json", np.zeros((1, 3, 2)), dt=1e-3),
        "train": lambda: train_run.train(None, tmp_path / "m.json", None, None),
        "yield": lambda: run_study("config.json", "in.npz", tmp_path / "study"),
        "unit task": lambda: engines.unit_task("{}", "dynapse2", None, 1e-3, None, 0.1, [0]),
        "float task": lambda: engines.float_task(None, "dynapse2", None, 1e-3, None, {}),
    }
    for name, call in entries.items():
        before = len(calls)
        with pytest.raises(_Called):
            call()
        assert len(calls) == before + 1, name
