"""The optimiser loop: surrogate-gradient BPTT through :func:`neurodeploy.sim.simulate`.

One jit-compiled step does: forward weights (fan-in mask / quantized grid, straight-through), M mismatch draws (σ per
:class:`TrainConfig`; evaluated one after the other with ``lax.map``, which on CPU is several times faster than
``jax.vmap`` over draws), the loss averaged over them (:mod:`.losses`), its gradient, gradient clipping + Adam (optax;
cosine learning-rate decay), then the projections of :mod:`.constraints` (bias range, weight bound). Two phases: float
training (``epochs − qat_epochs`` epochs, early stopping on the validation split), then quantization-aware training on
the grid ``map`` will use, starting from the best float model. The best model of the last phase (validation accuracy
under mismatch, then loss) is kept. Delays train and validate against the delay mismatch the emulator draws
(:mod:`.delay_mismatch`); :mod:`.measured_chip` for one chip. ``precise_timing``: the simulator with precise spike timing.

Everything random is seeded from ``seed``: minibatch order (epoch e: ``default_rng([seed, e])``),
mismatch draws (``fold_in(PRNGKey(seed), step // redraw_every)``), evaluation draws (fixed). A
checkpoint (npz) after every epoch holds the optimiser state, the best model and the history;
``resume`` continues from it and gives the same result as an uninterrupted run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .constraints import GridQuantizer, fan_in_mask
from .delay_mismatch import slot_spreads, with_spread
from .losses import BETA_CURRENT, accuracy, current_logits, ce_counts, noise_top, rate_mse, rate_regulariser, ratio_hinge
from .config import RESUMABLE, TrainConfig  # noqa: F401  (TrainConfig: part of this module's interface)
from .task import TrainError

def run_inputs(simulate, net, x, m, record=False):
    """``simulate`` on ``x``: counts [B, T, n_in], or (counts, lateness) of input spike times (:meth:`.task.TaskData.inputs`)."""
    x, late = x if isinstance(x, tuple) else (x, None)
    return simulate(net, x, m, record=record, input_lateness=late)


def take(x, idx, pad: int = 0):
    """The trials ``idx`` of ``x`` (an array or a pair of arrays), with ``pad`` trials of zeros after them."""
    if isinstance(x, tuple):
        return tuple(take(a, idx, pad) for a in x)
    x = x[idx]
    return np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]) if pad else x


@dataclass
class State:
    theta: dict
    opt_state: object
    mask: np.ndarray
    epoch: int = 0
    step: int = 0
    phase: str = "float"
    best: dict | None = None          # {"theta", "weights" (forward weights), "score", "epoch"}
    history: list = field(default_factory=list)
    stale: int = 0


class Trainer:
    """Trains a :class:`~neurodeploy.train.structure.Structure` on a task's train/val data."""
    DRAW0 = "nominal"      # what the first evaluation draw is (the progress line's name for val_acc_nominal)

    def __init__(self, st, train, val, cfg: TrainConfig, profile, checkpoint: Path | None = None, source=None, on_epoch=None):
        import jax.numpy as jnp

        self.st, self.cfg, self.profile, self.ckpt = st, cfg, profile, checkpoint
        self.on_epoch = on_epoch        # called after every epoch (and its checkpoint): (history row, checkpoint) → stop?
        self.train, self.val = train, val
        self.source = source if cfg.fresh_data else None     # epoch → TaskData (same trials, fresh spikes)
        self.t0, self.t1 = train.window
        if cfg.loss == "rate_mse" and train.target_rates is None:
            raise TrainError("loss rate_mse needs target rates (the task gives none); use --loss ce")
        self.bs = min(cfg.batch_size, train.n)
        self.spe = max(1, train.n // self.bs)
        self.cam = profile.geometry.cam_entries_per_neuron
        self.bounds = st.current_bounds() if cfg.bias_range else None
        self.wmax = jnp.asarray(st.weight_bound())
        self.quant = GridQuantizer(st, profile, seed=0) if cfg.qat else None
        self.dquant = GridQuantizer(st, profile, seed=0) if st.net.delay is not None and profile.models_delays else None
        self.opts = {"float": self._optimizer(cfg.lr, (cfg.epochs - cfg.n_qat) * self.spe),
                     "qat": self._optimizer(cfg.lr * cfg.qat_lr_factor, max(cfg.n_qat, 1) * self.spe)}
        step = self._make_step(self.opts["float"])      # one program: the phases differ in the state's values only
        self.steps = {k: step for k in self.opts}
        self._eval = self._make_eval()

    # ---- pieces ---------------------------------------------------------------------------
    def _optimizer(self, lr, n_steps):
        """Adam on a cosine schedule from ``lr`` down to 0.1·``lr`` over ``n_steps`` steps, after clipping the global
        norm. The learning rate and the schedule's length are values of the optimiser's state
        (``optax.inject_hyperparams``), not constants of the compiled step: the float and QAT phases run one compiled
        step, and runs that differ only in them (a sweep over ``lr`` or ``epochs``) compile the same program, which
        the compilation cache then holds once. The schedule is optax's ``cosine_decay_schedule`` (exponent 1),
        written out because optax checks its length as a Python number:
        η(t) = lr·[(1 − α)·½(1 + cos(π·min(t, T)/T)) + α], α = 0.1. With lr and T run-time values XLA cannot fold
        π/T and ½·(1 − α) into constants, so η(t) may round differently in its last bit from a schedule compiled
        with them as constants."""
        import jax.numpy as jnp
        import optax

        alpha = 0.1

        def make(learning_rate, decay_steps):
            def sched(count):
                count = jnp.minimum(count, decay_steps)
                cosine = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
                return learning_rate * ((1 - alpha) * cosine + alpha)
            return optax.chain(optax.clip_by_global_norm(self.cfg.clip), optax.adam(sched))
        return optax.inject_hyperparams(make)(learning_rate=lr, decay_steps=float(max(int(n_steps), 1)))

    def _loss_terms(self, spikes, y, tr, valid, rec=None, net=None):
        import jax.numpy as jnp

        R = jnp.asarray(self.st.readout)                               # [n_out_neurons, channels]
        counts = spikes[:, self.t0:self.t1][..., self.st.outputs].sum(axis=1) @ R
        if self.cfg.loss == "ce_current":
            c = net.currents
            logits = BETA_CURRENT * current_logits(rec, self.st.outputs, (self.t0, self.t1),
                                                   c["Itau_mem"] * c["Ispkthr"] / c["Igain_mem"]) @ (R / R.sum(0))
            main = ce_counts(counts, y, valid, self.cfg.beta) + ce_counts(logits, y, valid, 1.0)
        elif self.cfg.loss == "rate_mse":          # per-neuron rate of a channel: its mean over the group
            main = rate_mse(counts / R.sum(0), tr, jnp.ones_like(valid), (self.t1 - self.t0) * self.st.network.dt)
        else:
            main = ce_counts(counts, y, valid, self.cfg.beta)
        if self.cfg.ratio_weight > 0:
            main = main + self.cfg.ratio_weight * ratio_hinge(counts, y, valid, self.cfg.ratio_target)
        if self.cfg.noise_weight > 0:
            main = main + self.cfg.noise_weight * noise_top(counts, valid)
        return main + rate_regulariser(spikes, self.st.network.dt, self.cfg.rate_reg, self.cfg.rate_max), counts

    def _draws(self, key, n):
        from ..sim import sample_mismatch_stack

        return sample_mismatch_stack(self.st.net, key, n, sigma=self.cfg.mismatch)

    def _on_chip(self, mm):     # a draw (None: nominal) as the chip trained for sees it (measured_chip.ChipTrainer)
        return mm

    def _forward_weights(self, w, mask, q, qat_on):
        import jax.numpy as jnp
        from jax import lax

        fwd = jnp.where(qat_on, q, w * mask)
        return w + lax.stop_gradient(fwd - w)

    def _make_step(self, opt):
        import jax
        import jax.numpy as jnp
        import optax

        from ..sim import compiler_options, sample_mismatch, simulate

        st, cfg = self.st, self.cfg

        def loss_fn(theta, mask, q, qd, sd, qat_on, x, y, tr, valid, key):
            th = {**theta, "weights": self._forward_weights(theta["weights"], mask, q, qat_on)}
            if "delays" in theta:       # QAT: the delays on the per-core delay levels (straight-through)
                th["delays"] = self._forward_weights(theta["delays"], 1.0, qd, qat_on)
            net = with_spread(st.apply(th), sd, st.entry_syn)

            record = ("I_ampa", "I_nmda", "I_gaba") if cfg.loss == "ce_current" else False

            def one(m):
                s, _, rec = run_inputs(simulate, net, x, m, record)
                loss, counts = self._loss_terms(s, y, tr, valid, rec, net)
                return loss, (counts, jnp.mean(s[..., st.outputs]))

            if cfg.mismatch > 0 and cfg.draws == 1:
                return one(self._on_chip(sample_mismatch(st.net, key, sigma=cfg.mismatch)))
            if cfg.mismatch > 0:
                # lax.map (one draw after the other) is several times faster than jax.vmap over draws here
                losses, (counts, rate) = jax.lax.map(one, self._draws(key, cfg.draws))
                return jnp.mean(losses), (counts[0], jnp.mean(rate))
            return one(self._on_chip(None))

        def step(theta, opt_state, mask, q, qd, sd, qat_on, x, y, tr, valid, key):
            (loss, (counts, rate)), g = jax.value_and_grad(loss_fn, has_aux=True)(theta, mask, q, qd, sd, qat_on, x, y, tr,
                                                                                 valid, key)
            updates, opt_state = opt.update(g, opt_state, theta)
            theta = optax.apply_updates(theta, updates)
            theta = self._project(theta)
            return theta, opt_state, loss, accuracy(counts, y, valid), rate / st.network.dt

        return jax.jit(step, compiler_options=compiler_options())     # the simulator's (neurodeploy.sim.compiler)

    def _project(self, theta):
        import jax.numpy as jnp

        lc = dict(theta["log_currents"])
        if self.bounds is not None:
            for q, (lo, hi) in self.bounds.items():
                lc[q] = jnp.clip(lc[q], lo, hi)
        out = {"log_currents": lc, "weights": jnp.clip(theta["weights"], -self.wmax, self.wmax)}
        if "delays" in theta:           # inside the chip's delay range [0, delay_bound]
            out["delays"] = jnp.clip(theta["delays"], 0.0, self.st.delay_bound / self.st.delay_unit)
        return out

    def _make_eval(self):
        import jax
        import jax.numpy as jnp

        from ..sim import compiler_options, no_mismatch, simulate

        st = self.st

        def counts_of(theta, w_fwd, sd, x, draws):
            net = with_spread(st.apply({**theta, "weights": w_fwd}), sd, st.entry_syn)
            s = jax.lax.map(lambda m: run_inputs(simulate, net, x, m)[0], draws)
            return s[:, :, self.t0:self.t1][..., st.outputs].sum(axis=2) @ jnp.asarray(st.readout)

        f = jax.jit(counts_of, compiler_options=compiler_options())
        nominal = jax.tree_util.tree_map(lambda a: a[None], self._on_chip(no_mismatch(st.net)))
        n_draws = self.cfg.eval_draws if self.cfg.mismatch > 0 else 0
        draws = nominal
        if n_draws:
            import jax.random as jr

            extra = self._draws(jr.fold_in(jr.PRNGKey(self.cfg.seed), 10 ** 6), n_draws)
            draws = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), nominal, extra)
        self.eval_draws_stack = draws
        return f

    def counts(self, theta, w_fwd, data, chunk: int = 64) -> np.ndarray:
        """Output counts [1 + eval_draws, n, C] on ``data`` (index 0: nominal or measured chip); delays mismatched with the
        spread of the levels ``map`` would give this model (:attr:`dquant` refitted on it)."""
        if self.dquant is not None and self.cfg.mismatch > 0:
            self.dquant.refit(theta, np.asarray(w_fwd))
        sd = slot_spreads(self.st, self.dquant, theta)
        out, xs = [], data.inputs(self.cfg.precise_timing)
        for i in range(0, data.n, chunk):
            pad = chunk - min(chunk, data.n - i) if data.n > chunk else 0
            x = take(xs, slice(i, i + chunk), pad)
            c = np.asarray(self._eval(theta, w_fwd, sd, x, self.eval_draws_stack))
            out.append(c[:, :c.shape[1] - pad])
        return np.concatenate(out, axis=1)

    def evaluate(self, theta, w_fwd, data) -> dict:
        c = self.counts(theta, w_fwd, data)
        valid = data.positive.astype(np.float32)
        accs = [float(accuracy(ci, data.labels, valid)) for ci in c]
        if self.cfg.loss == "rate_mse":
            losses = [float(rate_mse(ci / self.st.readout.sum(0), data.target_rates, np.ones_like(valid),
                                     (self.t1 - self.t0) * self.st.network.dt))
                      for ci in c]
        else:
            losses = [float(ce_counts(ci, data.labels, valid, self.cfg.beta)) for ci in c]
        mm = slice(1, None) if c.shape[0] > 1 else slice(0, 1)
        return {"acc_nominal": accs[0], "acc_mismatch": float(np.mean(accs[mm])), "loss_nominal": losses[0],
                "loss_mismatch": float(np.mean(losses[mm])), "counts": c}

    # ---- the loop -------------------------------------------------------------------------
    def fresh(self, theta) -> State:
        mask = np.ones(self.st.slots.n, np.float32)
        if self.cfg.fan_in:
            mask = fan_in_mask(np.asarray(theta["weights"]), self.st.slots.dst, self.cam)
        return State(theta=theta, opt_state=self.opts["float"].init(theta), mask=mask)

    def resume(self, theta_template) -> State:
        from . import checkpoint

        tmpl = {k: o.init(theta_template) for k, o in self.opts.items()}
        meta, theta, opt_state, mask, best = checkpoint.load(self.ckpt, self.cfg.settings(), theta_template, tmpl,
                                                             ignore=RESUMABLE)
        return State(theta, opt_state, mask, meta["epoch"], meta["step"], meta["phase"], best, meta["history"], meta["stale"])

    def fit(self, state: State) -> State:
        from tqdm import tqdm

        cfg = self.cfg
        stop_at = cfg.epochs if cfg.stop_after is None else min(cfg.epochs, cfg.stop_after)
        from ..log import show_progress

        show = cfg.progress and show_progress()       # one rule for every bar: a terminal, or -v; never with -q
        with tqdm(total=cfg.epochs * self.spe, initial=state.epoch * self.spe, disable=not show, file=sys.stderr,
                  desc="train", unit="step", leave=True, dynamic_ncols=True) as bar:
            while state.epoch < stop_at:
                if state.phase == "float" and cfg.n_qat and state.epoch >= cfg.epochs - cfg.n_qat:
                    self._enter_qat(state)
                self._epoch(state, bar)
                state.epoch += 1
                if state.phase == "float" and cfg.patience and state.stale >= cfg.patience:
                    skip_to = cfg.epochs - cfg.n_qat
                    if state.epoch < skip_to:
                        bar.update((skip_to - state.epoch) * self.spe)
                        state.epoch = skip_to
                if self.ckpt is not None:
                    from . import checkpoint

                    checkpoint.save(self.ckpt, state, cfg.settings())
                if self.on_epoch is not None and state.history and self.on_epoch(state.history[-1], self.ckpt):
                    break                                  # the caller stops the run (e.g. a sweep's scheduler)
        return state

    def _enter_qat(self, state: State) -> None:
        if state.best is not None:
            state.theta = dict(state.best["theta"])
            state.mask = np.asarray(state.best["mask"])
        state.opt_state = self.opts["qat"].init(state.theta)
        state.phase, state.best, state.stale = "qat", None, 0

    def forward_weights(self, theta, mask, phase: str) -> np.ndarray:
        """The weights the chip gets: w·mask, on the quantizer's grid in the QAT phase."""
        w = np.asarray(theta["weights"]) * mask
        return self.quant.values(w) if phase == "qat" else w.astype(np.float32)

    def forward_theta(self, theta, phase: str) -> dict:
        """theta with the delays the chip gets: on the per-core delay levels in the QAT phase."""
        if phase != "qat" or "delays" not in theta:
            return theta
        return {**theta, "delays": self.quant.delay_values(np.asarray(theta["delays"]))}

    def _epoch(self, state: State, bar) -> None:
        import jax.random as jr

        cfg, st = self.cfg, self.st
        qat = state.phase == "qat"
        if qat:
            self.quant.refit(state.theta, np.asarray(state.theta["weights"]) * state.mask)
        elif self.dquant is not None and cfg.mismatch > 0:      # the delay levels (their spreads) of the model now
            self.dquant.refit(state.theta, np.asarray(state.theta["weights"]) * state.mask)
        dq = self.quant if qat else self.dquant
        step_fn = self.steps[state.phase]
        # where the simulator splits the batch across devices, the step returns theta and the optimiser's state
        # replicated on them: placed so from the first step on, the step compiles once (neurodeploy.sim.shards)
        from ..sim.shards import place

        state.theta, state.opt_state = place((state.theta, state.opt_state), self.bs, st.net.n_neurons)
        data = self.train if self.source is None else self.source(state.epoch)
        if data.n != self.train.n:
            raise TrainError(f"training data of epoch {state.epoch}: {data.n} trials, expected {self.train.n}")
        perm = np.random.default_rng([cfg.seed, state.epoch]).permutation(data.n)
        tr_all = data.target_rates if data.target_rates is not None else np.zeros((data.n, st.readout.shape[1]))
        valid_all, xs = data.positive.astype(np.float32), data.inputs(cfg.precise_timing)
        base = jr.PRNGKey(cfg.seed)
        q = np.zeros(st.slots.n, np.float32)
        qd = np.zeros(st.slots.n, np.float32)
        sums = np.zeros(3)
        for b in range(self.spe):
            idx = np.sort(perm[b * self.bs:(b + 1) * self.bs])
            if cfg.fan_in and state.step % cfg.fanin_every == 0:
                state.mask = fan_in_mask(np.asarray(state.theta["weights"]), st.slots.dst, self.cam)
            if qat:
                q = self.quant.values(np.asarray(state.theta["weights"]) * state.mask)
                if "delays" in state.theta:
                    qd = self.quant.delay_values(np.asarray(state.theta["delays"]))
            sd = slot_spreads(st, dq if cfg.mismatch > 0 else None, state.theta)
            key = jr.fold_in(base, state.step // cfg.redraw_every)
            state.theta, state.opt_state, loss, acc, rate = step_fn(
                state.theta, state.opt_state, state.mask, q, qd, sd, qat, take(xs, idx), data.labels[idx],
                tr_all[idx].astype(np.float32), valid_all[idx], key)
            state.step += 1
            sums += (float(loss), float(acc), float(rate))
            bar.update(1)
            bar.set_postfix(phase=state.phase, loss=f"{float(loss):.4f}", acc=f"{float(acc):.2f}", rate=f"{float(rate):.1f}Hz")
        if cfg.fan_in:
            state.mask = fan_in_mask(np.asarray(state.theta["weights"]), st.slots.dst, self.cam)
        done = state.epoch + 1
        if done % cfg.eval_every and done not in (cfg.epochs - cfg.n_qat, cfg.epochs):
            return                 # not a validation epoch (history: one entry per validation)
        w_fwd = self.forward_weights(state.theta, state.mask, state.phase)
        ev = self.evaluate(self.forward_theta(state.theta, state.phase), w_fwd, self.val)
        score = (round(ev["acc_mismatch"], 6), -round(ev["loss_mismatch"], 6))
        if state.best is None or score > state.best["score"]:
            state.best = {"theta": state.theta, "weights": w_fwd, "mask": state.mask.copy(), "score": score, "epoch": state.epoch}
            state.stale = 0
        else:
            state.stale += 1
        m = sums / self.spe
        state.history.append({"epoch": state.epoch + 1, "phase": state.phase, "train_loss": round(m[0], 6),
                              "train_acc": round(m[1], 4), "train_rate_hz": round(m[2], 3),
                              **{f"val_{k}": round(v, 6) for k, v in ev.items() if k != "counts"}})
        bar.write(f"epoch {state.epoch + 1}/{cfg.epochs} [{state.phase}] loss {m[0]:.4f} acc {m[1]:.3f} "
                  f"rate {m[2]:.1f} Hz | val acc {ev['acc_nominal']:.3f} {self.DRAW0}, {ev['acc_mismatch']:.3f} mismatch") \
            if cfg.progress else None
