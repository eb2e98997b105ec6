"""Timestamped input events with precise spike timing (``simulate(..., input_lateness=...)``, (E1)–(E2) of
:mod:`neurodeploy.sim.timed_inputs`): an input event acts at its own time inside a bin, as a network's spike does.

One engine path against the reference loop (forward and gradient) is in tests/test_sim_reference.py; here every
path against the others, the binning, the errors and the integration against the fine-step run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodeploy.sim import SimError, bin_events, build_from_arrays, default_params, initial_state, simulate
from neurodeploy.sim import engine, model, sample_mismatch, sample_mismatch_stack

FINE = 5e-5                                                     # s
T, N, N_IN = 30, 100, 40        # ≥ 128 sources: the event paths' sparse branches exist


def test_events_are_delivered_at_the_next_boundary_with_their_lateness():
    """(E1): t on a boundary → that step, a = 0; t inside bin j − 1 → step j, a = j·dt − t; (E2) sums per step."""
    times = [0.0, 2e-3, 0.3e-3, 0.9e-3, 1.25e-3, 4.5e-3]
    counts, late = bin_events(times, [0, 1, 0, 0, 1, 1], 2, 1e-3, steps=4)
    expected = np.zeros((4, 2))
    expected[0, 0], expected[1, 0], expected[2, 1] = 1, 2, 2          # the event at 4.5 ms (step 5): dropped
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose(late[1, 0], 0.7e-3 + 0.1e-3, rtol=1e-5)
    np.testing.assert_allclose(late[2, 1], 0.0 + 0.75e-3, rtol=1e-5)             # 2 ms: on the boundary, a = 0
    assert late[0, 0] == 0 and late[3].sum() == 0
    c, _ = bin_events([4.5e-3], [0], 1, 1e-3)
    assert c.shape == (6, 1) and c[5, 0] == 1                   # default length: up to the last delivery step


@pytest.mark.parametrize("times, sources, match", [([1e-3], [2], "sources"), ([-1e-3], [0], "times"),
                                                   ([1e-3, 2e-3], [0], "one source per event")])
def test_bad_events_are_refused(times, sources, match):
    with pytest.raises(SimError, match=match):
        bin_events(times, sources, 2, 1e-3)


def _network(profile, precise=True):
    rng = np.random.default_rng(3)
    src = np.concatenate([rng.choice(N_IN + N, 12, replace=False) for _ in range(N)])
    dend = rng.choice([0, 1, 2], N * 12, p=[0.7, 0.1, 0.2])
    w = rng.uniform(0.5, 1.5, N * 12) * np.where(src < N_IN, 2.5e-7, 1e-7)
    return build_from_arrays(N_IN, default_params(profile, N), {}, src, np.repeat(np.arange(N), 12), dend, w, profile,
                             precise_timing=precise)


def _inputs(batch, dt=1e-3):
    rng = np.random.default_rng(5)
    x = (rng.random((batch, T, N_IN)) < 0.15).astype(np.float32)
    x[:, 10] = 1.0                  # a volley of every input: more sources than the event paths' capacity
    return x, x * rng.uniform(0, dt, x.shape).astype(np.float32)


def test_every_engine_path_gives_the_same_run(profile):
    """The paths evaluate the inputs' moment differently (in the loop, or its charge before it; gathered, multiplied,
    scattered; vmapped over draws, where "rec-matrix" takes the scatter of "event-pre"): the same spikes and states.
    The lateness changes the run."""
    net = _network(profile)
    m = sample_mismatch(net, jax.random.PRNGKey(1))
    runs = {}
    for path, batch in (("gather", 2), ("matrix", 2), ("matrix-pre", 2), ("event", 1), ("event-pre", 1),
                        ("rec-matrix", 1)):
        x, late = _inputs(batch)
        runs[path] = engine.run(net, jnp.asarray(x), m, model.initial_state(net, batch), ("I_mem",), net.dt, path,
                                lateness=jnp.asarray(late))
    x, late = _inputs(1)
    ms = sample_mismatch_stack(net, jax.random.PRNGKey(2), 2)
    ms = jax.tree_util.tree_map(lambda a, b: a.at[0].set(b), ms, m)    # draw 0: the draw above
    s, fin, rec = jax.vmap(lambda mm: engine.run(net, jnp.asarray(x), mm, model.initial_state(net, 1), ("I_mem",),
                                                 net.dt, "event-pre", lateness=jnp.asarray(late)))(ms)
    runs["event-pre, draws"] = (s[0], jax.tree_util.tree_map(lambda a: a[0], fin), {"I_mem": rec["I_mem"][0]})
    for path, (s, fin, rec) in runs.items():
        ref_s, ref_fin, ref_rec = runs["gather"] if s.shape[0] == 2 else runs["event"]
        assert float(ref_s.sum()) > 0.05 * ref_s.size
        np.testing.assert_array_equal(np.asarray(s), np.asarray(ref_s), err_msg=path)
        np.testing.assert_allclose(fin.I_ampa, ref_fin.I_ampa, rtol=1e-5, atol=1e-20, err_msg=path)
        np.testing.assert_allclose(rec["I_mem"], ref_rec["I_mem"], rtol=0, atol=3e-3 * float(jnp.abs(ref_rec["I_mem"]).max()),
                                   err_msg=path)
    s0, _, _ = simulate(net, x[0])
    assert float(jnp.abs(s0 - runs["event"][0][0]).sum()) > 0


def test_zero_lateness_is_the_run_without_it(profile):
    """Every event on a bin boundary (a = 0) is the counts' run."""
    net = _network(profile)
    x, _ = _inputs(2)
    a, fa, _ = simulate(net, x)
    b, fb, _ = simulate(net, x, input_lateness=np.zeros_like(x))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(fa.I_ampa, fb.I_ampa, rtol=1e-6)


def test_input_lateness_is_checked(profile):
    x, late = _inputs(1)
    with pytest.raises(SimError, match="precise_timing"):
        simulate(_network(profile, precise=False), x, input_lateness=late)
    with pytest.raises(SimError, match="shape of inputs"):
        simulate(_network(profile), x, input_lateness=late[0])


#: ms: a few input events, on the 0.05 ms grid, driving one neuron to three spikes in 20 ms
TIMES = np.array([0.35, 0.9, 1.45, 2.3, 2.75, 3.6, 4.15, 6.2, 6.65, 7.4, 8.3, 9.05]) * 1e-3
DURATION = 0.02


def _spike_times(profile, dt, x, late=None, step_by_step=True):
    """The neuron's spike times (s): with precise timing its bin's end minus its lateness (read step by step); the
    fine-step run (``step_by_step`` False) the middle of its bin."""
    net = build_from_arrays(1, default_params(profile, 1), {}, [0], [0], [0], [2e-7], profile, dt=dt, precise_timing=True)
    if not step_by_step:
        return (np.nonzero(np.asarray(simulate(net, x)[0])[:, 0])[0] + 0.5) * dt
    state, out = initial_state(net, None), []
    for t in range(x.shape[0]):
        s, state, _ = simulate(net, x[t:t + 1], state=state, input_lateness=None if late is None else late[t:t + 1])
        if float(s[0, 0]) > 0:
            out.append((t + 1) * dt - float(state.lateness[0]))
    return np.array(out)


def test_timed_inputs_follow_the_fine_step_run(profile):
    """One neuron driven by a few input events at 0.05 ms resolution: at dt = 1 ms with the events' lateness its
    spike times are those of the 0.05 ms run (measured within 0.05 ms); with the events moved to the start of their
    bin (⌊t/dt⌋, the raster's binning) the spikes come ~0.5 ms early (measured 0.42–0.49 ms)."""
    src = np.zeros(TIMES.size, int)
    fine, fine_late = bin_events(TIMES, src, 1, FINE, int(round(DURATION / FINE)))
    assert fine_late.max() < 1e-9                                       # on the fine grid: no lateness
    ref = _spike_times(profile, FINE, fine, step_by_step=False)
    dt, steps = 1e-3, int(round(DURATION / 1e-3))
    counts, late = bin_events(TIMES, src, 1, dt, steps)
    floored = np.zeros((steps, 1), np.float32)
    np.add.at(floored, (np.floor(TIMES / dt + 1e-9).astype(int), 0), 1.0)
    timed, early = _spike_times(profile, dt, counts, late), _spike_times(profile, dt, floored)
    assert ref.size >= 3 and timed.size == ref.size and early.size == ref.size
    err_timed, err_early = np.abs(timed - ref).max(), np.abs(early - ref).max()
    assert err_timed < 0.15e-3 and err_early > 0.3e-3 and err_timed < 0.3 * err_early
