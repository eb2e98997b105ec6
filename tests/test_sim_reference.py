"""Every engine path against the reference simulator (:mod:`neurodeploy.sim.reference`: the model's step in a
plain loop, one charge evaluation, JAX's own gradient).

One parametrised test: every charge path (:data:`neurodeploy.sim.engine.PATHS`, the path with delays, and
"event-pre" and "rec-matrix" under ``jax.vmap`` over mismatch draws, the paths of :data:`PRECISE` with precise spike timing,
and one with timestamped inputs) ×
forward / gradient × nominal / mismatched chip.

Tolerances (forward). The spike trains are equal. The network's weight currents are integers × 2⁻³⁴ A
and its delays whole steps, so on the nominal chip every evaluation of the synaptic charge (Q1) is exact
in float32, in any order of summation, and the engine and the reference evaluate the model's arithmetic
on the same numbers: they differ only where XLA fuses the two programs differently (a·b + c rounded once
or twice, the last bit) and where one of them runs its time loop compiled whole (:mod:`neurodeploy.xla_flags`:
another code generator, other roundings), hence rtol 1e-6 for the synaptic currents and 1e-4 of the largest
value for the membrane current and refractory time (measured: ≤ 5e-7 relative in a few elements with both
loops run as XLA's thunks, up to 2.7e-5 of the largest value with delays and one loop compiled whole: near the
spike onset a last-bit difference is amplified, below). A mismatch draw
makes weights and delays arbitrary floats; the paths then sum (Q1) in other orders than the reference
(a few float32 roundings, ~1e-7 relative): the synaptic currents (linear, damped) agree to rtol 1e-5, the
membrane current, refractory time and spike lateness to 3e-3 of their largest value — near the spike onset the positive
feedback is explosive and amplifies an input difference ~10⁴-fold (measured up to 3.3e-4).

Tolerance (gradient, weights and every current): :data:`GRAD_TOL` of the largest component. Besides the
forward's differences above and the charge's transposes, the engine's backward recomputes each step with
the forward's spike timing (:func:`neurodeploy.sim.engine._from_forward`: the refractory time rounded
differently) and accumulates the per-step cotangents by hand: measured ≤ 2e-6 on the nominal chip with XLA's
default code generation, ≤ 1.2e-5 with the tests' unoptimised one (tests/conftest.py: other machine code, so
other roundings) and up to 3.1e-5 with delays and a loop compiled whole, ≤ 5.3e-4 with mismatch — in all of them
the refractory current I_ref, whose gradient follows the spike times of the forward.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.sim import build_from_arrays, default_params, no_mismatch, sample_mismatch, sample_mismatch_stack
from neurodeploy.sim import engine, model, reference

T, N, N_IN, K = 50, 130, 40, 12         # >= 128 neurons and sources: the event paths' sparse branches exist
UNIT = 2.0 ** -34                        # A: weights on this grid sum exactly in float32
REC = ("I_mem", "I_gaba")
#: Gradient tolerance, a fraction of the largest component (module docstring).
GRAD_TOL = {"nominal": 1e-4, "mismatch": 2e-3}
CASES = {   # path: (engine path, batch, delays, vmapped draws)
    "gather": ("gather", 2, False, False), "matrix": ("matrix", 2, False, False),
    "matrix-pre": ("matrix-pre", 2, False, False), "event": ("event", 1, False, False),
    "event-pre": ("event-pre", 1, False, False), "event-pre, draws": ("event-pre", 1, False, True),
    "rec-matrix": ("rec-matrix", 1, False, False), "rec-matrix, draws": ("rec-matrix", 1, False, True),
    "delays": ("gather", 2, True, False),
}
#: Precise spike timing on the paths whose charge code differs (dense, W_rec rows, event scatter, vmapped scatter,
#: W_rec at batch 1).
PRECISE = ("gather", "matrix-pre", "event", "event-pre, draws", "rec-matrix")
CASES.update({f"{name}, precise timing": CASES[name] + (True,) for name in PRECISE})
#: ... and with timestamped inputs (their lateness, ``input_lateness``) on the batch-1 path of the inputs' charge and
#: moment before the loop (every path against each other: tests/test_sim_timed_inputs.py).
CASES["rec-matrix, timed inputs"] = CASES["rec-matrix"] + (True, True)
CASES = {name: case + (False,) * (6 - len(case)) for name, case in CASES.items()}


def _network(profile, delays: bool, precise: bool = False):
    rng = np.random.default_rng(3)
    src = np.concatenate([rng.choice(N_IN + N, K, replace=False) for _ in range(N)])
    dst = np.repeat(np.arange(N), K)
    dend = rng.choice([0, 1, 2, 3], N * K, p=[0.6, 0.1, 0.25, 0.05])
    w = np.round(rng.uniform(0.5, 1.5, N * K) * np.where(dend == 3, 3e-10, np.where(src < N_IN, 2.5e-7, 1e-7)) / UNIT) * UNIT
    flags = {"adaptation": rng.random(N) < 0.5, "dc": rng.random(N) < 0.2, "nmda_gate": rng.random(N) < 0.5,
             "kill": rng.random(N) < 0.05}
    params = {**default_params(profile, N), "Idc": np.full(N, 5e-10)}
    more = {"delay": rng.integers(0, 4, N * K) * 1e-3} if delays else {}
    return build_from_arrays(N_IN, params, flags, src, dst, dend, w, profile, precise_timing=precise, **more)


def _outputs(net, x, m, state, path, late=None):
    if path == "reference":
        return reference.simulate(net, x, m, state, REC, input_lateness=late)
    return engine.run(net, x, m, state, REC, net.dt, path, lateness=late)


def _loss(out):
    spikes, final, rec = out
    return jnp.sum(spikes * jnp.linspace(0.0, 1.0, T)[:, None]) + 1e7 * jnp.sum(rec["I_mem"]) + 1e7 * jnp.sum(final.I_ampa)


@partial(jax.jit, static_argnames=("path", "draws"))
def _forward(net, x, m, state, path, draws, late=None):
    one = partial(_outputs, net, x, state=state, path=path, late=late)
    return jax.vmap(one)(m) if draws else one(m)


@partial(jax.jit, static_argnames=("path", "draws"))
def _gradient(net, x, m, state, path, draws, late=None):
    def grad(mm):
        loss = lambda wt, cur: _loss(_outputs(net.replace(weight=wt, currents=cur), x, mm, state, path, late))  # noqa: E731
        return jax.grad(loss, argnums=(0, 1))(net.weight, dict(net.currents))
    return jax.vmap(grad)(m) if draws else grad(m)


#: (path, mode, chip) of the test: every path forward and backward on both chips; precise timing (off by default,
#: its equations the same on both chips) on the mismatched chip only.
RUNS = [(path, mode, chip) for path in CASES for mode in ("forward", "gradient") for chip in ("nominal", "mismatch")
        if not (CASES[path][4] and chip == "nominal")]


@pytest.mark.parametrize("path, mode, chip", RUNS, ids=["-".join(r) for r in RUNS])
def test_engine_path_equals_the_reference(profile, path, mode, chip):
    path, batch, delays, draws, precise, timed = CASES[path]
    net = _network(profile, delays, precise)
    x = (np.random.default_rng(5).random((batch, T, N_IN)) < 0.1).astype(np.float32)
    x[:, 20] = 1.0                  # a volley of every input: more sources than the event paths' capacity
    late = jnp.asarray(x * np.random.default_rng(6).uniform(0, net.dt, x.shape).astype(np.float32)) if timed else None
    x, state = jnp.asarray(x), model.initial_state(net, batch)
    if draws:   # the identity draw for the nominal chip: one compilation for both
        m = sample_mismatch_stack(net, jax.random.PRNGKey(2), 3)
        m = m if chip == "mismatch" else jax.tree_util.tree_map(jnp.ones_like, m)
    else:
        m = sample_mismatch(net, jax.random.PRNGKey(1)) if chip == "mismatch" else no_mismatch(net)
    if mode == "forward":
        (s_e, fin_e, rec_e), (s_r, fin_r, rec_r) = (_forward(net, x, m, state, p, draws, late) for p in (path, "reference"))
        assert float(s_r.sum()) > 0.05 * s_r.size and float(s_r[..., 100:].sum()) > 0     # active, also late neurons
        np.testing.assert_array_equal(np.asarray(s_e), np.asarray(s_r))
        pairs = [(f"recorded {k}", rec_e[k], rec_r[k]) for k in REC] + [
            (f"final {k}", getattr(fin_e, k), getattr(fin_r, k)) for k in model.SimState._fields
            if k != "delayed" and getattr(fin_r, k) is not None]
        assert (fin_e.lateness is not None) == precise and (fin_r.lateness is not None) == precise
        for name, a, b in pairs:
            a, b = np.asarray(a), np.asarray(b)
            if "I_mem" in name or "t_refr" in name or "lateness" in name:
                atol = (1e-4 if chip == "nominal" else 3e-3) * np.abs(b).max()
                np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=name)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-6 if chip == "nominal" else 1e-5, atol=1e-20, err_msg=name)
        return
    g_e, g_r = (_gradient(net, x, m, state, p, draws, late) for p in (path, "reference"))
    for (key, a), b in zip(jax.tree_util.tree_leaves_with_path(g_e), jax.tree_util.tree_leaves(g_r)):
        a, b = np.asarray(a), np.asarray(b)
        assert np.all(np.isfinite(b)), jax.tree_util.keystr(key)
        np.testing.assert_allclose(a, b, rtol=0, atol=GRAD_TOL[chip] * np.abs(b).max(), err_msg=jax.tree_util.keystr(key))
    assert float(jnp.abs(g_r[0]).max()) > 0 and float(jnp.abs(g_r[1]["Itau_mem"]).max()) > 0


def test_input_gradient_of_the_matrix_path_equals_the_reference(profile):
    """The matrix path's product [x, s]·W computes the inputs' cotangent only where the inputs are differentiated
    (``neurodeploy.sim.charge.inputs_and_spikes``); differentiated, they get the reference's gradient."""
    net = _network(profile, False)
    x = jnp.asarray((np.random.default_rng(7).random((2, T, N_IN)) < 0.1).astype(np.float32))
    state, m = model.initial_state(net, 2), no_mismatch(net)

    @partial(jax.jit, static_argnames=("path",))
    def grad_x(xx, path):
        return jax.grad(lambda v: _loss(_outputs(net, v, m, state, path)))(xx)
    g_e, g_r = grad_x(x, "matrix"), grad_x(x, "reference")
    assert float(jnp.abs(g_r).max()) > 0
    np.testing.assert_allclose(np.asarray(g_e), np.asarray(g_r), rtol=0, atol=GRAD_TOL["nominal"] * float(jnp.abs(g_r).max()))
