"""Run a :class:`~neurodeploy.sim.network.SimNetwork`: ``simulate(net, inputs, mismatch, state, record)``.

Time is binned in steps of ``dt`` (s): ``dt`` argument, else ``net.dt`` (a network's ``dt``). Inputs are
event counts per bin [batch, T, n_inputs] (or [T, n_inputs]). Every step is the model's
(:func:`.model.step`, the equations of :mod:`.dpi`):

1. **Events.** The source vector is [input counts of this bin; the network's spikes of the previous
   bin] — a recurrent spike reaches its targets one step after it was emitted; with precise spike timing
   (``net.precise_timing``) as if at its spike time inside that bin (eqs. (P1)–(P4) of :mod:`.model`). Every synapse entry
   adds ``count·I_w`` to its (neuron, dendrite) charge (eq. (Q1) of :mod:`.charge`); each dendrite's DPI
   then jumps by charge·(I_gain/I_tau)·(1 − exp(−t_pulse/τ)) (closed-form pulse, eq. (4) of :mod:`.dpi`).
2. **Synapses and AHP** decay exactly over the bin towards I_0 (eq. (2)); the membrane sees their
   exact mean over the bin. Each synapse keeps its own current ≥ I_0, so a GABA current that arrives
   after excitation keeps subtracting while it decays.
3. **Membrane.** Input ``I_in = max(I_ampa + g·I_nmda − I_gaba + I_dc, I_0)`` (A; g the NMDA gate, 1 when
   the gate latch is off; I_dc only where the DC latch is on; the clip has the leaky surrogate
   derivative of :func:`.surrogate.floor`, so an inhibited neuron still gets gradients), leak factor
   ``L = 1 + (I_ahp + I_shunt)/I_tau_mem``; one exponential-Rosenbrock step of eq. (7) over the part of
   the bin outside the refractory period (:func:`.dpi.membrane_step`).
4. **Spike** when I_mem reaches I_spkthr (never for killed neurons), at most one per neuron and bin;
   the spike time inside the bin is computed (through the feedback's passage region, see
   :mod:`.dpi`), I_mem is reset to I_0 and the refractory period t_ref counted from it, so time
   spent refractory carries into the next bin exactly (rates do not depend on where a bin boundary
   falls; a neuron fires at most once per bin, so rates are capped at 1/dt as well as 1/t_ref).
   Spikes drive the neuron's AHP (if its latch is on) at the end of the bin.

**Synaptic delays** (a network built with ``delay``, see :mod:`.delays`): each entry's events arrive
d later, linearly interpolated between whole steps (with precise spike timing: at their times plus d,
(D2)–(D3)); the step keeps the last D source-event vectors (``SimState.delayed``). A network without delays runs the delay-free step (a static branch).

The engine (:mod:`.engine`) runs the step: it chooses how the synaptic charge is summed
(:func:`.engine.choose_path`: event-driven at batch 1, a matrix product or the ELL gather for batches, see
:mod:`.charge`), stores the step's shared intermediates once for XLA (:mod:`.fusion`) and takes the
gradient by recomputation (:mod:`.remat`). Every path gives the numbers of the plain reference loop
(:mod:`.reference`) up to float rounding in the order of summation.

Gradients flow through the surrogate derivative of :mod:`.surrogate` and through the refractory period
(t_ref shortens the next bin's integration time); the reset and the crossing time inside a bin are
not differentiated (the usual "detached reset"). Gradient memory is ∝ T × state (the backward pass
recomputes each step from the stored state).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .engine import choose_path, run
from .errors import SimError
from .model import RECORDED, RECORDED_TIMING, SimState, initial_state  # noqa: F401  (public names of this module)
from .network import DTYPE, SimNetwork


def _record_names(record, precise_timing: bool = False) -> tuple:
    """``record`` as a tuple of names of :data:`RECORDED` (True → all of them, False/None → none) and, for a
    network with ``precise_timing``, :data:`RECORDED_TIMING` (by name only)."""
    if record is True:
        return RECORDED
    if record is False or record is None:
        return ()
    names = (record,) if isinstance(record, str) else tuple(record)
    unknown = [k for k in names if k not in RECORDED + RECORDED_TIMING]
    if unknown:
        raise SimError(f"record: unknown state variable(s) {', '.join(map(repr, unknown))} "
                       f"(known: {', '.join(RECORDED + RECORDED_TIMING)}; or True for all of {', '.join(RECORDED)})")
    timing = [k for k in names if k in RECORDED_TIMING]
    if timing and not precise_timing:
        raise SimError(f"record: {', '.join(map(repr, timing))} (each spike's time inside its bin) needs a network with "
                       f"precise_timing=True (build it with precise_timing=True, or drop {', '.join(map(repr, timing))} "
                       f"from record)")
    return tuple(dict.fromkeys(names))


def _input_lateness(net: SimNetwork, lateness, shape: tuple):
    """``input_lateness`` checked against the network and the inputs' ``shape`` (as float32), or None."""
    if lateness is None:
        return None
    if not net.precise_timing:
        raise SimError("input_lateness: needs a network with precise_timing=True (build it with precise_timing=True, "
                       "or pass input_lateness=None: events at the start of their bins)")
    lateness = jnp.asarray(lateness)
    if tuple(lateness.shape) != tuple(shape):
        raise SimError(f"input_lateness: expected the shape of inputs, {tuple(shape)}, got {tuple(lateness.shape)}")
    return lateness.astype(DTYPE)


def simulate(net: SimNetwork, inputs, mismatch=None, state: SimState | None = None, record=False,
             dt: float | None = None, event_driven: bool | None = None, input_lateness=None):
    """Simulate ``net`` on ``inputs`` (event counts per bin, [batch, T, n_inputs] or [T, n_inputs]).

    ``mismatch``: a draw of :func:`neurodeploy.sim.sample_mismatch` (None: the nominal chip, run as
    the identity draw :func:`~neurodeploy.sim.no_mismatch`, so nominal and mismatched calls share one
    compilation). ``state``: a :class:`SimState` to continue from (None: at rest). ``dt``: step (s),
    default ``net.dt``. Returns ``(spikes, final_state, records)``: spikes [batch, T, N] (0/1,
    float32), the state after the last step (pass it back to continue), and the recorded state
    variables at the end of every step, a dict name → [batch, T, N] (A), else None. ``record``: True
    for all of :data:`RECORDED`, a name or a tuple of names (e.g. ``("I_ampa",)``: only those, which
    is cheaper — for a loss on a synaptic current), False for none. With ``net.precise_timing`` also
    ``"lateness"`` (:data:`RECORDED_TIMING`, by name only): each step's spike lateness a = dt − t_s (s, 0 where no
    spike), so a spike of bin t is at t_s = (t + 1)·dt − a from the run's start; recording it does not change the
    spikes, and a run that does not ask for it compiles the program it did before. Unbatched inputs give unbatched
    outputs ([T, N], state [N]). Jit-compiled (one compilation per shape, ``dt``, recorded names and
    path); ``jax.vmap`` over mismatch draws evaluates many chips at once.

    ``event_driven``: synapses of the sources that fired only (default: yes for batch 1, where it is
    several times faster, with the inputs' charge computed before the loop; for larger batches the
    matrix product or the gather, see :mod:`.charge`); True: the plain event-driven path (inputs in the
    loop too); False: the ELL gather always. Same result every way, up to float rounding in the order
    of summation.

    ``input_lateness`` (networks with ``precise_timing`` only): timestamped inputs, the first moment of each
    bin's input events in their lateness, Σ over the events a = t·dt − t_event (s·count, the shape of ``inputs``;
    :func:`neurodeploy.sim.timed_inputs.bin_events` makes both arrays from event times): the events of step t
    act as if they had arrived at their times inside bin t − 1 ((P1)–(P3) of :mod:`.model`). None: every
    input event at the start of its bin (a = 0).
    """
    dt = float(net.dt if dt is None else dt)
    if not dt > 0:
        raise SimError(f"dt: must be a positive time in seconds, got {dt}")
    names = _record_names(record, net.precise_timing)
    inputs = jnp.asarray(inputs)
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != net.n_inputs:
        raise SimError(f"inputs: expected shape [T, {net.n_inputs}] or [batch, T, {net.n_inputs}] (event counts per bin), "
                       f"got {tuple(inputs.shape)}")
    unbatched = inputs.ndim == 2
    x = inputs[None] if unbatched else inputs
    x = x.astype(DTYPE)
    x_late = _input_lateness(net, input_lateness, inputs.shape)
    x_late = x_late if x_late is None or not unbatched else x_late[None]
    path = choose_path(net, x.shape[0], x.shape[1], event_driven)
    if state is None:
        state = initial_state(net, x.shape[0])
    elif unbatched:
        state = jax.tree_util.tree_map(lambda a: a[None], state)
    if bool(net.delay_slots) != (state.delayed is not None) or (
            net.delay_slots and state.delayed.shape[-2:] != (net.delay_slots, net.n_sources * (1 + net.precise_timing))):
        raise SimError("state: its delayed-event history does not fit the network's delays (use one it produced)")
    if net.precise_timing != (state.lateness is not None):
        raise SimError(f"state: {'no' if state.lateness is None else 'a'} spike lateness, but the network has precise_timing="
                       f"{net.precise_timing} (use a state this network produced, or initial_state(net))")
    spikes, final, rec = run(net, x, mismatch, state, record=names, dt=dt, path=path, lateness=x_late)
    if unbatched:
        spikes = spikes[0]
        final = jax.tree_util.tree_map(lambda a: a[0], final)
        rec = None if rec is None else {k: v[0] for k, v in rec.items()}
    return spikes, final, rec


def simulate_draws(net: SimNetwork, inputs, draws, dt: float | None = None, input_lateness=None, neurons=None,
                   record=False):
    """The spikes of ``net`` on every chip of a stack of mismatch draws (:func:`neurodeploy.sim.sample_mismatch_stack`,
    leading axis D), [D, batch, T, N] — or only the ``neurons`` (an index array) of each, [D, batch, T, len(neurons)]
    — in one compiled program per shapes; the draws split across the process's devices where a part is large enough
    (:func:`neurodeploy.sim.shards.over_draws`). ``inputs`` [batch, T, n_inputs]; ``dt`` and ``input_lateness`` as
    in :func:`simulate`. Each chip's spikes are those of ``simulate(net, inputs, draw)``. ``record`` (names, as in
    :func:`simulate`; e.g. ``"lateness"``): then ``(spikes, records)``, each record [D, batch, T, N] (or its
    ``neurons``)."""
    dt = float(net.dt if dt is None else dt)
    names = _record_names(record, net.precise_timing)
    late = None if input_lateness is None else jnp.asarray(input_lateness)
    idx = None if neurons is None else jnp.asarray(neurons)
    out = _draws_program()(net, jnp.asarray(inputs), draws, idx, late, dt=dt, record=names)
    return out if names else out[0]


@functools.cache
def _draws_program():
    """:func:`simulate_draws`'s compiled program (one jitted function, so that every call traces and compiles it once
    per shapes and recorded names)."""
    from .compiler import jit
    from .shards import over_draws

    def program(net, x, draws, idx, late, dt, record):
        def one(m, nn, xx, ii, ll):
            s, _, rec = simulate(nn, xx, m, dt=dt, input_lateness=ll, record=record)
            pick = (lambda a: a) if ii is None else (lambda a: a[..., ii])
            return pick(s), {k: pick(v) for k, v in (rec or {}).items()}
        n = len(jax.tree_util.tree_leaves(draws)[0])
        return over_draws(one, n, x.shape[0] * net.n_neurons)(draws, net, x, idx, late)
    return jit(program, static_argnames=("dt", "record"))
