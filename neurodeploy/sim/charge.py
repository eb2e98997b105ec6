"""Synaptic charge of one step: Σ over entries of count(src)·I_w, per (neuron, dendrite) (A).

For a step's source events e [B, n_src] (input counts of the bin; the network's spikes of the last
bin) and the entries k (source s_k, neuron n_k, dendrite d_k, weight current I_w,k), the charge is

    Q[b, d, n] = Σ_{k: d_k = d, n_k = n} e[b, s_k] · I_w,k                                    (Q1)

(in A; the model, :func:`.model.step`, multiplies it by each dendrite's charge per unit weight, eq. (4) of
:mod:`.dpi`). The engine (:mod:`.engine`) chooses the evaluation per call (:func:`.engine.choose_path`).
Five evaluations of (Q1), the same sum up to float rounding in its order (``path``):

- ``"gather"`` (:func:`dense_charge`, the ELL layout of :mod:`.network`): gather the events of every
  slot [B, K, N] and contract with the slot weights — cost ∝ B·K·N, whatever fired;
- ``"matrix"`` (:func:`matrix_charge`): the entries summed once per call into a dense matrix
  W [n_src, G·N] (G dendrites in use; W[s, g·N + n] = Σ of I_w over the entries s → (n, g)), then one
  matrix product e·W per step. Its gradient is two more matrix products (eᵀ·∂Q for W, ∂Q·Wᵀ for e)
  instead of a gather's transposes and scatter-adds, which are slow on CPU: the batched and training
  path of small and dense networks (:func:`use_matrix`);
- ``"matrix-pre"`` (:func:`input_charge` + :func:`next_charge`): the same matrix, split. The inputs'
  part of every step, x[t]·W_in, is one matrix product over all steps before the time loop (the inputs
  are known in advance), and the loop multiplies only the last bin's spikes by W_rec: a smaller product
  per step, and in the gradient no per-step products for the inputs (their weight gradient is one
  product after the loop). It holds [T, B, G·N] floats, so it is used up to :data:`PRECOMPUTE_MAX`, and
  only for small steps (B·G·N ≤ :data:`PRECOMPUTE_STEP`), where a step's cost is the number of operations,
  not their size: measured (minimum of 9 calls), the frozen-noise training step (B·G·N = 8)
  5.1 → 4.1 ms, but N = 64 batch-32 training (4096) 112 → 116 ms and the N = 256 batch-32 forward (16384)
  335 → 354 µs per step (streaming the precomputed charge costs more than the smaller product saves);
- both matrix paths, forward only: the charge is computed at the end of the step before and
  carried (:func:`next_charge`; ``engine._carried_scan``), 8 % faster at N = 256, batch 32; the
  gradient's steps compute it at their start as above;
- ``"event-pre"`` (batch 1, :func:`event_pre_charge`): the inputs' charge before the loop as in
  ``"matrix-pre"`` (from the input rows of :func:`dense_matrix`), the event-driven scatter for the network's spikes only —
  whose fan-outs (``SimNetwork.fan_rec``) are far narrower than the inputs' (one input feeds ~N·16/60
  neurons in the bench network, a neuron 48);
- ``"rec-matrix"`` (batch 1, :func:`event_pre_charge` with W_rec): as ``"event-pre"``, but the loop multiplies
  the spikes by W_rec, the neurons' rows of :func:`dense_matrix`, where :func:`rec_matrix`; under ``jax.vmap``
  over mismatch draws the scatter of ``"event-pre"``;
- ``"event"`` (:func:`event_charge_fn`, :func:`scatter_fired`, batch 1): compact the sources that fired (a few % of them)
  and scatter-add their fan-out weights — cost ∝ the capacity of the branch taken
  (:func:`event_capacities`); beyond the largest, every source that fired in chunks of it (the dense gather
  in small networks). Its VJP is the gather's. Under
  ``jax.vmap`` (many mismatch draws; a vmapped ``cond`` would run every branch) the sources fired in all
  draws are compacted together and the branch is chosen by their total (:func:`draws_event_charge`, for
  "event-pre"; 32 draws of N = 256: 15.3 → 9.9 ms per draw, minimum of 5 calls, interleaved A/B),
  else the gather (:func:`draws_charge`). The compaction is :func:`compact` (``nonzero``'s result, faster).

Measured (CPU time per step of (Q1) alone, N = 256, batch 32, 3 % of sources firing): gather 490 µs
forward / 3480 µs forward + VJP; matrix 220 / 676 µs; a batched event-driven scatter 736 / 2880 µs (XLA's
CPU scatter costs ~20 ns per element), so batches use the matrix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.custom_batching import custom_vmap

from .network import DTYPE, SimNetwork

#: Event-driven path (batch 1): capacities (sources that fired in a step) of its branches; the step
#: takes the smallest that fits, and beyond the largest scatters every source that fired in chunks of it
#: (:data:`CHUNKED_MIN`; the dense gather where the largest is smaller). Only capacities ≤ n_sources/4 are used.
EVENT_CAPACITIES = (16, 32, 64, 128)
#: The smallest largest capacity whose chunks replace the dense gather beyond it (:func:`event_charge_fn`).
CHUNKED_MIN = 64
#: Vmapped draws (:func:`draws_event_charge`): capacities per draw of the sources fired in a step, over all
#: draws together; the gather over every slot beyond.
DRAWS_CAPACITIES = (8, 32, 128)
#: The matrix path is used while the dense matrix has at most this many columns per ELL slot of a
#: neuron (n_src·G ≤ MATRIX_RATIO·ΣK_g) and at most :data:`MATRIX_MAX` elements.
MATRIX_RATIO = 16
MATRIX_MAX = 1 << 24
#: Largest W_rec [N, G·N] (elements) that a batch-1 step multiplies the spikes by (:func:`rec_matrix`).
REC_MATRIX_MAX = 1 << 18
#: Largest input charge [T, B, G·N] (floats) that the ``"matrix-pre"`` path computes before the loop (128 MB).
PRECOMPUTE_MAX = 1 << 25
#: ... and only while a step's charge B·G·N has at most this many elements.
PRECOMPUTE_STEP = 2048


def dense_charge(net: SimNetwork, w_slot, slot_src, events) -> list:
    """(Q1) by the ELL gather: four [B, N] arrays (A), None for unused dendrites."""
    b = events.shape[0]
    ext = jnp.concatenate([events, jnp.zeros((b, 1), events.dtype)], axis=1)
    out = [None] * 4
    for g, dend in enumerate(net.groups):
        k = w_slot[g].shape[0]
        v = jnp.take(ext, slot_src[g], axis=1, mode="clip").reshape(b, k, net.n_neurons)
        # a contraction over the slot axis (major). A plain multiply-reduce is as fast for one chip, but
        # under jax.vmap over mismatch draws it was 2.4-4.6x slower than this dot (verify's and the
        # emulator's many-boards path): measured A/B, N=128, 8 draws, batch 8 and 1
        out[dend] = jnp.einsum("bkn,kn->bn", v, w_slot[g])
    return out


def draws_charge(net: SimNetwork, events, w_nk, w_batched, slot_src):
    """(Q1) by the ELL gather for D chips at once (``jax.vmap`` over mismatch draws): events [D, B, n_src],
    ``w_nk`` per group the slot weights neuron-major [D, N, K] (or [N, K] where ``w_batched`` is False) →
    [D, B, 4, N]. The events are gathered neuron-major too, so the batched dot over (draw, neuron) needs no
    copy into its layout: :func:`dense_charge` under vmap transposed the [D, K, N] weights and the gathered
    events every step (~60 % of the time of 32 draws of N = 256 in a jax.profiler trace; 15.0 → ~11 ms per
    draw)."""
    dd, b = events.shape[:2]
    ext = jnp.concatenate([events, jnp.zeros((dd, b, 1), events.dtype)], axis=2)
    out = [None] * 4
    for g, dend in enumerate(net.groups):
        w = w_nk[g] if w_batched[g] else jnp.broadcast_to(w_nk[g], (dd,) + w_nk[g].shape)
        k = w.shape[-1]
        idx = slot_src[g].reshape(k, net.n_neurons).T.reshape(-1)          # neuron-major: slots minor
        v = jnp.take(ext, idx, axis=2, mode="clip").reshape(dd, b, net.n_neurons, k)
        out[dend] = jnp.einsum("dbnk,dnk->dbn", v, w)
    zero = jnp.zeros((dd, b, net.n_neurons), DTYPE)
    return jnp.stack([zero if p is None else p for p in out], axis=2)


def _running_count(m, width: int):
    """The inclusive running sum of the 0/1 float vector ``m``: a product with a triangular matrix of ones per row of
    ``width`` entries, plus the rows' offsets — their own running sum, the same way in rows of 128 where there are
    more than 128 rows, else a cumulative sum (exact: integer sums of 0/1 in float32)."""
    size = m.shape[0]
    width = min(width, size)
    rows = -(-size // width)
    count = jnp.pad(m, (0, rows * width - size)).reshape(rows, width) @ jnp.triu(jnp.ones((width, width), DTYPE))
    total = count[:, -1]
    before = (_running_count(total, 128) if rows > 128 else jnp.cumsum(total)) - total
    return (count + before[:, None]).reshape(-1)[:size]


def compact(mask, cap: int):
    """The indices of the first ``cap`` true entries of the 1-D boolean ``mask``, in order, padded with
    ``mask.size`` — ``jnp.nonzero(mask, size=cap, fill_value=mask.size)[0]``, exactly, but faster on CPU: each
    true entry is scattered to its rank, the running count of :func:`_running_count` (ranks ≥ cap dropped), instead of
    ``nonzero``'s cumulative sum. Rows of 8 entries, then of 128 (one row of 128: ~2.5× faster than ``nonzero`` at
    8192 entries, 59.6 against 157.7 µs; rows of 8 a further 32.3 → 18.8 µs at 8192 and 4.6 → 3.2 µs at 1024, in a
    500-step loop, minimum of 9 interleaved calls): a product of [size/8, 8] by [8, 8] costs 16× fewer operations
    than [size/128, 128] by [128, 128]."""
    size = mask.shape[0]
    rank = _running_count(mask.astype(DTYPE), 8).astype(jnp.int32) - 1
    pos = jnp.where(mask, rank, cap)
    return jnp.full((cap,), size, jnp.int32).at[pos].set(jnp.arange(size, dtype=jnp.int32), mode="drop")


def draws_event_charge(net: SimNetwork, events, w_fan, w_batched: bool, fan_target, offset: int, dense):
    """(Q1) for D chips at once (``jax.vmap`` over mismatch draws, batch 1, path "event-pre"), event-driven:
    the sources ≥ ``offset`` that fired in any draw are compacted together ([D·n] flattened, d·n + j), and
    their fan-outs scatter-added into [D, 4N] — cost ∝ the capacity of the branch taken (the smallest of
    :data:`DRAWS_CAPACITIES` × D that holds the step's total count, chosen by a ``lax.switch`` on that one
    scalar), ``dense()`` (the gather over every slot, :func:`draws_charge`) when more fired. events
    [D, 1, n_src], ``w_fan`` [D, n_src + 1, F] (or unbatched), ``fan_target`` [n_src + 1, F] → [D, 1, 4, N]."""
    dd, n = events.shape[0], net.n_neurons
    ev = events[:, 0, offset:]
    n_rec = ev.shape[1]
    fired = (ev > 0).reshape(-1)
    caps = tuple(c * dd for c in DRAWS_CAPACITIES if 4 * c <= n_rec)

    def sparse(cap):
        def branch(_):
            flat = compact(fired, cap)
            valid = flat < dd * n_rec
            d, j = jnp.minimum(lax.div(flat, n_rec), dd - 1), lax.rem(flat, n_rec)     # flat ≥ 0: no sign handling
            vals = jnp.where(valid, ev[d, j], 0.0)
            w = w_fan[d, j + offset] if w_batched else w_fan[j + offset]            # [cap, F]
            target = d[:, None] * (4 * n + 1) + fan_target[j + offset]
            acc = jnp.zeros((dd * (4 * n + 1),), DTYPE).at[target.reshape(-1)].add((vals[:, None] * w).reshape(-1))
            return acc.reshape(dd, 4 * n + 1)[:, :4 * n].reshape(dd, 1, 4, n)
        return branch

    return by_count(jnp.sum(fired), caps, sparse, lambda _: dense())


def by_count(count, caps: tuple, sparse, dense):
    """The event paths' branch: ``sparse(cap)(None)`` for the smallest of ``caps`` ≥ ``count`` (a scalar, not
    vmapped: one branch runs), ``dense(None)`` beyond them."""
    which = sum((count > c).astype(jnp.int32) for c in caps)
    return lax.switch(which, [sparse(c) for c in caps] + [dense], None)


def stack4(net: SimNetwork, parts: list, b: int):
    """Four per-dendrite [B, N] arrays (None: zero) → [B, 4, N]."""
    zero = jnp.zeros((b, net.n_neurons), DTYPE)
    return jnp.stack([zero if p is None else p for p in parts], axis=1)


def event_capacities(net: SimNetwork) -> tuple:
    """The event-driven branches used for ``net`` (empty: always the dense gather)."""
    return tuple(c for c in EVENT_CAPACITIES if 4 * c <= net.n_sources)


def use_matrix(net: SimNetwork) -> bool:
    """Whether the matrix path suits ``net``: small or dense enough that e·W costs less than the gather."""
    slots = sum(int(se.shape[0]) for se in net.slot_entry)
    cols = len(net.groups) * net.n_neurons
    return bool(net.groups) and net.n_sources * len(net.groups) <= MATRIX_RATIO * slots and net.n_sources * cols <= MATRIX_MAX


def dense_matrix(net: SimNetwork, weight, inputs_only: bool = False, split: bool = False):
    """W [n_src, G·N] (A): every entry's (mismatched) weight current summed at (source, group·N + neuron);
    ``inputs_only``: its rows of the input channels alone, W_in [n_inputs, G·N]; ``split``: W built as
    [W_in; W_rec] from two sums, so that a program which reads only W_in (``jax.vmap`` of ``"rec-matrix"``,
    :func:`rec_matrix`) drops the sum of W_rec."""
    group = np.full(4, 0, np.int32)
    group[list(net.groups)] = np.arange(len(net.groups), dtype=np.int32)
    col = jnp.asarray(group)[net.dendrite] * net.n_neurons + net.dst
    if split:
        w_rec = jnp.zeros((net.n_neurons + 1, len(net.groups) * net.n_neurons), DTYPE)
        row = jnp.where(net.src >= net.n_inputs, net.src - net.n_inputs, net.n_neurons)   # inputs: a dropped row
        return jnp.concatenate([dense_matrix(net, weight, inputs_only=True), w_rec.at[row, col].add(weight)[:-1]])
    rows = net.n_inputs if inputs_only else net.n_sources
    row = jnp.where(net.src < rows, net.src, rows)                # sources beyond ``rows``: a dropped row
    return jnp.zeros((rows + 1, len(net.groups) * net.n_neurons), DTYPE).at[row, col].add(weight)[:rows]


def matrix_charge(net: SimNetwork, w_dense, events) -> list:
    """(Q1) as one matrix product: four [B, N] arrays (A), None for unused dendrites."""
    return split_charge(net, events @ w_dense)


@jax.custom_vjp
def inputs_and_spikes(x, s, w):
    """[x, s]·W (one product; x [B, n_in], s [B, N], W [n_in + N, G·N]) whose cotangent for x is computed only where
    x is differentiated: a training step needs ∂/∂s = ∂Q·W_recᵀ, not the full ∂Q·Wᵀ (the bench's N = 64 batch-32
    training step, 60 inputs: that product 23 → 17 µs per step in a profile, the step 76.5 → 74.1 ms, interleaved
    A/B, median of 11). Values and gradients are those of the plain product, bit for bit."""
    return jnp.concatenate([x, s], axis=1) @ w


def _ias_fwd(x, s, w):
    x_p = x.perturbed
    x, s, w = x.value, s.value, w.value
    return jnp.concatenate([x, s], axis=1) @ w, (x, s, w, x_p)


def _ias_bwd(res, g):
    x, s, w, x_p = res
    n_in = x.shape[1]
    dx = g @ w[:n_in].T if x_p else jnp.zeros_like(x)
    return dx, g @ w[n_in:].T, jnp.concatenate([x, s], axis=1).T @ g


inputs_and_spikes.defvjp(_ias_fwd, _ias_bwd, symbolic_zeros=True)


def precompute_fits(net: SimNetwork, steps: int, batch: int) -> bool:
    """Whether the ``"matrix-pre"`` path suits a run of ``steps`` × ``batch`` (module docstring)."""
    per_step = batch * len(net.groups) * net.n_neurons
    return per_step <= PRECOMPUTE_STEP and steps * per_step <= PRECOMPUTE_MAX


def event_pre_charge(net: SimNetwork, w, q_in, spikes) -> list:
    """(Q1) at batch 1 from the step's precomputed input charge q_in [1, G·N] and the network's spikes
    [1, N], event-driven for the spikes (``w``: the :class:`.engine.Weights`, ``w.w_fan`` and
    ``net.fan_target`` cut to ``net.fan_rec`` columns by the caller; ``w.w_dense``: W_rec where
    :func:`rec_matrix`, else None): four [1, N] arrays (A), None for unused dendrites."""
    b = spikes.shape[0]
    events = jnp.concatenate([jnp.zeros((b, net.n_inputs), DTYPE), spikes], axis=1)
    q = event_charge_fn(net, offset=net.n_inputs)(events, w.w_slot, w.w_nk, w.w_fan, net.slot_src, net.fan_target,
                                                  w.w_dense)
    qi = q_in.reshape(b, len(net.groups), net.n_neurons)
    return [q[:, i] + qi[:, net.groups.index(i)] if i in net.groups else None for i in range(4)]


def input_charge(net: SimNetwork, w_dense, xs):
    """The inputs' part of (Q1) for every step: xs [T, B, n_inputs] · W[:n_inputs] → [T, B, G·N] (A)."""
    return jnp.einsum("tbi,ic->tbc", xs, w_dense[:net.n_inputs])


def next_charge(w, x, spikes, pre: bool = False):
    """(Q1) of a step as one [B, G·N] array (A) from its events: x the bin's input counts [B, n_inputs] and
    ``w`` the whole W (one product [x, s]·W), or (``pre``) x the bin's input charge from :func:`input_charge`
    and ``w`` = W_rec; s [B, N] the spikes of the bin before."""
    if pre:
        return x + spikes @ w
    return jnp.concatenate([x, spikes], axis=1) @ w


def split_charge(net: SimNetwork, q) -> list:
    """A [B, G·N] charge → four [B, N] arrays (A), None for unused dendrites."""
    q = q.reshape(q.shape[0], len(net.groups), net.n_neurons)
    return [q[:, net.groups.index(i)] if i in net.groups else None for i in range(4)]


def rec_matrix(net: SimNetwork) -> bool:
    """Whether batch 1 takes ``"rec-matrix"`` rather than ``"event-pre"``: the loop multiplies the spikes by
    W_rec (the neurons' rows of :func:`dense_matrix`) instead of scattering their fan-outs (one chip), where
    the matrix path suits the network (:func:`use_matrix`) and W_rec has at most :data:`REC_MATRIX_MAX`
    elements. Measured (the bench network of tools/bench_sim.py, G = 2, forward, batch 1, µs per step, minimum
    of 21 interleaved calls): N = 64 9.5 → 5.3, N = 256 36 → 22 (precise spike timing 17 → 5.9 and 57 → 22);
    the gather and the scatter of a step cost more than the product [1, N]·[N, G·N] there; at N = 384
    45 → 29, but at N = 512 54 → 61 (minimum of 11). Under ``jax.vmap`` over mismatch draws the scatter of
    :func:`draws_event_charge` stays (the per-draw products were slower: 32 draws of N = 256, 827 → 1267 µs
    per step)."""
    return use_matrix(net) and net.n_neurons * len(net.groups) * net.n_neurons <= REC_MATRIX_MAX


def scatter_fired(net: SimNetwork, ev, w_fan, fan_target, caps: tuple, offset: int, dense):
    """(Q1) [1, 4, N] at batch 1 from the source events ``ev`` [n_src], event-driven: the sources ≥ ``offset`` that
    fired, compacted, their fan-out weights ``w_fan`` [n_src + 1, F] scatter-added at ``fan_target`` — in the branch
    of the smallest of ``caps`` that holds them (:func:`by_count`). When more fired than the largest capacity c,
    every source that fired is scattered in chunks of c (a loop over ⌈count/c⌉ chunks: the cost stays ∝ the
    count), or, where c < :data:`CHUNKED_MIN` (small networks), ``dense(None)``.

    Measured (the charge alone in a 500-step loop, N = 1024 of the bench network, its fan-outs padded to 71,
    µs per step, minimum of 11 interleaved calls; capacities 32, 128 and the dense gather beyond, against 16,
    32, 64, 128 and chunks of 128): 2 % of the neurons firing per step 19.4 → 17.3, 5 % 55 → 28, 20 %
    350 → 87. Inside the ``lax.switch`` the dense gather cost more than alone (199 µs), and its operands
    slowed the branches not taken."""
    n, n_src = net.n_neurons, net.n_sources
    fired = ev[offset:] > 0
    ext = jnp.concatenate([ev, jnp.zeros((1,), ev.dtype)])

    def scatter(idx, acc):
        vals = ext[idx][:, None] * w_fan[idx]
        return acc.at[fan_target[idx].reshape(-1)].add(vals.reshape(-1))

    def sparse(cap):
        def branch(_):
            return scatter(compact(fired, cap) + offset, jnp.zeros((4 * n + 1,), DTYPE))[:4 * n].reshape(1, 4, n)
        return branch

    def chunked(_):
        c = caps[-1]
        chunks = -(-fired.shape[0] // c)
        idx = jnp.pad(compact(fired, fired.shape[0]) + offset, (0, chunks * c - fired.shape[0]),
                      constant_values=n_src)        # padding: the sources' extra row (no weight, no target)
        acc = lax.fori_loop(0, (count + c - 1) // c, lambda i, a: scatter(lax.dynamic_slice(idx, (i * c,), (c,)), a),
                            jnp.zeros((4 * n + 1,), DTYPE))
        return acc[:4 * n].reshape(1, 4, n)

    count = jnp.sum(fired)
    return by_count(count, caps, sparse, chunked if caps and caps[-1] >= CHUNKED_MIN else dense)


def event_charge_fn(net: SimNetwork, offset: int = 0):
    """Batch-1 synaptic charge [1, 4, N], event-driven (:func:`scatter_fired`): cost ∝ the sources that fired, not
    ∝ all synapses. Its VJP is the dense formulation's, so gradients reach silent sources too; under ``jax.vmap``
    see the module docstring. ``offset``: the sources before it never fire here (``"event-pre"``: the inputs,
    counted before the loop). ``w_mat`` (the returned function's last argument, or None): the rows [offset:] of
    :func:`dense_matrix`; one chip then takes the product of the events with it instead
    (:func:`rec_matrix`; the VJP and the vmapped rule stay those above)."""
    n_src = net.n_sources
    caps = event_capacities(net) if offset == 0 else tuple(c for c in EVENT_CAPACITIES if 4 * c <= n_src - offset)

    def dense(events, w_slot, slot_src):
        return stack4(net, dense_charge(net, w_slot, slot_src, events), events.shape[0])

    @custom_vmap
    def event_driven(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat):
        if w_mat is not None:
            return stack4(net, split_charge(net, events[:, offset:] @ w_mat), 1)
        return scatter_fired(net, events[0], w_fan, fan_target, caps, offset, lambda _: dense(events, w_slot, slot_src))

    @event_driven.def_vmap
    def _vmapped(axis_size, in_batched, events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat):
        # under vmap (e.g. many mismatch draws) a vmapped cond would run every branch: the draws' fired sources
        # are compacted together instead, and the branch chosen by their total count (draws_event_charge)
        if not any(jax.tree_util.tree_leaves(in_batched[4])):
            ev = events if in_batched[0] else jnp.broadcast_to(events, (axis_size,) + events.shape)
            dense_all = lambda: draws_charge(net, ev, w_nk, in_batched[2], slot_src)   # noqa: E731
            if offset and not in_batched[5]:
                return draws_event_charge(net, ev, w_fan, in_batched[3], fan_target, offset, dense_all), True
            return dense_all(), True
        axes = (0 if in_batched[0] else None, jax.tree_util.tree_map(lambda b: 0 if b else None, in_batched[1]),
                jax.tree_util.tree_map(lambda b: 0 if b else None, in_batched[4]))
        out = jax.vmap(dense, in_axes=axes, axis_size=axis_size)(events, w_slot, slot_src)
        return out, True

    @jax.custom_vjp
    def charge(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat):
        return event_driven(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat)

    def fwd(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat):
        return charge(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat), (events, w_slot, slot_src)

    def bwd(res, ct):
        events, w_slot, slot_src = res
        _, vjp = jax.vjp(lambda e, w: dense(e, w, slot_src), events, w_slot)
        d_events, d_w_slot = vjp(ct)
        # w_nk, w_fan, w_mat: the same weights as w_slot (counted there)
        return d_events, d_w_slot, None, None, None, None, None

    def call(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat=None):
        return charge(events, w_slot, w_nk, w_fan, slot_src, fan_target, w_mat)

    charge.defvjp(fwd, bwd)
    return call
