"""A batched run split across the process's devices (neurodeploy/sim/shards.py): which batches are split, and that a
split run gives the unsplit run's spikes and, but for summation order, its currents and gradients."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neurodeploy.sim import shards


def test_a_batch_is_split_across_every_device_when_each_part_is_large_enough():
    m = shards.MIN_SHARD_ELEMENTS
    assert shards.count(32, 64, devices=2) == 2
    assert shards.count(3, m, devices=2) == 2              # ⌈3/2⌉ samples each (padded to 4)
    assert shards.count(8, 34, devices=2) == 1             # 4 × 34 elements per device: too small to pay
    assert shards.count(1, 10 * m, devices=2) == 1         # batch 1 (one sample, or draws under vmap)
    assert shards.count(64, 64, devices=1) == 1
    assert shards.count(16, m // 2, devices=4) == 4
    assert shards.count(16, m // 8, devices=4) == 1
    assert shards.count(3, 10 * m, devices=4) == 1          # fewer samples (or draws) than devices
    # by default the process's devices (this suite runs with one: nothing split, arrays left where they are)
    import jax

    d = len(jax.devices())
    assert shards.count(64, 10 * m) == (d if d > 1 else 1)
    tree = {"a": np.ones(3, np.float32)}
    assert (shards.place(tree, 64, 10 * m) is tree) == (d == 1)
    assert shards.place(tree, 1, 10 * m) is tree


_PROBE = """
import json, sys
import numpy as np
from neurodeploy.xla_flags import apply
apply()
import jax, jax.numpy as jnp
from neurodeploy.device.profile import load_profile
from neurodeploy.sim import Parametrization, build_from_arrays, default_params, sample_mismatch_stack, shards, simulate
shards.MIN_SHARD_ELEMENTS = 1          # split this small network's batches too
prof = load_profile("dynapse2")
rng = np.random.default_rng(0)
n, nin = 12, 6
src = rng.integers(0, nin + n, 60); dst = rng.integers(0, n, 60); dend = rng.choice([0, 2], 60)
net = build_from_arrays(nin, default_params(prof, n), {}, src, dst, dend, rng.uniform(5e-8, 3e-7, 60), prof, dt=1e-3)
x = jnp.asarray((rng.random((3, 200, nin)) < 0.2).astype(np.float32))      # 3 samples: padded to 4 on 2 devices
s, final, rec = simulate(net, x, record=True)
par = Parametrization.from_network(net, currents=("Itau_mem",))
def loss(th):
    return jnp.mean((simulate(par.apply(net, th), x)[0].mean(1) - 0.02) ** 2)
step = jax.jit(lambda th: jax.tree_util.tree_map(lambda a, g: a - 1e3 * g, th, jax.grad(loss)(th)))
th = shards.place(par.init(), 3, n)
for _ in range(3):
    th = step(th)
text = step.lower(th).compile().as_text()
g = jax.grad(loss)(par.init())
draws = sample_mismatch_stack(net, jax.random.PRNGKey(0), 2)
sd = jax.jit(jax.vmap(lambda m: simulate(net, x, m)[0]))(draws)
split_draws = jax.jit(shards.over_draws(lambda m, nn, xx: simulate(nn, xx, m)[0], 2, 3 * n))
sdo = split_draws(draws, net, x)
np.savez(sys.argv[1], s=np.asarray(s), I_mem=np.asarray(rec["I_mem"]), t_refr=np.asarray(final.t_refr),
         w=np.asarray(g["weights"]), th=np.asarray(th["weights"]), sd=np.asarray(sd), sdo=np.asarray(sdo))
draws_split = "num_partitions=2" in split_draws.lower(draws, net, x).compile().as_text()
print(json.dumps({"devices": len(jax.devices()), "split": "num_partitions=2" in text, "compiled": step._cache_size(),
                  "draws_split": draws_split}))
"""


@pytest.mark.parametrize("devices", [2])
def test_a_split_batch_gives_the_unsplit_runs_spikes_and_gradients(tmp_path, devices):
    """Fresh processes with one and with two host devices: the same spikes (also of mismatch draws under vmap, and
    of the draws split across the devices, :func:`shards.over_draws`), the
    membrane currents and the final state to float rounding, the gradient within summation order; the training-like
    loop fed its own replicated results compiles once."""
    out = {}
    for d in (1, devices):
        flags = f"--xla_force_host_platform_device_count={d} --xla_backend_optimization_level=0"     # as the suite's
        env = {**os.environ, "XLA_FLAGS": flags}
        path = tmp_path / f"{d}.npz"
        res = subprocess.run([sys.executable, "-c", _PROBE, str(path)], env=env, capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        out[d] = (json.loads(res.stdout.strip().splitlines()[-1]), np.load(path))
    assert out[1][0] == {"devices": 1, "split": False, "compiled": 1, "draws_split": False}
    assert out[devices][0] == {"devices": devices, "split": True, "compiled": 1, "draws_split": True}
    one, two = out[1][1], out[devices][1]
    assert one["s"].sum() > 0 and one["s"].shape == two["s"].shape == (3, 200, 12)
    np.testing.assert_array_equal(one["s"], two["s"])
    np.testing.assert_array_equal(one["sd"], two["sd"])
    np.testing.assert_array_equal(one["sd"], two["sdo"])       # the draws split across the devices
    np.testing.assert_array_equal(one["sd"], one["sdo"])
    np.testing.assert_allclose(two["I_mem"], one["I_mem"], rtol=1e-5, atol=1e-14)
    np.testing.assert_allclose(two["t_refr"], one["t_refr"], rtol=1e-5, atol=1e-9)
    assert np.abs(one["w"]).max() > 0
    np.testing.assert_allclose(two["w"], one["w"], rtol=1e-4, atol=1e-5 * np.abs(one["w"]).max())
    np.testing.assert_allclose(two["th"], one["th"], rtol=1e-4, atol=1e-5 * np.abs(one["th"]).max())
