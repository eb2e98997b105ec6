"""``neurodeploy verify``: does the deployed config still do what the trained network does?

Runs, on the same inputs:

* the reference — the float network (NetworkSpec) on a nominal chip (no mismatch);
* the float network over ``trials`` mismatch draws (what mismatch alone costs);
* the deployed config on the emulator without mismatch (what quantization alone costs:
  DAC grid, weight masks, clustering, pruning, placement);
* the deployed config over ``trials`` emulated boards with mismatch (quantization + mismatch),

each batch of trials in one vmapped call, and compares output spike counts
(:mod:`neurodeploy.verify_metrics`). PASS/FAIL against :class:`Tolerance` (defaults: median rate
correlation ≥ 0.9 over trials and outputs; median relative rate error ≤ 1.0, i.e. the deployed output
rates are off by less than the reference rates themselves — correlation and accuracy are blind to
scale, this bound is not; with labels, median accuracy drop ≤ 2 points); the CLI exits 1 on FAIL so
CI can gate on it. With a board backend (``verify(..., board=...)``), one real run replaces the emulated
quantization + mismatch draws: a chip is one draw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import verify_metrics as vm
from .errors import NeurodeployError
from .log import stage


class VerifyError(NeurodeployError):
    """Inputs to verify do not fit together."""


@dataclass
class Tolerance:
    min_rate_correlation: float = 0.9      # median Pearson r of output spike counts (deployed+mismatch vs reference)
    max_accuracy_drop: float = 0.02        # median over trials, as a fraction (2 points)
    max_rate_difference: float | None = None  # Hz, median mean-absolute rate difference (off by default)
    max_relative_rate_error: float = 1.0   # median over trials of Σ|Δcount| / Σ reference count (scale-aware)

    @classmethod
    def parse(cls, items) -> "Tolerance":
        """``KEY=VALUE`` strings: correlation=0.9, accuracy_drop=0.02, rate_error=1.0, rate_difference=5."""
        t = cls()
        keys = {"correlation": "min_rate_correlation", "accuracy_drop": "max_accuracy_drop",
                "rate_error": "max_relative_rate_error", "rate_difference": "max_rate_difference"}
        for item in items or ():
            k, sep, v = item.partition("=")
            if not sep or k not in keys:
                raise VerifyError(f"--tolerance {item!r}: expected one of {', '.join(k + '=VALUE' for k in keys)}")
            try:
                x = float(v)
            except ValueError:
                raise VerifyError(f"--tolerance {item!r}: {v!r} is not a number") from None
            if not np.isfinite(x) or x < 0:
                raise VerifyError(f"--tolerance {item!r}: expected a finite number >= 0")
            setattr(t, keys[k], x)
        return t


def load_labels(path, n_samples: int, n_outputs: int, input_path: str = "the input") -> np.ndarray:
    """Read ``labels`` (.npy, or the 'labels' array of an .npz): one integer class per input sample, each
    an output index 0..n_outputs−1. Strings, NaN, fractions and out-of-range values are errors."""
    try:
        raw = np.load(path, allow_pickle=False)
    except Exception as e:
        raise VerifyError(f"{path}: cannot read labels ({type(e).__name__}: {e})") from None
    if isinstance(raw, np.lib.npyio.NpzFile):
        with raw:
            if "labels" not in raw.files:
                raise VerifyError(f"{path}: no array 'labels' (has: {', '.join(raw.files) or 'nothing'})")
            raw = raw["labels"]
    return check_labels(raw, n_samples, n_outputs, str(path), input_path)


def check_labels(labels, n_samples: int, n_outputs: int, source: str, input_path: str = "the input") -> np.ndarray:
    """Labels as int64 [n_samples], or a VerifyError naming ``source`` and what to change."""
    a = np.asarray(labels)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == bool):
        raise VerifyError(f"{source}: labels must be integer class indices, got dtype {a.dtype}")
    a = a.reshape(-1)
    if a.size != n_samples:
        raise VerifyError(f"{source}: {a.size} labels for {n_samples} input samples in {input_path} "
                          f"(one class label per sample)")
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise VerifyError(f"{source}: label [{i}] = {a[i]} is not an integer class index")
    a = a.astype(np.int64)
    if n_outputs < 2:
        raise VerifyError(f"{source}: labels need at least 2 model outputs to compare, the model has {n_outputs}")
    bad = (a < 0) | (a >= n_outputs)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise VerifyError(f"{source}: label [{i}] = {a[i]} is not an output index 0..{n_outputs - 1}")
    return a


def _counts(spikes) -> np.ndarray:
    return np.asarray(spikes).sum(axis=-2)       # [..., B, T, n] → [..., B, n]


def verify(spec, cfg, profile, inputs: np.ndarray, dt: float, *, labels=None, trials: int = 32,
           mismatch: float = 0.1, seed: int = 0, tolerance: Tolerance | None = None,
           pictures: dict | None = None, board=None) -> dict:
    """Compare the float network and the deployed config; returns the report dict (``passed`` inside).

    ``mismatch`` is σ, the relative standard deviation of every mismatched quantity (0.1 = 10 %,
    i.e. 30 % at 3σ); ``inputs`` are counts [B, T, n_inputs]. ``pictures``, if a dict, receives the arrays
    the plots need (rasters of the first sample, counts, accuracy per board).

    ``board`` (a :class:`~neurodeploy.backends.base.Backend`, e.g. ``get_backend("samna", ...)``):
    the config is flashed and run once on it. A real chip IS one mismatch draw, so its run replaces
    the emulated "quantization + mismatch" draws as the judged block (``board``; the tolerances
    apply to it, its "worst 5 %" is over outputs and samples); the float network's mismatch draws
    and the emulator's nominal run stay in the report as context.
    """
    import jax
    import jax.numpy as jnp

    from .sim import build_from_spec, no_mismatch, sample_mismatch_stack, simulate

    tol = tolerance or Tolerance()
    x = _check_fit(spec, cfg, inputs)
    out_idx = spec.output_indices()
    R = spec.readout_matrix()               # neuron counts @ R = read-out channel counts (classes)
    stale = bool(cfg.source_model_sha256) and cfg.source_model_sha256 != spec.sha256()
    if labels is not None:
        labels = check_labels(labels, x.shape[0], R.shape[1], "labels")
    duration = x.shape[1] * dt

    # each network is compiled once: draw 0 is the nominal chip, draws 1.. the mismatched ones
    n_mm = trials if mismatch > 0 else 0
    net, _ = build_from_spec(spec, profile)
    draws = no_mismatch(net)
    draws = jax.tree_util.tree_map(lambda a: a[None], draws)
    if n_mm:
        more = sample_mismatch_stack(net, jax.random.PRNGKey(seed + 1), n_mm, sigma=mismatch)
        draws = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), draws, more)
    with stage(f"float network: {n_mm + 1} chip(s) x {x.shape[0]} sample(s), one vmapped call"):
        f_spk = np.asarray(jax.vmap(lambda m: simulate(net, x, m, dt=dt)[0][..., out_idx])(draws))
        f_all = _counts(f_spk)
    ref, float_mm = f_all[0], (f_all[1:] if n_mm else None)                                       # [B, n], [trials, B, n]
    with stage(f"emulator: decode the config, {n_mm + 1} board(s) x {x.shape[0]} sample(s), one vmapped call"):
        dep, dep_mm, d_first = _emulate(cfg, profile, x, dt, n_mm if board is None else 0, mismatch, seed)
    if pictures is not None:
        pictures.update(reference_raster=f_spk[0, 0], deployed_raster=np.asarray(d_first), reference_counts=ref,
                        deployed_counts=dep)
        if labels is not None and dep_mm is not None:
            pictures["accuracy_per_board"] = vm.accuracy(dep_mm @ R, labels)
    board_counts = None
    if board is not None:
        with stage(f"board ({getattr(board, 'name', 'board')}): flash the config, run {x.shape[0]} sample(s)"):
            board.load(cfg)
            board_counts = _counts(board.run({"spikes": x, "dt": dt}).outputs)

    def block(counts):
        return _block(ref, counts, duration, labels, R)

    report: dict = {"samples": int(x.shape[0]), "steps": int(x.shape[1]), "dt": dt, "trials": trials,
                    "mismatch_sigma": mismatch, "outputs": [o.name for o in cfg.outputs],
                    "reference_rates_hz": (ref.mean(0) / duration).round(3).tolist()}
    if labels is not None:
        report["reference_accuracy"] = float(vm.accuracy(ref @ R, labels))
        if R.shape[1] >= 2:
            report["reference_firing_rate_ratio"] = round(float(vm.firing_rate_ratio(ref @ R, labels, duration)), 4)
    report["quantization_only"] = block(dep[None])
    if float_mm is not None:
        report["mismatch_only"] = block(float_mm)
    if dep_mm is not None:
        report["quantization_and_mismatch"] = block(dep_mm)
    if board_counts is not None:
        report["board"] = block(board_counts[None])
    report["backend"] = "emulator" if board is None else getattr(board, "name", "board")
    final = report.get("board", report.get("quantization_and_mismatch", report["quantization_only"]))
    checks = [_host_route_check(cfg)] + _checks(final, report, tol, labels is not None, float(ref.sum()) == 0)
    report["tolerance"] = asdict(tol)
    report["checks"] = checks
    report["stale_config"] = stale
    report["passed"] = all(c["passed"] for c in checks)
    return report


def _emulate(cfg, profile, x, dt, n_mm: int, mismatch: float, seed: int):
    """The config on the emulator: nominal counts [B, n], counts over ``n_mm`` mismatched boards
    [n_mm, B, n] (None if 0), and the first sample's nominal output raster."""
    from .backends.emulator import Emulator

    emu = Emulator(cfg, profile, dt=dt)
    if n_mm:
        d_spk = emu.run(x, dt, mismatch=mismatch, seed=seed, trials=n_mm, with_nominal=True).outputs
        d_all = _counts(d_spk)
        return d_all[0], d_all[1:], d_spk[0, 0]
    d_spk = emu.run(x, dt).outputs
    return _counts(d_spk), None, d_spk[0]


def _check_fit(spec, cfg, inputs) -> np.ndarray:
    """Inputs [B, T, n] (float32) after checking that inputs, model and config fit together."""
    x = np.asarray(inputs, np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.shape[2] != spec.n_inputs:
        raise VerifyError(f"inputs have {x.shape[2]} channels, the model has {spec.n_inputs} inputs")
    if len(cfg.inputs) != spec.n_inputs:
        raise VerifyError(f"the config has {len(cfg.inputs)} input channels, the model {spec.n_inputs}: "
                          f"was the config mapped from this model? (re-run neurodeploy map)")
    n_out = spec.output_indices().size
    if len(cfg.outputs) != n_out:
        raise VerifyError(f"the config reads {len(cfg.outputs)} outputs, the model has {n_out}: "
                          f"was the config mapped from this model? (re-run neurodeploy map)")
    return x


def _block(ref, counts, duration: float, labels, R) -> dict:
    """One block of the report: ``counts`` [trials, B, n_out] against the reference ``ref`` [B, n_out]
    (per output neuron); accuracy and FRR on the read-out channels, ``counts @ R``."""
    r = vm.pearson_r(ref, counts)
    dr = vm.rate_difference(ref, counts, duration)
    out = {"rate_correlation": {"per_output": np.median(r.reshape(-1, r.shape[-1]), axis=0).round(4).tolist(),
                                **_round(vm.summarise(r, "low"))},
           "relative_rate_error": _round(vm.summarise(vm.relative_rate_error(ref, counts), "high")),
           "rate_difference_hz": {"per_output": np.median(dr.reshape(-1, dr.shape[-1]), axis=0).round(3).tolist(),
                                  **_round(vm.summarise(dr, "high"))}}
    if labels is not None:
        out["accuracy"] = _round(vm.summarise(vm.accuracy(counts @ R, labels), "low"))
        if R.shape[1] >= 2:
            out["firing_rate_ratio"] = _round(vm.summarise(vm.firing_rate_ratio(counts @ R, labels, duration), "low"))
    return out


def _checks(final: dict, report: dict, tol: Tolerance, has_labels: bool, silent_reference: bool) -> list[dict]:
    """The PASS/FAIL checks of the judged block ``final`` against ``tol``."""
    checks = []
    corr = final["rate_correlation"]["median"]
    checks.append({"name": "rate_correlation", "value": corr, "limit": tol.min_rate_correlation,
                   "passed": bool(corr >= tol.min_rate_correlation)})
    rel = final["relative_rate_error"]["median"]
    checks.append({"name": "relative_rate_error", "value": rel, "limit": tol.max_relative_rate_error,
                   "passed": bool(rel <= tol.max_relative_rate_error)})
    if has_labels:
        drop = report["reference_accuracy"] - final["accuracy"]["median"]
        checks.append({"name": "accuracy_drop", "value": round(drop, 4), "limit": tol.max_accuracy_drop,
                       "passed": bool(drop <= tol.max_accuracy_drop + 1e-12)})
    if tol.max_rate_difference is not None:
        rd = final["rate_difference_hz"]["median"]
        checks.append({"name": "rate_difference_hz", "value": rd, "limit": tol.max_rate_difference,
                       "passed": bool(rd <= tol.max_rate_difference)})
    if silent_reference:
        checks.append({"name": "reference_activity", "value": 0.0, "limit": "> 0 spikes",
                       "passed": False, "note": "the float network emits no output spikes on these inputs: nothing to compare"})
    return checks


def _host_route_check(cfg) -> dict:
    """The named check ``host_routes``: every output's neuron holds an SRAM route that reaches the host.
    A board reports nothing of an output without one, so such a config FAILs whatever the tolerances."""
    from .backends.fpga import unrouted_note, unrouted_outputs

    missing = unrouted_outputs(cfg)
    check = {"name": "host_routes", "value": f"{len(cfg.outputs) - len(missing)}/{len(cfg.outputs)} outputs routed",
             "limit": "all", "passed": not missing}
    if missing:
        check["note"] = unrouted_note(missing)
    return check


def _round(d: dict, n: int = 4) -> dict:
    return {k: round(v, n) if isinstance(v, float) else v for k, v in d.items()}


def format_verify(report: dict) -> str:
    lines = [f"verify: {report['samples']} samples × {report['steps']} steps (dt {report['dt']} s), "
             f"{report['trials']} mismatch trials at σ = {report['mismatch_sigma']:.0%}"]
    if report.get("stale_config"):
        lines.append("warning: the config was mapped from a different version of the model (source sha256 differs)")
    lines.append(f"reference output rates (Hz): {report['reference_rates_hz']}")
    hdr = (f"  {'':28s} {'rate r (median / worst 5%)':>28s} {'|Δrate| Hz (median / worst 5%)':>32s}"
           f" {'rel. rate error (median)':>25s}")
    has_acc = "reference_accuracy" in report
    if has_acc:
        hdr += f" {'accuracy (median / worst 5%)':>30s} {'FRR (median)':>13s}"
        lines.append(f"reference accuracy {report['reference_accuracy']:.1%}"
                     + (f", FRR {report['reference_firing_rate_ratio']:.2f}" if "reference_firing_rate_ratio" in report else ""))
    lines.append(hdr)
    for key, label in (("quantization_only", "quantization only"), ("mismatch_only", "float + mismatch"),
                       ("quantization_and_mismatch", "quantization + mismatch"), ("board", "board (one real chip)")):
        if key not in report:
            continue
        b = report[key]
        row = (f"  {label:28s} {b['rate_correlation']['median']:13.3f} / {b['rate_correlation']['worst_5pct']:<12.3f}"
               f" {b['rate_difference_hz']['median']:15.2f} / {b['rate_difference_hz']['worst_5pct']:<14.2f}"
               f" {b['relative_rate_error']['median']:25.3f}")
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
