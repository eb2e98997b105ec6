"""``neurodeploy verify``: does the deployed config still do what the trained network does?

Runs, on the same inputs:

* the reference — the float network (NetworkSpec) on a nominal chip (no mismatch);
* the float network over ``trials`` mismatch draws (what mismatch alone costs);
* the deployed config on the emulator without mismatch (what quantization alone costs:
  DAC grid, weight masks, clustering, pruning, placement);
* the deployed config over ``trials`` emulated boards with mismatch (quantization + mismatch),

each batch of trials in one vmapped call, and compares output spike counts
(:mod:`neurodeploy.verify_metrics`). PASS/FAIL against :class:`Tolerance` (defaults: median rate
correlation ≥ 0.9 over trials and outputs; with labels, median accuracy drop ≤ 2 points); the CLI
exits 1 on FAIL so CI can gate on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import verify_metrics as vm
from .errors import NeurodeployError


class VerifyError(NeurodeployError):
    """Inputs to verify do not fit together."""


@dataclass
class Tolerance:
    min_rate_correlation: float = 0.9      # median Pearson r of output spike counts (deployed+mismatch vs reference)
    max_accuracy_drop: float = 0.02        # median over trials, as a fraction (2 points)
    max_rate_difference: float | None = None  # Hz, median mean-absolute rate difference (off by default)

    @classmethod
    def parse(cls, items) -> "Tolerance":
        """``KEY=VALUE`` strings: correlation=0.9, accuracy_drop=0.02, rate_difference=5."""
        t = cls()
        keys = {"correlation": "min_rate_correlation", "accuracy_drop": "max_accuracy_drop",
                "rate_difference": "max_rate_difference"}
        for item in items or ():
            k, sep, v = item.partition("=")
            if not sep or k not in keys:
                raise VerifyError(f"--tolerance {item!r}: expected one of {', '.join(k + '=VALUE' for k in keys)}")
            try:
                setattr(t, keys[k], float(v))
            except ValueError:
                raise VerifyError(f"--tolerance {item!r}: {v!r} is not a number") from None
        return t


def _counts(spikes) -> np.ndarray:
    return np.asarray(spikes).sum(axis=-2)       # [..., B, T, n] → [..., B, n]


def verify(spec, cfg, profile, inputs: np.ndarray, dt: float, *, labels=None, trials: int = 32,
           mismatch: float = 0.1, seed: int = 0, tolerance: Tolerance | None = None) -> dict:
    """Compare the float network and the deployed config; returns the report dict (``passed`` inside).

    ``mismatch`` is σ, the relative standard deviation of every mismatched quantity (0.1 = 10 %,
    i.e. 30 % at 3σ); ``inputs`` are counts [B, T, n_inputs].
    """
    import jax
    import jax.numpy as jnp

    from .backends.emulator import Emulator
    from .sim import build_from_spec, no_mismatch, sample_mismatch_stack, simulate

    tol = tolerance or Tolerance()
    x = np.asarray(inputs, np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.shape[2] != spec.n_inputs:
        raise VerifyError(f"inputs have {x.shape[2]} channels, the model has {spec.n_inputs} inputs")
    if len(cfg.inputs) != spec.n_inputs:
        raise VerifyError(f"the config has {len(cfg.inputs)} input channels, the model {spec.n_inputs}: "
                          f"was the config mapped from this model? (re-run neurodeploy map)")
    out_idx = spec.output_indices()
    if len(cfg.outputs) != out_idx.size:
        raise VerifyError(f"the config reads {len(cfg.outputs)} outputs, the model has {out_idx.size}: "
                          f"was the config mapped from this model? (re-run neurodeploy map)")
    stale = bool(cfg.source_model_sha256) and cfg.source_model_sha256 != spec.sha256()
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.size != x.shape[0]:
            raise VerifyError(f"{labels.size} labels for {x.shape[0]} input samples")
        if out_idx.size < 2 or labels.min() < 0 or labels.max() >= out_idx.size:
            raise VerifyError(f"labels must be output indices 0..{out_idx.size - 1}")
    duration = x.shape[1] * dt

    # each network is compiled once: draw 0 is the nominal chip, draws 1.. the mismatched ones
    n_mm = trials if mismatch > 0 else 0
    net, _ = build_from_spec(spec, profile)
    draws = no_mismatch(net)
    draws = jax.tree_util.tree_map(lambda a: a[None], draws)
    if n_mm:
        more = sample_mismatch_stack(net, jax.random.PRNGKey(seed + 1), n_mm, sigma=mismatch)
        draws = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), draws, more)
    f_all = _counts(np.asarray(jax.vmap(lambda m: simulate(net, x, m, dt=dt)[0][..., out_idx])(draws)))
    ref, float_mm = f_all[0], (f_all[1:] if n_mm else None)                                       # [B, n], [trials, B, n]
    emu = Emulator(cfg, profile, dt=dt)
    if n_mm:
        d_all = _counts(emu.run(x, dt, mismatch=mismatch, seed=seed, trials=n_mm, with_nominal=True).outputs)
        dep, dep_mm = d_all[0], d_all[1:]
    else:
        dep, dep_mm = _counts(emu.run(x, dt).outputs), None

    def block(counts):
        r = vm.pearson_r(ref, counts)
        dr = vm.rate_difference(ref, counts, duration)
        out = {"rate_correlation": {"per_output": np.median(r.reshape(-1, r.shape[-1]), axis=0).round(4).tolist(),
                                    **_round(vm.summarise(r, "low"))},
               "rate_difference_hz": {"per_output": np.median(dr.reshape(-1, dr.shape[-1]), axis=0).round(3).tolist(),
                                      **_round(vm.summarise(dr, "high"))}}
        if labels is not None:
            acc = vm.accuracy(counts, labels)
            out["accuracy"] = _round(vm.summarise(acc, "low"))
            if out_idx.size >= 2:
                out["firing_rate_ratio"] = _round(vm.summarise(vm.firing_rate_ratio(counts, labels, duration), "low"))
        return out

    report: dict = {"samples": int(x.shape[0]), "steps": int(x.shape[1]), "dt": dt, "trials": trials,
                    "mismatch_sigma": mismatch, "outputs": [o.name for o in cfg.outputs],
                    "reference_rates_hz": (ref.mean(0) / duration).round(3).tolist()}
    if labels is not None:
        report["reference_accuracy"] = float(vm.accuracy(ref, labels))
        if out_idx.size >= 2:
            report["reference_firing_rate_ratio"] = round(float(vm.firing_rate_ratio(ref, labels, duration)), 4)
    report["quantization_only"] = block(dep[None])
    if float_mm is not None:
        report["mismatch_only"] = block(float_mm)
    if dep_mm is not None:
        report["quantization_and_mismatch"] = block(dep_mm)
    final = report.get("quantization_and_mismatch", report["quantization_only"])
    checks = []
    corr = final["rate_correlation"]["median"]
    checks.append({"name": "rate_correlation", "value": corr, "limit": tol.min_rate_correlation,
                   "passed": bool(corr >= tol.min_rate_correlation)})
    if labels is not None:
        drop = report["reference_accuracy"] - final["accuracy"]["median"]
        checks.append({"name": "accuracy_drop", "value": round(drop, 4), "limit": tol.max_accuracy_drop,
                       "passed": bool(drop <= tol.max_accuracy_drop + 1e-12)})
    if tol.max_rate_difference is not None:
        rd = final["rate_difference_hz"]["median"]
        checks.append({"name": "rate_difference_hz", "value": rd, "limit": tol.max_rate_difference,
                       "passed": bool(rd <= tol.max_rate_difference)})
    if float(ref.sum()) == 0:
        checks.append({"name": "reference_activity", "value": 0.0, "limit": "> 0 spikes",
                       "passed": False, "note": "the float network emits no output spikes on these inputs: nothing to compare"})
    report["tolerance"] = asdict(tol)
    report["checks"] = checks
    report["stale_config"] = stale
    report["passed"] = all(c["passed"] for c in checks)
    return report


def _round(d: dict, n: int = 4) -> dict:
    return {k: round(v, n) if isinstance(v, float) else v for k, v in d.items()}


def format_verify(report: dict) -> str:
    lines = [f"verify: {report['samples']} samples × {report['steps']} steps (dt {report['dt']} s), "
             f"{report['trials']} mismatch trials at σ = {report['mismatch_sigma']:.0%}"]
    if report.get("stale_config"):
        lines.append("warning: the config was mapped from a different version of the model (source sha256 differs)")
    lines.append(f"reference output rates (Hz): {report['reference_rates_hz']}")
    hdr = f"  {'':28s} {'rate r (median / worst 5%)':>28s} {'|Δrate| Hz (median / worst 5%)':>32s}"
    has_acc = "reference_accuracy" in report
    if has_acc:
        hdr += f" {'accuracy (median / worst 5%)':>30s} {'FRR (median)':>13s}"
        lines.append(f"reference accuracy {report['reference_accuracy']:.1%}"
                     + (f", FRR {report['reference_firing_rate_ratio']:.2f}" if "reference_firing_rate_ratio" in report else ""))
    lines.append(hdr)
    for key, label in (("quantization_only", "quantization only"), ("mismatch_only", "float + mismatch"),
                       ("quantization_and_mismatch", "quantization + mismatch")):
        if key not in report:
            continue
        b = report[key]
        row = (f"  {label:28s} {b['rate_correlation']['median']:13.3f} / {b['rate_correlation']['worst_5pct']:<12.3f}"
               f" {b['rate_difference_hz']['median']:15.2f} / {b['rate_difference_hz']['worst_5pct']:<14.2f}")
        if has_acc:
            row += f" {b['accuracy']['median']:14.1%} / {b['accuracy']['worst_5pct']:<13.1%}"
            if "firing_rate_ratio" in b:
                row += f" {b['firing_rate_ratio']['median']:13.2f}"
        lines.append(row)
    for c in report["checks"]:
        mark = "ok  " if c["passed"] else "FAIL"
        lines.append(f"  [{mark}] {c['name']} = {c['value']} (limit {c['limit']}){'  — ' + c['note'] if 'note' in c else ''}")
    lines.append("PASS" if report["passed"] else "FAIL")
    return "\n".join(lines)
