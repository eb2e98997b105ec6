"""A trained model's task metric on emulated boards: what a task scores after deployment.

``evaluate(network, task, profile)`` maps the model (quantize → map → config), runs the config on the
emulator for the nominal board and ``boards`` mismatched ones (σ a fraction, one vmapped call per
chunk of trials), counts each read-out channel's spikes over the task's read-out window and applies
the task's own metric per board — the same metric training reports, so "trained 95 %, deployed
93 %" compares like with like. The metric of every built-in task includes ``accuracy``; frozen-noise
adds the firing-rate ratio (FRR) of each trained sample and, on unseen noise, the median FRR and the
largest win fraction. ``precise_timing``: the boards emulated with precise spike timing, as ``neurodeploy
emulate --precise-timing`` (eqs. (P1)–(P4) of :mod:`neurodeploy.sim.model`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHUNK = 64                  # trials per emulator call (bounds memory for many boards)


@dataclass
class Evaluation:
    task: str
    boards: int
    sigma: float
    seed: int
    per_board: dict = field(default_factory=dict)     # split → [1 + boards] metric dicts (0 = nominal board)
    weight_error: float | None = None                 # the mapping's relative RMS weight error
    precise_timing: bool = False                      # the boards emulated with precise spike timing

    def summary(self) -> dict:
        """Median and worst board (and the nominal board) of each split's scalar metrics."""
        out = {"task": self.task, "boards": self.boards, "mismatch_sigma": self.sigma, "seed": self.seed,
               "weight_error": self.weight_error, **({"precise_timing": True} if self.precise_timing else {})}
        for split, ms in self.per_board.items():
            keys = [k for k, v in ms[0].items() if isinstance(v, float) and not k.endswith("_n")]
            for k in keys:
                vals = np.array([m[k] for m in ms[1:]], float) if len(ms) > 1 else np.array([ms[0][k]], float)
                low_is_bad = not (k.startswith("silent") or "win_fraction" in k)
                out[f"{split}.{k}"] = {"nominal": round(float(ms[0][k]), 4), "median": round(float(np.median(vals)), 4),
                                       "worst": round(float(vals.min() if low_is_bad else vals.max()), 4)}
        return out


def board_counts(cfg, profile, data, boards: int, sigma: float, seed: int, readout: np.ndarray,
                 precise_timing: bool = False) -> np.ndarray:
    """Read-out channel counts [1 + boards, trials, channels] over the data's window (0 = nominal board);
    ``precise_timing``: the boards emulated with precise spike timing."""
    from .backends.emulator import Emulator

    emu = Emulator(cfg, profile, dt=data.dt, precise_timing=precise_timing)
    w0, w1 = data.window
    out = []
    for i in range(0, data.n, CHUNK):
        r = emu.run(data.spikes[i:i + CHUNK], data.dt, mismatch=sigma, seed=seed, trials=max(boards, 1),
                    with_nominal=True)
        counts = np.asarray(r.outputs)[:, :, w0:w1].sum(axis=2) @ readout
        out.append(counts if boards else counts[:1])
    return np.concatenate(out, axis=1)


def evaluate(network, task, profile, *, boards: int = 16, sigma: float = 0.1, seed: int = 0,
             splits=("train", "test"), task_name: str = "", precise_timing: bool = False) -> Evaluation:
    """Map ``network`` and score ``task``'s ``splits`` on the nominal board and ``boards`` mismatched ones
    (``precise_timing``: emulated with precise spike timing)."""
    from .deployment import deploy

    d = deploy(network, profile)
    rep = d.report.get("weights", d.report.get("quantize", {}))
    ev = Evaluation(task_name or type(task).__name__, boards, sigma, seed,
                    weight_error=rep.get("relative_rms_error") if isinstance(rep, dict) else None,
                    precise_timing=precise_timing)
    for split in splits:
        data = task.data(split, seed=seed)
        counts = board_counts(d.config, profile, data, boards, sigma, seed, network.readout_matrix(), precise_timing)
        ev.per_board[split] = [task.metrics(c, data) for c in counts]
    return ev


def format_evaluation(ev: Evaluation) -> str:
    """A table: one row per split and metric — nominal board, median and worst of the mismatched boards."""
    s = ev.summary()
    lines = [f"{ev.task}: {ev.boards} emulated boards at σ = {ev.sigma:.0%} (seed {ev.seed})"
             + (f"; mapping weight error {ev.weight_error:.3f}" if isinstance(ev.weight_error, float) else "")
             + ("; precise spike timing" if ev.precise_timing else ""),
             f"  {'metric':34s} {'nominal':>9s} {'median':>9s} {'worst':>9s}"]
    for k, v in s.items():
        if isinstance(v, dict):
            lines.append(f"  {k:34s} {v['nominal']:9.3f} {v['median']:9.3f} {v['worst']:9.3f}")
    return "\n".join(lines)
