"""The process's XLA flags (neurodeploy/xla_flags.py): small time loops compiled whole, and what it changes."""

import os
import subprocess
import sys

import numpy as np

from neurodeploy import xla_flags

FLAG = xla_flags.flag()


def test_flags_are_added_once_and_the_users_own_win():
    dev = xla_flags.device_flag()
    assert dev == f"--xla_force_host_platform_device_count={xla_flags.host_devices()}"
    assert 1 <= xla_flags.host_devices() <= xla_flags.MAX_HOST_DEVICES
    assert xla_flags.with_flags("") == f"{FLAG} {dev}"
    assert xla_flags.with_flags("", devices=3) == f"{FLAG} --xla_force_host_platform_device_count=3"
    assert xla_flags.with_flags("--xla_force_host_platform_device_count=1") == \
        f"--xla_force_host_platform_device_count=1 {FLAG}"
    assert xla_flags.with_flags(f"{FLAG} {dev}") == f"{FLAG} {dev}"
    own = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=0"
    assert xla_flags.with_flags(own) == f"{own} {dev}"
    assert xla_flags.device_count("--a --xla_force_host_platform_device_count=2 --xla_force_host_platform_device_count=4") == 4
    assert xla_flags.device_count("--xla_backend_optimization_level=0") is None
    bad = "--xla_force_host_platform_device_count=two"      # not a count: left to XLA to refuse, never replaced
    assert xla_flags.device_count(bad) is None
    assert xla_flags.with_flags(bad) == f"{bad} {FLAG}"


def test_apply_reports_whether_it_takes_effect():
    env = {}
    xla_flags.apply(env)
    assert env["XLA_FLAGS"] == f"{FLAG} {xla_flags.device_flag()}"
    # this test process's backend has started (the suite computes), so a change would not reach it
    import jax.numpy as jnp

    jnp.ones(1).block_until_ready()
    assert xla_flags.backend_started()
    assert xla_flags.apply({"XLA_FLAGS": ""}) is False
    assert xla_flags.apply({"XLA_FLAGS": f"{FLAG} {xla_flags.device_flag()}"}) is False      # nothing to change


def test_the_suite_and_ray_workers_run_with_the_flag():
    from neurodeploy.study.engines import worker_env

    assert FLAG in os.environ["XLA_FLAGS"]
    assert FLAG in worker_env()["XLA_FLAGS"]


_PROBE = """
import sys, json
import numpy as np
from neurodeploy.xla_flags import apply
if sys.argv[1] == "on":
    assert apply()
import jax, jax.numpy as jnp
from neurodeploy.device.profile import load_profile
from neurodeploy.sim import build_from_arrays, default_params, simulate
prof = load_profile("dynapse2")
src = np.array([0, 1, 2, 3, 5]); dst = np.array([0, 0, 1, 1, 0]); dend = np.array([0, 0, 0, 0, 2])
w = np.array([2e-7, 2e-7, 2e-7, 2e-7, 4e-8])
net = build_from_arrays(4, default_params(prof, 2), {}, src, dst, dend, w, prof, dt=1e-3)
x = (np.random.default_rng(0).random((1, 300, 4)) < 0.3).astype(np.float32)
f = jax.jit(lambda n, xx: simulate(n, xx, record=True)[0::2])
text = f.lower(net, jnp.asarray(x)).compile().as_text()
s, rec = f(net, jnp.asarray(x))
np.savez(sys.argv[2], s=np.asarray(s), I_mem=np.asarray(rec["I_mem"]))
print(json.dumps({"whole": "xla_cpu_small_call" in text}))
"""


def test_small_forward_run_is_compiled_whole_with_the_same_spikes(tmp_path):
    """A 2-neuron run in a fresh process with and without the flag: its time loop becomes one function with
    the flag only; the spikes are the same and the membrane currents agree but for rounding (the loop's
    arithmetic is emitted by another code generator)."""
    out = {}
    for mode in ("off", "on"):
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
        path = tmp_path / f"{mode}.npz"
        res = subprocess.run([sys.executable, "-c", _PROBE, mode, str(path)], env=env, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        out[mode] = (res.stdout.strip().splitlines()[-1], np.load(path))
    assert out["off"][0] == '{"whole": false}'
    assert out["on"][0] == '{"whole": true}'
    assert out["on"][1]["s"].sum() > 0
    np.testing.assert_array_equal(out["on"][1]["s"], out["off"][1]["s"])
    np.testing.assert_allclose(out["on"][1]["I_mem"], out["off"][1]["I_mem"], rtol=1e-4, atol=1e-13)
