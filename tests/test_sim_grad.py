"""Gradients through simulate (surrogate spike): finite, non-zero, and good enough for Adam to learn."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from neurodeploy.sim import Parametrization, build_from_arrays, build_from_spec, default_params, simulate
from neurodeploy.spec import spec_from_dict


def _net(profile):
    rng = np.random.default_rng(0)
    n, n_in, k = 6, 10, 6
    src = np.concatenate([rng.choice(n_in + n, k, replace=False) for _ in range(n)])
    dst = np.repeat(np.arange(n), k)
    dend = np.tile([0, 0, 1, 2, 3, 0], n)
    w = rng.uniform(0.5, 1.5, n * k) * np.where(dend == 3, 3e-10, 1e-7)
    a = profile.analog
    p = default_params(profile, n)
    p["Iw_ahp"][:] = 2e-9
    p["Ipulse_ahp"][:] = a.V_th * a.C_pulse_ahp / 1e-4
    flags = {"adaptation": np.ones(n, bool), "nmda_gate": np.arange(n) % 2 == 0, "dc": np.ones(n, bool)}
    p["Idc"][:] = 5e-9
    p["If_nmda"][:] = 1e-9
    net = build_from_arrays(n_in, p, flags, src, dst, dend, w, profile)
    x = (rng.random((2, 200, n_in)) < 0.05).astype(np.float32)
    return net, x


def test_gradients_finite_and_nonzero(profile):
    net, x = _net(profile)
    par = Parametrization.from_network(net)
    theta = par.init()

    def loss(th):
        s, _, _ = simulate(par.apply(net, th), x)
        return jnp.mean((s.mean(axis=1) - 0.03) ** 2)

    val, g = jax.jit(jax.value_and_grad(loss))(theta)
    assert np.isfinite(float(val))
    gw = np.asarray(g["weights"])
    assert np.all(np.isfinite(gw)) and np.count_nonzero(gw) > gw.size // 2
    for q in ("Itau_mem", "Igain_mem", "Ispkthr", "Iref", "Idc", "Itau_ampa", "Igain_ampa", "Itau_nmda", "Igain_nmda",
              "If_nmda", "Itau_gaba", "Igain_gaba", "Itau_shunt", "Igain_shunt", "Ipulse", "Itau_ahp", "Igain_ahp",
              "Iw_ahp", "Ipulse_ahp"):
        gq = np.asarray(g["log_currents"][q])
        assert np.all(np.isfinite(gq)), q
        assert np.any(gq != 0), q
    # raw amperes work too (but are badly scaled — that is what Parametrization is for)
    graw = jax.grad(lambda w: jnp.sum(simulate(net.replace(weight=w), x)[0]))(net.weight)
    assert np.all(np.isfinite(np.asarray(graw))) and np.any(np.asarray(graw) != 0)


def test_adam_lowers_a_loss(profile):
    """Train the weights of a spec's float model towards a target rate per output neuron."""
    rng = np.random.default_rng(3)
    spec = spec_from_dict({
        "n_inputs": 8, "dt": 1e-3,
        "populations": [{"name": "out", "size": 3}],
        "projections": [{"source": "input", "target": "out", "weight_scale": 1e-7,
                         "weight": rng.uniform(-0.3, 1.0, (8, 3)).round(3).tolist()}],
        "outputs": [{"population": "out"}]})
    net, index = build_from_spec(spec, profile, sign_pairs=True)
    par = Parametrization.from_spec_index(net, index, currents=("Itau_mem", "Igain_mem"))
    x = (rng.random((4, 200, 8)) < 0.06).astype(np.float32)
    target = jnp.asarray([10.0, 40.0, 0.0])                          # Hz

    def loss(th):
        s, _, _ = simulate(par.apply(net, th), x)
        rate = s[..., index.output_indices].mean(axis=(0, 1)) / spec.dt
        return jnp.mean(((rate - target) / 20.0) ** 2)

    opt = optax.adam(0.05)
    theta = par.init()
    state = opt.init(theta)
    step = jax.jit(jax.value_and_grad(loss))
    losses = []
    for _ in range(8):
        val, g = step(theta)
        losses.append(float(val))
        upd, state = opt.update(g, state)
        theta = optax.apply_updates(theta, upd)
    losses.append(float(step(theta)[0]))
    assert losses[-1] < 0.7 * losses[0], losses
