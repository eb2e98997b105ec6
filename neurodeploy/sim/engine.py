"""The engine: runs the model's :func:`.model.step` fast, with the same numbers.

What the engine adds to the model, each in one place:

- **weight layouts** (:class:`Weights`, :func:`weights`): the entries' (mismatched) weight currents laid out
  for the charge paths — per ELL slot ``w_slot`` [K_g, N] (and neuron-major ``w_nk``), per source ``w_fan``
  [n_src + 1, F], as a dense matrix ``w_dense`` [n_src, G·N], and the delayed reads of :mod:`.delays`;
- **charge paths** (:mod:`.charge`), one evaluation of eq. (Q1) each, chosen per call by :func:`choose_path`:

  ======================  ==============================================================================
  ``"gather"``            ELL gather + contraction (any batch; the path with delays, :mod:`.delays`)
  ``"matrix"``            one product e·W per step (batch > 1, small or dense networks)
  ``"matrix-pre"``        the inputs' part of e·W for all steps before the loop, W_rec in the loop
  ``"event"``             batch 1: scatter the fan-outs of the sources that fired
  ``"event-pre"``         batch 1: the inputs' charge before the loop, the spikes' scatter in it
  ``"rec-matrix"``        batch 1: the inputs' charge before the loop, the spikes times W_rec in it (one
                          chip; many draws under ``jax.vmap``: the scatter of "event-pre")
  ======================  ==============================================================================

- with precise spike timing (``net.precise_timing``), the first moment (P1) of :mod:`.model`: the same path
  on the network's spikes weighted by their lateness (the matrix paths' W_rec rows; the event paths'
  scatter of the neurons that fired), and the forward without the carried charge; for timestamped inputs
  (``lateness``, :mod:`.timed_inputs`) also on the inputs' moment — on the "-pre" paths its charge before the
  loop, as the inputs' (a static branch: without it the program is the one without timed inputs); with
  delays both through (D2)–(D3) of :mod:`.delays`;
- **fusion marks** (:func:`.fusion.stored`), passed to the model as its ``store``;
- **a batch across the devices** (:func:`.shards.over_batch`): a batched run split into one part per device of the
  process, run side by side (a process with one device, the default, runs it whole);
- **the recomputing gradient** (:func:`.remat.scan_remat`): the backward pass recomputes each step from the
  stored state and takes the spike timing from the forward's states (:func:`_from_forward`) instead of
  recomputing the passage; the matrix paths' forward carries the charge from the end of the step before
  (:func:`_carried_scan`).

Every path gives the numbers of :func:`neurodeploy.sim.reference.simulate` (the oracle), up to float
rounding in the order of summation of (Q1) (tests/test_sim_reference.py).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import model
from ..device.profile import NEURON_QUANTITIES
from .charge import PRECOMPUTE_MAX, dense_charge, dense_matrix, event_capacities, event_charge_fn, event_pre_charge
from .charge import input_charge, inputs_and_spikes, matrix_charge, next_charge, precompute_fits, rec_matrix
from .charge import split_charge, use_matrix
from .compiler import jit
from .delays import delay_taps, delayed_charge, timed_delayed_charge
from .errors import SimError
from .fusion import ones_like_state, stored
from .mismatch import apply_mismatch
from .network import CAPACITANCES, DTYPE, SimNetwork
from .remat import scan_remat
from .shards import over_batch

#: The charge paths (module docstring).
PATHS = ("gather", "matrix", "matrix-pre", "event", "event-pre", "rec-matrix")


class Weights(NamedTuple):
    """The entries' weight currents (A) in each charge path's layout (:mod:`.network`, :mod:`.charge`)."""

    w_slot: tuple                        # [K_g, N] per group: the ELL slots' weights (padding 0)
    w_fan: jax.Array                     # [n_src + 1, F]: every source's fan-out weights (padding 0)
    w_nk: tuple                          # w_slot neuron-major, [N, K_g] per group (many draws at once: .charge)
    dly_index: jax.Array | None = None   # [S] k·n_sources + src: the entry's source, k = ⌊d/dt⌋ steps back
    dly_frac: jax.Array | None = None    # [S] f = d/dt − k ∈ [0, 1]: weight of the step before
    w_dense: jax.Array | None = None     # [n_src, G·N] the entries' weights as a matrix (paths "matrix*")


class Derived(NamedTuple):
    """What one call derives from the network and the mismatch draw: the model's constants and the weights."""

    circuit: model.Circuit
    weights: Weights


def weights(net: SimNetwork, weight, mismatch, dt: float, matrix: bool | str = False) -> Weights:
    """The (mismatched) weight currents ``weight`` [S] in every layout; ``matrix``: also as a dense matrix
    (:func:`.charge.dense_matrix`; "inputs": its input rows only; "split": built as [W_in; W_rec])."""
    w_ext = jnp.concatenate([weight, jnp.zeros((1,), DTYPE)])
    taps = delay_taps(net, mismatch, dt) if net.delay_slots else (None, None)
    return Weights(
        w_slot=tuple(w_ext[se] for se in net.slot_entry), w_fan=w_ext[net.fan_entry],
        w_nk=tuple(w_ext[se.T] for se in net.slot_entry), dly_index=taps[0], dly_frac=taps[1],
        w_dense=dense_matrix(net, weight, inputs_only=matrix == "inputs", split=matrix == "split") if matrix else None,
    )


def derive(net: SimNetwork, mismatch, dt: float, matrix: bool | str = False) -> Derived:
    """The model's :class:`.model.Circuit` and the :class:`Weights` of ``net`` under the draw ``mismatch``."""
    cur, cap, weight = apply_mismatch(net, mismatch)
    return Derived(model.circuit(net.neurons, cur, cap, dt, timed=net.precise_timing, nodes=net.passage_nodes),
                   weights(net, weight, mismatch, dt, matrix))


def choose_path(net: SimNetwork, batch: int, steps: int, event_driven: bool | None) -> str:
    """The charge path of a run (:data:`PATHS`): ``event_driven`` None — "event(-pre)" at batch 1 ("rec-matrix"
    instead of "event-pre" where :func:`.charge.rec_matrix`), else "matrix(-pre)" where
    :func:`.charge.use_matrix` (and no delays), else "gather"; True — "event" (batch 1 only); False — "gather".
    The "-pre" variants and "rec-matrix" where the inputs' charge of the whole run fits
    (:data:`.charge.PRECOMPUTE_MAX`; for "matrix-pre" also small steps, :func:`.charge.precompute_fits`)."""
    if event_driven and batch != 1:
        raise SimError(f"event_driven=True needs batch 1 (got batch {batch}); use jax.vmap over samples or the dense path")
    if event_driven is not None:
        return "event" if event_driven else "gather"
    if batch == 1:
        pre = net.fan_rec and net.groups and not net.delay_slots and steps * len(net.groups) * net.n_neurons <= PRECOMPUTE_MAX
        return ("rec-matrix" if rec_matrix(net) else "event-pre") if pre else "event"
    if use_matrix(net) and not net.delay_slots:
        return "matrix-pre" if precompute_fits(net, steps, batch) else "matrix"
    return "gather"


def _charge(net: SimNetwork, w: Weights, path: str, state: model.SimState, x, dt: float):
    """(Q1) of this step by ``path`` (:mod:`.charge`), the delayed-event history it leaves (or None) and, with
    precise spike timing, the first moment (P1) of :mod:`.model` (else None). ``x``: the bin's input counts (or,
    on the "-pre" paths, their charge), or the pair (that, the inputs' moment) for timestamped inputs; ``dt`` (s)."""
    x, x_late = x if isinstance(x, tuple) else (x, None)
    if net.delay_slots and state.lateness is not None:     # (D2)–(D3) of .delays
        late = state.spikes * state.lateness
        x_part = jnp.zeros_like(x) if x_late is None else x_late
        charge, moment, delayed = timed_delayed_charge(
            net, w.w_slot, w.dly_index, w.dly_frac, jnp.concatenate([x, state.spikes], axis=1),
            jnp.concatenate([x_part, late], axis=1), state.delayed, dt)
        return charge, delayed, moment
    charge, delayed = _charge_q1(net, w, path, state, x)
    if state.lateness is None or net.delay_slots or not net.groups:
        return charge, delayed, None
    return charge, delayed, _moment(net, w, path, state.spikes * state.lateness, x_late)


def _moment(net: SimNetwork, w: Weights, path: str, late, x_late):
    """(P1) by ``path``: the same evaluation as (Q1) on the events weighted by their lateness — the network's
    spikes ``late`` = s·a [B, N] (A·s once weighted) and, for timestamped inputs, ``x_late`` [B, n_inputs] (s·count;
    on the "-pre" paths already their moment's charge [B, G·N], :func:`.charge.input_charge`); None: the inputs
    at the start of the bin (a = 0), the program without them."""
    if path in ("event-pre", "rec-matrix") and x_late is not None:
        return event_pre_charge(net, w, x_late, late)
    if path == "matrix-pre":                       # W_rec (the loop's w_dense) for the spikes
        q = late @ w.w_dense
        return split_charge(net, q if x_late is None else x_late + q)
    if path == "matrix":
        if x_late is None:                         # W_rec: the rows of the network's neurons
            return split_charge(net, late @ w.w_dense[net.n_inputs:])
        return matrix_charge(net, w.w_dense, jnp.concatenate([x_late, late], axis=1))
    x_part = jnp.zeros((late.shape[0], net.n_inputs), DTYPE) if x_late is None else x_late
    events = jnp.concatenate([x_part, late], axis=1)
    w_rec = w.w_dense if path == "rec-matrix" else None
    if path in ("event", "event-pre", "rec-matrix") and (event_capacities(net) or w_rec is not None):
        offset = net.n_inputs if x_late is None else 0
        q = event_charge_fn(net, offset=offset)(events, w.w_slot, w.w_nk, w.w_fan, net.slot_src, net.fan_target, w_rec)
        return [q[:, i] if i in net.groups else None for i in range(4)]
    return dense_charge(net, w.w_slot, net.slot_src, events)


def _charge_q1(net: SimNetwork, w: Weights, path: str, state: model.SimState, x):
    """(Q1) of this step by ``path`` (:mod:`.charge`), and the delayed-event history it leaves (or None)."""
    if path in ("event-pre", "rec-matrix"):    # x: this step's input charge (.charge.input_charge)
        return event_pre_charge(net, w, x, state.spikes), None
    if path == "matrix-pre":
        return split_charge(net, next_charge(w.w_dense, x, state.spikes, pre=True)), None
    events = jnp.concatenate([x, state.spikes], axis=1)
    if net.delay_slots:
        return delayed_charge(net, w.w_slot, w.dly_index, w.dly_frac, events, state.delayed)
    if not net.groups:
        return [None] * 4, None
    if path == "matrix":
        return split_charge(net, inputs_and_spikes(x, state.spikes, w.w_dense)), None
    if path == "event" and event_capacities(net):
        q = event_charge_fn(net)(events, w.w_slot, w.w_nk, w.w_fan, net.slot_src, net.fan_target)
        return [q[:, i] if i in net.groups else None for i in range(4)], None
    return dense_charge(net, w.w_slot, net.slot_src, events), None


def _from_forward(hint: model.SimState):
    """A ``timing`` for :func:`.model.step` that reads the spike, the reset current and the refractory time
    from ``hint``, the state this step produced in the forward pass (the recomputing gradient): the passage
    and the crossing time carry no gradient, so the values and gradients are those of
    :func:`.model.spike_timing` (~25 % less work per backward step). The refractory time keeps its gradient
    through t_ref and h: ``rest = (t_ref − h) + [forward's rest − (t_ref − h)]`` (bracket not differentiated)."""
    sg = lax.stop_gradient

    def timing(c: model.Circuit, m: model.Membrane, store):
        rest = jnp.where(hint.t_refr > -c.dt, (c.t_ref - m.h) + sg(hint.t_refr - (c.t_ref - m.h)), -c.dt)
        late = hint.lateness if hint.lateness is not None else jnp.zeros_like(rest)
        return hint.spikes, hint.I_mem, rest, late
    return timing


def _step(d: Derived, record: tuple, charge, delayed, state: model.SimState, hint=None, late=None):
    """:func:`.model.step` with the fusion marks (:mod:`.fusion`) and, in the gradient's recomputation, the
    forward's spike timing (``hint``, :func:`_from_forward`); ``late``: the first moment (P1) of
    :mod:`.model` (precise spike timing); returns (new state, (spikes, records))."""
    store = partial(stored, one=ones_like_state(state.t_refr))
    timing = model.spike_timing if hint is None else _from_forward(hint)
    new = model.step(d.circuit, state, charge, late=late, store=store, timing=timing)._replace(delayed=delayed)
    rec = {k: getattr(new, k) for k in record} if record else None
    return new, (new.spikes, rec)


def _step_of(net, record, path, carried: bool = False):
    """The step as a function of (consts, carry, x[, hint]); the index arrays it uses travel in consts (a
    custom-VJP function may not close over traced arrays). ``path``: the synaptic charge's
    (:data:`PATHS`; True/False: event/gather). ``hint``: see :func:`_step`.

    ``carried`` (matrix paths, forward only, :func:`_carried_scan`): the carry is (state, Q), Q this step's
    charge [B, G·N], computed at the end of the step before from ``x`` — the *next* bin's inputs — and the
    new spikes (:func:`.charge.next_charge`)."""
    path = {True: "event", False: "gather"}.get(path, path)

    def step(consts, carry, x, hint=None):
        d, slot_src, fan_target = consts[:3]
        more = dict(slot_entry=consts[3]) if net.delay_slots else {}
        n = net.replace(slot_src=slot_src, fan_target=fan_target, **more)
        if carried:     # (never with precise timing: no moment)
            state, q = carry
            new, out = _step(d, record, split_charge(n, q), None, state)
            return (new, next_charge(d.weights.w_dense, x, new.spikes, pre=path == "matrix-pre")), out
        charge, delayed, late = _charge(n, d.weights, path, carry, x, d.circuit.dt)
        return _step(d, record, charge, delayed, carry, hint, late)
    return step


def _carried_scan(net, record, path):
    """The forward pass of the matrix paths with the charge carried (:func:`_step_of`): the same numbers as
    the plain scan, 8 % faster at N = 256, batch 32 (interleaved A/B, minimum of 15 calls: 319 → 293 µs
    per step). Used only where nothing is differentiated (:func:`.remat.scan_remat`'s ``plain``): under a
    gradient the carried charge made the N = 64 batch-32 training step slower (103 → 108-137 ms, also with
    a hand-written VJP of the product)."""
    step = _step_of(net, record, path, carried=True)

    def scan(consts, state, xs):
        q0 = next_charge(consts[0].weights.w_dense, xs[0], state.spikes, pre=path == "matrix-pre")
        nxt = jnp.concatenate([xs[1:], jnp.zeros_like(xs[:1])])
        (final, _), outs = lax.scan(partial(step, consts), (state, q0), nxt)
        return final, outs
    return scan


def _prefetched_scan(net, record, path):
    """The forward pass of the batch-1 "-pre" paths with the step's input charge prefetched into the carry: the
    same numbers as the plain scan. Read as the scan's slice ``xs[t]``, the input charge entered the step's first
    elementwise loop through a dynamic index that the compiled loop reloads for every element (it may alias the
    loop's output), which keeps that loop from being vectorised; from the carry it is a plain buffer, and the
    slice ``xs[t + 1]`` is a copy of its own. Used only where nothing is differentiated (as :func:`_carried_scan`)."""
    step = _step_of(net, record, path)

    def scan(consts, state, xs):
        last = jax.tree_util.tree_leaves(xs)[0].shape[0] - 1

        def body(carry, t):
            st, x = carry
            new, out = step(consts, st, x)
            at = jnp.minimum(t + 1, last)
            return (new, jax.tree_util.tree_map(lambda a: lax.dynamic_index_in_dim(a, at, keepdims=False), xs)), out
        x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
        (final, _), outs = lax.scan(body, (state, x0), jnp.arange(last + 1))
        return final, outs
    return scan


def _run(net: SimNetwork, inputs, mismatch, state: model.SimState, record: tuple, dt: float, path: str, lateness=None):
    """Run ``net`` on ``inputs`` [B, T, n_inputs] by ``path`` → (spikes [B, T, N], final state, records).
    ``lateness`` [B, T, n_inputs] (precise spike timing): the inputs' first moment in lateness (s·count,
    :mod:`.timed_inputs`); None: the inputs at the start of their bins (a program without it)."""
    matrix = {"matrix": True, "matrix-pre": True, "rec-matrix": "split", "event-pre": "inputs"}.get(path, False)
    d = derive(net, mismatch, dt, matrix=matrix)
    xs = jnp.swapaxes(inputs, 0, 1)  # [T, B, n_in]
    xl = None if lateness is None else jnp.swapaxes(lateness, 0, 1)
    fan_target, w = net.fan_target, d.weights
    if path in ("matrix-pre", "event-pre", "rec-matrix"):     # the inputs' charge of every step at once
        xs = input_charge(net, w.w_dense, xs)
        xl = None if xl is None else input_charge(net, w.w_dense, xl)          # and its moment (P1)
        w = w._replace(w_dense=w.w_dense[net.n_inputs:] if path != "event-pre" else None)   # the loop's W_rec
    if path in ("event-pre", "rec-matrix"):     # the loop scatters only the neurons' (narrower) fan-outs
        w, fan_target = w._replace(w_fan=w.w_fan[:, :net.fan_rec]), fan_target[:, :net.fan_rec]
    consts = (d._replace(weights=w), net.slot_src, fan_target) + ((net.slot_entry,) if net.delay_slots else ())
    carry = path in ("matrix", "matrix-pre") and not net.precise_timing
    plain = _carried_scan(net, record, path) if carry else None
    if path in ("event-pre", "rec-matrix"):
        plain = _prefetched_scan(net, record, path)
    xs = xs if xl is None else (xs, xl)
    final, (spikes, rec) = scan_remat(_step_of(net, record, path), consts, state, xs, plain=plain)
    spikes = jnp.swapaxes(spikes, 0, 1)
    if record:
        rec = {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
    return spikes, final, rec


def _run_shards(net: SimNetwork, inputs, mismatch, state: model.SimState, record: tuple, dt: float, path: str,
                lateness=None):
    """:func:`_run` with the batch split across the process's devices (:func:`.shards.over_batch`; one device, or
    batch 1: :func:`_run` itself)."""
    def one(n, x, m, s, late):
        return _run(n, x, m, s, record, dt, path, late)
    batched = (False, True, False, True, lateness is not None)
    return over_batch(one, jnp.shape(inputs)[0], net.n_neurons, batched)(net, inputs, mismatch, state, lateness)


@lru_cache(maxsize=16)
def nominal(n: int, s: int, delays: bool = False) -> dict:
    """The identity draw for n neurons and s entries, cached host arrays that ``simulate`` passes through an
    optimisation barrier (as constants in a caller's jit, the ones let XLA turn gradients w.r.t. trained
    currents into NaN)."""
    one = np.ones(n, np.float32)
    out = {"currents": {q: one for q in NEURON_QUANTITIES}, "capacitances": {c: one for c in CAPACITANCES},
           "weight": np.ones(s, np.float32)}
    if delays:
        out["delay"] = np.ones(s, np.float32)
    return out


def run(net: SimNetwork, x, mismatch, state: model.SimState, record: tuple, dt: float, path: str, lateness=None):
    """:func:`_run` with the nominal chip (``mismatch=None``) run as the identity draw, so that nominal and
    mismatched calls share one compilation."""
    if mismatch is None:
        mismatch = lax.optimization_barrier(nominal(net.n_neurons, net.n_synapses, *((True,) if net.delay_slots else ())))
    args = (net, x, mismatch, state)
    leaves = jax.tree_util.tree_leaves((args, lateness, jnp.zeros(())))      # under a jit even a new array is traced
    traced = any(isinstance(a, jax.core.Tracer) for a in leaves)
    program = _run_nested if traced else _run_top1 if jnp.shape(x)[0] == 1 else _run_top
    return program(*args, record=record, dt=dt, path=path, lateness=lateness)


#: :func:`_run` compiled on its own, with the simulator's XLA options (:mod:`.compiler`; at batch 1 with one core's
#: schedule), and as part of a caller's traced program (under its ``jax.jit``, ``jax.vmap``, ``jax.grad``), whose
#: compilation takes the caller's options (JAX accepts compile options on a top-level jit only)
_run_top = jit(_run_shards, static_argnames=("record", "dt", "path"))
_run_top1 = jit(_run, batch=1, static_argnames=("record", "dt", "path"))
_run_nested = jax.jit(_run_shards, static_argnames=("record", "dt", "path"))
