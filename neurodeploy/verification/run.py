"""``neurodeploy verify``: does the deployed config still do what the trained network does?

Runs, on the same inputs:

* the reference — the float network (Network) on a nominal chip (no mismatch);
* the float network over ``trials`` mismatch draws (what mismatch alone costs);
* the deployed config on the emulator without mismatch (what quantization alone costs:
  DAC grid, weight masks, clustering, pruning, placement);
* the deployed config over ``trials`` emulated boards with mismatch (quantization + mismatch): board b
  is the board ``neurodeploy emulate --seed SEED+b --mismatch σ`` draws (mismatch key PRNGKey(SEED + b)),
  computed as a yield study computes its boards (:func:`neurodeploy.study.engines.board_counts`: units of
  ``unit_size`` boards, on an ``engine``: in this process by default, or as Ray tasks with
  :class:`~neurodeploy.study.engines.RayEngine`; the report is the same bytes either way),

the float network's draws on the same engine, in units of a fixed shape (:mod:`neurodeploy.verification.float_draws`:
draw d the d-th of ``trials`` keys split from PRNGKey(SEED + 1); the same bytes on either engine and for any
``unit_size``), and compares output spike counts in the read-out window (the
input's ``readout`` or ``--window``; the whole trial without one) (:mod:`neurodeploy.verification.metrics`).
PASS/FAIL against :class:`Tolerance`, set by the checks' printed names (:data:`GATES`; defaults: median
``rate_correlation`` ≥ 0.9 over trials and read-out channels (a population read-out: its summed counts) — not applicable to fewer than 3 samples, see :func:`verify`; median ``relative_rate_error`` ≤ 1.0, i.e. the deployed output
rates are off by less than the reference rates themselves — correlation and accuracy are blind to
scale, this bound is not; with labels, median ``accuracy_drop`` ≤ 2 points; ``rate_difference_hz`` off), plus
the fixed checks ``same_model`` (the config was mapped from this model), ``host_routes`` and
``reference_activity``; the CLI exits 1 on FAIL so CI can gate on it.

Where a gate fails, its check says which stage loses it — quantization, mismatch, delay mismatch — from the
blocks (:mod:`neurodeploy.verification.stages`; a config with delays adds the block
``quantization_and_mismatch_nominal_delays``: the same boards with every delay at its nominal value). With a board backend (``verify(..., board=...)``), one real run replaces the emulated
quantization + mismatch draws: a chip is one draw.

With ``precise_timing`` (``verify --precise-timing``) both sides are integrated with precise spike timing (eqs.
(P1)–(P4) of :mod:`neurodeploy.sim.model`): the float network, its mismatch draws and every emulated board
(``neurodeploy emulate --precise-timing``, on either engine) — a spike acts on its targets from its time inside
the step instead of at the next step's start; the report says ``"precise_timing": true``. The input is a raster
(counts per step): its counts act at their steps' starts, as without the option. A real board (``board``) runs in
continuous time either way.

With a chip profile (``verify --chip``) the emulated boards are that measured chip with a residual σ
(:mod:`neurodeploy.verification.boards`; "quantization only": its measured constants without the per-neuron factors);
the float reference stays the nominal chip's, and the report's ``chip_profile`` names the file and its sha256.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import metrics as vm
from .boards import chip_boards, deployed_boards
from .float_draws import float_counts
from .spike_inputs import board_data, prepare
from .stages import attribute_stages
from ..errors import NeurodeployError
from ..log import stage
from ..report import format_verify  # noqa: F401  (the report as text; part of this module's interface)


class VerifyError(NeurodeployError):
    """Inputs to verify do not fit together."""


#: The gates ``--tolerance NAME=VALUE`` sets, by the name their check prints → the :class:`Tolerance` field.
GATES = {"rate_correlation": "min_rate_correlation", "relative_rate_error": "max_relative_rate_error",
         "accuracy_drop": "max_accuracy_drop", "rate_difference_hz": "max_rate_difference"}
#: Earlier short names, still read.
GATE_ALIASES = {"correlation": "rate_correlation", "rate_error": "relative_rate_error",
                "rate_difference": "rate_difference_hz"}
#: Checks that have no tolerance, and what decides them instead.
FIXED_CHECKS = {"host_routes": "every output needs a host route",
                "same_model": "--allow-other-model judges a config mapped from another model",
                "reference_activity": "the float network must emit output spikes"}


@dataclass
class Tolerance:
    min_rate_correlation: float = 0.9      # median Pearson r of output spike counts (deployed+mismatch vs reference)
    max_accuracy_drop: float = 0.02        # median over trials, as a fraction (2 points)
    max_rate_difference: float | None = None  # Hz, median mean-absolute rate difference (off by default)
    max_relative_rate_error: float = 1.0   # median over trials of Σ|Δcount| / Σ reference count (scale-aware)

    @classmethod
    def parse(cls, items) -> "Tolerance":
        """``NAME=VALUE`` strings, NAME a gate as its check is printed: rate_correlation=0.9,
        relative_rate_error=1.0, accuracy_drop=0.02, rate_difference_hz=5 (the short names correlation,
        rate_error and rate_difference are read too)."""
        t = cls()
        valid = ", ".join(f"{k}=VALUE" for k in GATES)
        for item in items or ():
            k, sep, v = item.partition("=")
            k = k.strip()
            name = GATE_ALIASES.get(k, k)
            if sep and name in FIXED_CHECKS:
                raise VerifyError(f"--tolerance {item!r}: {name} is a fixed check ({FIXED_CHECKS[name]}); "
                                  f"the gates with a tolerance: {valid}")
            if not sep or name not in GATES:
                raise VerifyError(f"--tolerance {item!r}: expected one of {valid}")
            try:
                x = float(v)
            except ValueError:
                raise VerifyError(f"--tolerance {item!r}: {v!r} is not a number") from None
            if not np.isfinite(x) or x < 0:
                raise VerifyError(f"--tolerance {item!r}: expected a finite number >= 0")
            setattr(t, GATES[name], x)
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


def verify(network, cfg, profile, inputs: np.ndarray, dt: float, *, labels=None, trials: int = 32,
           mismatch: float = 0.1, seed: int = 0, tolerance: Tolerance | None = None,
           pictures: dict | None = None, board=None, window=None, allow_other_model: bool = False, engine=None,
           unit_size: int = 16, negative=None, chip=None, chip_source=None, precise_timing: bool = False) -> dict:
    """Compare the float network and the deployed config; returns the report dict (``passed`` inside).

    ``mismatch`` is σ, the relative standard deviation of every mismatched quantity (0.1 = 10 %,
    i.e. 30 % at 3σ); ``inputs`` are counts [B, T, n_inputs] or input spikes by their times
    (:class:`~neurodeploy.input_times.SpikeTimes`, :mod:`.spike_inputs`: with ``precise_timing`` each acts at its
    own time; the report's ``input`` says how they ran). ``pictures``, if a dict, receives the arrays
    the plots need (rasters of the first sample, counts, accuracy per board).

    ``window``: the read-out window, (start, stop) steps or a :class:`~neurodeploy.inputs.Window` (the
    input file's ``readout``, or ``--window``): outputs are counted in steps [start, stop) only — float and
    deployed counts, rates, accuracy — as training and the task metric count them; None = the whole trial.

    The rate correlation needs spread across samples: with at least 3 samples it is the Pearson r of each
    output's counts across samples (median over outputs and boards). With 1 or 2 samples that r is
    undefined or always ±1, and r over the few pooled (sample, output) counts is too noisy to gate on (the
    float network's own mismatch moves it below 0.9 on a faithful one-sample NIR example), so the check is
    "not applicable" — it passes, and the report says so in one line — and ``relative_rate_error`` (and,
    with labels, ``accuracy_drop``) decides (:func:`~neurodeploy.verification.metrics.correlation_kind`).
    ``report["rate_correlation_statistic"]`` names the choice.

    ``negative`` [B] bool (the input file's ``negative``): samples without a class (e.g. frozen-noise's unseen
    noise); their labels are placeholders, so accuracy and firing-rate ratio leave them out (rates count them).

    ``same_model``: a config records the sha256 of the model it was mapped from; another model's config
    FAILs this check unless ``allow_other_model`` (a config without a recorded sha256 is not refused).

    ``engine`` (default: in this process): where the boards (units of ``unit_size``) and the float network's draws
    (units of :data:`~neurodeploy.verification.float_draws.DRAWS_PER_UNIT`) run (module doc); ``chip`` (a ChipProfile,
    read from the file ``chip_source``): boards of that chip, ``mismatch`` the residual σ. ``precise_timing``: the
    float network and every emulated board with precise spike timing (module doc).

    ``board`` (a :class:`~neurodeploy.backends.base.Backend`, e.g. ``get_backend("samna", ...)``):
    the config is flashed and run once on it. A real chip IS one mismatch draw, so its run replaces
    the emulated "quantization + mismatch" draws as the judged block (``board``; the tolerances
    apply to it, its "worst 5 %" is over outputs and samples); the float network's mismatch draws
    and the emulator's nominal run stay in the report as context.
    """
    tol, engine = tolerance or Tolerance(), _in_process(engine)
    x, late, input_info = prepare(inputs, precise_timing)
    x = _check_fit(network, cfg, x)
    win = _check_window(window, x.shape[1])
    R = network.readout_matrix()               # neuron counts @ R = read-out channel counts (classes)
    if labels is not None:
        labels = check_labels(labels, x.shape[0], R.shape[1], "labels")
    keep = slice(None) if negative is None else np.flatnonzero(~_check_negative(negative, x.shape[0]))
    n_mm = trials if mismatch > 0 else 0
    chip_info, dep_profile = chip_boards(chip, chip_source, profile, mismatch, engine, board)

    def counts(spikes):                     # [..., B, T, n] → [..., B, n] in the read-out window
        return np.asarray(spikes)[..., win.start:win.stop, :].sum(axis=-2)

    f_all, f_first = float_counts(engine, network, profile, x, dt, (win.start, win.stop), n_mm, mismatch, seed, precise_timing,
                                  late)
    ref, float_mm = f_all[0], (f_all[1:] if n_mm else None)                                       # [B, n], [trials, B, n]
    dep, dep_mm, d_first, nominal_delays = deployed_boards(cfg, dep_profile, x, dt, 0 if board is not None else n_mm,
                                                           mismatch, seed, counts, win, engine, unit_size, chip, precise_timing,
                                                           late)
    if pictures is not None:
        pictures.update(reference_raster=f_first, deployed_raster=np.asarray(d_first), reference_counts=ref,
                        deployed_counts=dep)
        if labels is not None and dep_mm is not None:
            pictures["accuracy_per_board"] = vm.accuracy((dep_mm @ R)[..., keep, :], labels[keep])
    blocks = {"quantization_only": dep[None], "mismatch_only": float_mm, "quantization_and_mismatch": dep_mm,
              "quantization_and_mismatch_nominal_delays": nominal_delays}
    if board is not None:
        with stage(f"board ({getattr(board, 'name', 'board')}): flash the config, run {x.shape[0]} sample(s)"):
            board.load(cfg)
            blocks["board"] = counts(board.run(board_data(inputs, x, dt)).outputs)[None]
    report = _report(network, cfg, x, dt, win, ref, blocks, labels, R, trials, mismatch, keep, precise_timing)
    report.update(input=input_info, backend="emulator" if board is None else getattr(board, "name", "board"))
    return _judged(report, network, cfg, tol, allow_other_model, labels is not None, float(ref.sum()) == 0, chip_info)


def _judged(report: dict, network, cfg, tol, allow_other_model: bool, has_labels: bool, silent: bool, chip_info) -> dict:
    """``report`` with its checks (the judged block: the board's, else the mismatched boards', else quantization
    only), each failed gate's stage, the tolerances and the verdict ``passed``."""
    final = report.get("board", report.get("quantization_and_mismatch", report["quantization_only"]))
    model_sha = network.sha256()
    checks = ([_same_model_check(cfg.source_model_sha256, model_sha, allow_other_model), _host_route_check(cfg)]
              + _checks(final, report, tol, has_labels, silent))
    attribute_stages(checks, report)
    report.update(tolerance=asdict(tol), gates={name: getattr(tol, f) for name, f in GATES.items()},
                  checks=checks, model_sha256=model_sha, **({"chip_profile": chip_info} if chip_info else {}),
                  config_source_model_sha256=cfg.source_model_sha256 or None,
                  stale_config=bool(cfg.source_model_sha256) and cfg.source_model_sha256 != model_sha,
                  passed=all(c["passed"] for c in checks))
    return report


def _in_process(engine):
    """``engine``, or the engine that runs the units in this process when None."""
    from ..study.engines import LocalEngine

    return engine or LocalEngine()


def _check_negative(negative, n: int) -> np.ndarray:
    if (a := np.asarray(negative)).dtype != bool or a.shape != (n,) or a.all():
        raise VerifyError(f"negative: expected a bool array [{n}] (True = a sample without a class) with at least one "
                          f"False, got {a.dtype} {list(a.shape)}{' all True' if a.dtype == bool and a.all() else ''}")
    return a


def _report(network, cfg, x, dt: float, win, ref, blocks: dict, labels, R, trials: int, mismatch: float,
            keep=slice(None), precise_timing: bool = False) -> dict:
    """The report's header (sizes, window, statistic, reference rates and accuracy; ``precise_timing: true`` when
    both sides ran with precise spike timing) and one block per counts array of ``blocks`` that is not None."""
    duration = win.steps * dt
    kind = vm.correlation_kind(ref)
    b = int(x.shape[0])
    report: dict = {"samples": b, "steps": int(x.shape[1]), "dt": dt, "trials": trials,
                    "mismatch_sigma": mismatch, **({"precise_timing": True} if precise_timing else {}),
                    "outputs": [o.name for o in cfg.outputs],
                    "window": {**win.as_dict(), "description": win.describe(int(x.shape[1]), dt)},
                    "rate_correlation_statistic": {"kind": kind, "note": _CORRELATION_NOTES[kind].format(
                        b=f"{b} sample" + ("" if b == 1 else "s"), k=vm.MIN_SAMPLES_FOR_R)},
                    "reference_rates_hz": (ref.mean(0) / duration).round(3).tolist()}
    if labels is not None:
        report["samples_without_class"] = 0 if isinstance(keep, slice) else b - int(keep.size)
        report["reference_accuracy"] = float(vm.accuracy((ref @ R)[keep], labels[keep]))
        if R.shape[1] >= 2:
            report["reference_firing_rate_ratio"] = round(float(vm.firing_rate_ratio((ref @ R)[keep], labels[keep],
                                                                                      duration)), 4)
    for key, c in blocks.items():
        if c is not None:
            report[key] = _block(ref, c, duration, labels, R, kind, keep)
    return report


_CORRELATION_NOTES = {
    "per_output": "per read-out channel (an output, or a population's summed outputs), across the {b}",
    "not_applicable": "not applicable to {b} (needs >= {k}); relative_rate_error decides",
}


def _check_window(window, n_steps: int):
    """The read-out window as a :class:`~neurodeploy.inputs.Window`, inside the input's ``n_steps``."""
    from ..inputs import Window

    if window is None:
        return Window(0, n_steps, "whole trial")
    w = window if isinstance(window, Window) else Window(*(int(v) for v in window), source="the window argument")
    if not 0 <= w.start < w.stop <= n_steps:
        raise VerifyError(f"read-out window [{w.start}, {w.stop}) ({w.source}): expected 0 <= start < stop <= "
                          f"{n_steps}, the input's steps")
    return w


def _same_model_check(recorded: str, model_sha: str, allow: bool) -> dict:
    """The named check ``same_model``: the config was mapped from this model (its recorded source sha256 equals
    the model's). A config without a recorded sha256 (made by hand) passes; ``allow`` (``--allow-other-model``)
    passes another model's config, saying so."""
    check = {"name": "same_model", "limit": "same sha256"}
    if not recorded:
        return {**check, "value": "no source sha256 in the config", "passed": True}
    if recorded == model_sha:
        return {**check, "value": f"{model_sha[:12]}…", "passed": True}
    value = f"config from {recorded[:12]}…, model {model_sha[:12]}…"
    if allow:
        return {**check, "value": value, "passed": True, "note": "another model's config, judged as asked (--allow-other-model)"}
    return {**check, "value": value, "passed": False,
            "note": "the config was mapped from another model (or another version of it): re-run neurodeploy map, "
                    "or pass --allow-other-model to judge it anyway"}


def _check_fit(network, cfg, inputs) -> np.ndarray:
    """Inputs [B, T, n] (float32) after checking that inputs, model and config fit together."""
    x = np.asarray(inputs, np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.shape[2] != network.n_inputs:
        raise VerifyError(f"inputs have {x.shape[2]} channels, the model has {network.n_inputs} inputs")
    if len(cfg.inputs) != network.n_inputs:
        raise VerifyError(f"the config has {len(cfg.inputs)} input channels, the model {network.n_inputs}: "
                          f"was the config mapped from this model? (re-run neurodeploy map)")
    n_out = network.output_indices().size
    if len(cfg.outputs) != n_out:
        raise VerifyError(f"the config reads {len(cfg.outputs)} outputs, the model has {n_out}: "
                          f"was the config mapped from this model? (re-run neurodeploy map)")
    return x


def _block(ref, counts, duration: float, labels, R, kind: str = "per_output", keep=slice(None)) -> dict:
    """One block of the report: ``counts`` [trials, B, n_out] against the reference ``ref`` [B, n_out]
    (per output neuron); accuracy and FRR on the read-out channels, ``counts @ R``. ``kind``: the rate
    correlation statistic (:func:`~neurodeploy.verification.metrics.correlation_kind`)."""
    dr = vm.rate_difference(ref, counts, duration)
    if kind == "per_output":
        r = vm.pearson_r(ref @ R, counts @ R)        # per read-out channel: a population is read as its sum
        corr = {"per_output": np.median(r.reshape(-1, r.shape[-1]), axis=0).round(4).tolist(),
                **_round(vm.summarise(r, "low"))}
    else:
        corr = {"per_output": None, "median": None, "worst_5pct": None, "min": None, "max": None}
    out = {"rate_correlation": {"statistic": kind, **corr},
           "relative_rate_error": _round(vm.summarise(vm.relative_rate_error(ref, counts), "high")),
           "rate_difference_hz": {"per_output": np.median(dr.reshape(-1, dr.shape[-1]), axis=0).round(3).tolist(),
                                  **_round(vm.summarise(dr, "high"))}}
    if labels is not None:
        cr, lab = (counts @ R)[..., keep, :], labels[keep]
        out["accuracy"] = _round(vm.summarise(vm.accuracy(cr, lab), "low"))
        if R.shape[1] >= 2:
            out["firing_rate_ratio"] = _round(vm.summarise(vm.firing_rate_ratio(cr, lab, duration), "low"))
    return out


def _checks(final: dict, report: dict, tol: Tolerance, has_labels: bool, silent_reference: bool) -> list[dict]:
    """The PASS/FAIL checks of the judged block ``final`` against ``tol``."""
    checks = []
    corr = final["rate_correlation"]["median"]
    if corr is None:
        checks.append({"name": "rate_correlation", "value": None, "limit": tol.min_rate_correlation, "passed": True,
                       "applicable": False, "note": report["rate_correlation_statistic"]["note"]})
    else:
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
                       "passed": False, "note": "the float network emits no output spikes on these inputs"
                                                + ("" if report["window"]["source"] == "whole trial" else
                                                   " in the read-out window") + ": nothing to compare"})
    return checks


def _host_route_check(cfg) -> dict:
    """The named check ``host_routes``: every output's neuron holds an SRAM route that reaches the host.
    A board reports nothing of an output without one, so such a config FAILs whatever the tolerances."""
    from ..backends.fpga import unrouted_note, unrouted_outputs

    missing = unrouted_outputs(cfg)
    check = {"name": "host_routes", "value": f"{len(cfg.outputs) - len(missing)}/{len(cfg.outputs)} outputs routed",
             "limit": "all", "passed": not missing}
    if missing:
        check["note"] = unrouted_note(missing)
    return check


def _round(d: dict, n: int = 4) -> dict:
    return {k: round(v, n) if isinstance(v, float) else v for k, v in d.items()}
