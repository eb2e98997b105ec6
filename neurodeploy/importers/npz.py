"""Rockpool-style weight files (``.npz``, or a pair of ``.npy``) → Network.

What Rockpool's Dynap-SE2 training saves is two unitless weight matrices: ``w_in`` [n_in × N] (input
channel → neuron) and ``w_rec`` [N × N] (neuron → neuron; row = presynaptic, column = postsynaptic, as
``DynapSim`` applies them with ``spikes @ w_rec``), often as ``w_in_optimized.npy`` / ``w_rec_optimized.npy``.
The import gives one population ``neurons`` of N DPI neurons and the projections ``input → neurons`` and
``neurons → neurons`` (synapse "auto": w > 0 → AMPA, w < 0 → GABA), weight current = |w| · weight_scale.

Accepted inputs:

* ``model.npz`` holding ``w_in`` (or ``w_in_optimized``, ``weights_in``) and optionally ``w_rec`` (or
  ``w_rec_optimized``, ``weights_rec``); it may also hold ``dt``, ``weight_scale``, ``name`` (0-d string) and
  neuron parameters (``tau_mem``, ``tau_syn``, ``Itau_mem``, ``Ispkthr``, ... as 0-d or [N] arrays);
* ``w_in*.npy``: its partner is the file with ``w_in`` replaced by ``w_rec`` in the name, next to it;
  given ``w_rec*.npy``, the partner is the ``w_in`` file.

A ``w_rec`` with a last axis of 4 (Rockpool 2's DynapSim, one matrix per synapse type in the order AMPA,
GABA, NMDA, SHUNT, magnitudes) becomes up to four projections with explicit synapse types.

Options (override what the file holds): ``dt`` (s, default 1e-3), ``weight_scale`` (A, default 1e-8, Rockpool's
Iscale), ``synapse`` ("auto"), ``name``, ``outputs`` (neuron indices read out; default all), ``w_in`` / ``w_rec``
(array key in the .npz, or path of a .npy; ``w_rec=False`` for a feed-forward network), and any neuron
parameter — a current named as the simulator names it (``Itau_mem``, ``Ispkthr``, ...) or a time constant
(``tau_mem``, ``tau_ampa``, ``tau_gaba``, ``tau_syn`` = both, ``t_ref``, ...), scalar or one value per neuron.
Everything assumed is listed in ``metadata["import"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NetworkError
from ._common import NEURON_OPTIONS, SYNAPSES, apply_overrides, check_options, file_sha256, finish, neuron_overrides, positive_float

IN_KEYS = ("w_in", "w_in_optimized", "weights_in", "W_in", "win")
REC_KEYS = ("w_rec", "w_rec_optimized", "weights_rec", "W_rec", "wrec")
SCALAR_KEYS = ("dt", "weight_scale", "name")
OPTIONS = ("dt", "weight_scale", "synapse", "name", "outputs", "w_in", "w_rec") + NEURON_OPTIONS
POPULATION = "neurons"
#: Rockpool 2 DynapSim's synapse-type axis
ROCKPOOL_SYNAPSE_AXIS = ("ampa", "gaba", "nmda", "shunt")


def _read_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise NetworkError(f"{path}: file not found ({what})")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:
        raise NetworkError(f"{path}: cannot read as .npy ({type(e).__name__}: {e})") from None
    if not isinstance(arr, np.ndarray):
        raise NetworkError(f"{path}: expected one array (.npy), got an archive")
    return arr


def _matrix(arr: Any, where: str, *, rows: int | None = None, cols: int | None = None, allow_types: bool = False) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "fiub":
        raise NetworkError(f"{where}: expected a numeric weight matrix, got dtype {a.dtype}")
    while a.ndim > 2 and a.shape[0] == 1:  # a batch dimension of 1
        a = a[0]
    if a.ndim == 3 and allow_types and a.shape[2] == 4:
        pass
    elif a.ndim != 2:
        raise NetworkError(f"{where}: expected a 2-D weight matrix [n_source x n_target], got shape {tuple(np.shape(arr))}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        i = tuple(int(x) for x in np.argwhere(~np.isfinite(a))[0])
        raise NetworkError(f"{where}{list(i)}: weight must be finite, got {a[i]}")
    if rows is not None and a.shape[0] != rows:
        raise NetworkError(f"{where}: has {a.shape[0]} rows, expected {rows} (one per presynaptic neuron)")
    if cols is not None and a.shape[1] != cols:
        raise NetworkError(f"{where}: has {a.shape[1]} columns, expected {cols} (one per neuron, as w_in has)")
    return a


def _partner(path: Path, have: str, want: str) -> Path | None:
    stem = path.name
    if have in stem:
        return path.with_name(stem.replace(have, want, 1))
    return None


def load_npz(path: str | Path, profile=None, **options) -> "Network":  # noqa: F821
    """Import Rockpool-style ``w_in`` / ``w_rec`` weights (``.npz`` or ``.npy``) as a one-population Network."""
    path = Path(path)
    src = str(path)
    check_options(src, options, OPTIONS)
    ctx = _Read(path, src, options)
    w_in, w_rec = _from_npz(ctx) if path.suffix.lower() == ".npz" else _from_npy(ctx)
    w_in = _matrix(w_in, f"{src}: w_in")
    n_in, n = w_in.shape
    rec_typed = None
    if w_rec is not None:
        w_rec = _matrix(w_rec, f"{src}: w_rec", rows=n, cols=n, allow_types=True)
        if w_rec.ndim == 3:
            rec_typed, w_rec = w_rec, None
    dt, ws, name, synapse = _settings(ctx)
    pop = _population(ctx, n)
    projections = _projections(ctx, w_in, w_rec, rec_typed, ws, synapse)
    outputs = _outputs(ctx)
    meta = {"import": {"importer": "npz", "source": path.name, "sha256": file_sha256(path), "arrays": ctx.arrays,
                       "assumptions": ctx.assumptions}}
    raw = {"format": "neurodeploy.network/1", "name": name, "dt": dt, "n_inputs": n_in, "populations": [pop],
           "projections": projections, "outputs": outputs, "metadata": meta}
    return finish(raw, src, profile)


class _Read:
    """What an import collects: the options, the arrays used, the file's other values, the assumptions."""

    def __init__(self, path: Path, src: str, options: dict):
        self.path, self.src, self.options = path, src, options
        self.assumptions: list[str] = []
        self.arrays: dict[str, str] = {}
        self.file_values: dict[str, Any] = {}
        self.w_in_opt, self.w_rec_opt = options.get("w_in"), options.get("w_rec", None)


def _from_npz(ctx: _Read):
    """(w_in, w_rec or None) from an .npz; other known arrays go to ``ctx.file_values``."""
    src, path, w_in_opt, w_rec_opt = ctx.src, ctx.path, ctx.w_in_opt, ctx.w_rec_opt
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:
        raise NetworkError(f"{src}: cannot read as .npz ({type(e).__name__}: {e})") from None
    with z:
        files = list(z.files)

        def get(key: str):
            try:
                return z[key]
            except Exception as e:  # object arrays (pickles) and corrupt members
                raise NetworkError(f"{src}: array {key!r}: cannot read ({type(e).__name__}: {e})") from None

        def pick(opt, keys, what):
            if isinstance(opt, str) and not opt.endswith(".npy"):
                if opt not in files:
                    raise NetworkError(f"{src}: option {what}={opt!r}: no such array (has: {', '.join(files)})")
                return opt
            if isinstance(opt, (str, Path)):
                return None
            return next((k for k in keys if k in files), None)

        k_in = pick(w_in_opt, IN_KEYS, "w_in")
        if k_in is None and not isinstance(w_in_opt, (str, Path)):
            raise NetworkError(f"{src}: no input weights: expected an array named one of {', '.join(IN_KEYS)} "
                            f"(has: {', '.join(files) or 'nothing'}); or give w_in=KEY")
        w_in = get(k_in) if k_in else _read_npy(Path(w_in_opt), "w_in")
        ctx.arrays["w_in"] = f"{k_in} in {path.name}" if k_in else str(w_in_opt)
        w_rec = None
        if w_rec_opt is not False:
            k_rec = pick(w_rec_opt, REC_KEYS, "w_rec")
            if k_rec is not None:
                w_rec = get(k_rec)
                ctx.arrays["w_rec"] = f"{k_rec} in {path.name}"
            elif isinstance(w_rec_opt, (str, Path)):
                w_rec = _read_npy(Path(w_rec_opt), "w_rec")
                ctx.arrays["w_rec"] = str(w_rec_opt)
        used = {k_in, ctx.arrays.get("w_rec", "").split(" in ")[0]}
        for key in files:
            if key in used:
                continue
            if key in NEURON_OPTIONS or key in SCALAR_KEYS:
                ctx.file_values[key] = get(key)
            else:
                ctx.assumptions.append(f"array {key!r} in {path.name} ignored (not a known weight or parameter name)")
    if w_rec is None:
        ctx.assumptions.append("no recurrent weights (w_rec) in the file: feed-forward network")
    return w_in, w_rec


def _from_npy(ctx: _Read):
    """(w_in, w_rec or None) from one .npy and its partner file (``w_in*`` ↔ ``w_rec*``)."""
    src, path, w_in_opt, w_rec_opt = ctx.src, ctx.path, ctx.w_in_opt, ctx.w_rec_opt
    arr = _read_npy(path, "weights")
    is_rec = any(k in path.name for k in REC_KEYS) and not any(k in path.name for k in IN_KEYS)
    if is_rec:
        ctx.arrays["w_rec"] = path.name
        in_path = Path(w_in_opt) if isinstance(w_in_opt, (str, Path)) else _partner(path, "w_rec", "w_in")
        if in_path is None or not in_path.is_file():
            raise NetworkError(f"{src}: this holds recurrent weights; no input weights next to it "
                            f"(looked for {in_path.name if in_path else 'a w_in file'}); give w_in=PATH")
        ctx.arrays["w_in"] = in_path.name
        return _read_npy(in_path, "w_in"), arr
    ctx.arrays["w_in"] = path.name
    if w_rec_opt is False:
        ctx.assumptions.append("w_rec=False: feed-forward network")
        return arr, None
    rec_path = Path(w_rec_opt) if isinstance(w_rec_opt, (str, Path)) else _partner(path, "w_in", "w_rec")
    if rec_path is None or not rec_path.is_file():
        raise NetworkError(f"{src}: no recurrent weights next to it (looked for "
                        f"{rec_path.name if rec_path else 'a file named like w_rec*.npy'}); "
                        f"give w_rec=PATH, or w_rec=false for a feed-forward network")
    ctx.arrays["w_rec"] = rec_path.name
    return arr, _read_npy(rec_path, "w_rec")


def _settings(ctx: _Read):
    """dt (s), weight_scale (A), name, synapse: option > file > default."""
    src, options, file_values = ctx.src, ctx.options, ctx.file_values

    def setting(key, default, conv):
        if key in options and options[key] is not None:
            val, how = conv(options[key]), "option"
            if key in file_values:
                ctx.assumptions.append(f"{key}: the option ({val}) overrides the file's value")
            return val, how
        if key in file_values:
            return conv(file_values.pop(key)), f"from {ctx.path.name}"
        return default, "default"

    dt, dt_how = setting("dt", 1e-3, lambda v: positive_float(src, "dt", v))
    ws, ws_how = setting("weight_scale", 1e-8, lambda v: positive_float(src, "weight_scale", v))
    name, _ = setting("name", ctx.path.stem, lambda v: str(np.asarray(v).reshape(())) if not isinstance(v, str) else v)
    file_values.pop("dt", None), file_values.pop("weight_scale", None), file_values.pop("name", None)
    synapse = options.get("synapse", "auto")
    if synapse not in SYNAPSES:
        raise NetworkError(f"{src}: option synapse: expected one of {', '.join(SYNAPSES)}, got {synapse!r}")
    ctx.assumptions.append(f"dt = {dt} s ({dt_how})" + ("; Rockpool's DynapSim default" if dt_how == "default" else ""))
    ctx.assumptions.append(f"weights are unitless (Rockpool convention, rows = presynaptic); weight current = |w| x "
                           f"weight_scale, weight_scale = {ws} A ({ws_how}" + (", Rockpool's Iscale)" if ws_how == "default" else ")"))
    return dt, ws, name, synapse


def _population(ctx: _Read, n: int) -> dict:
    """The one population: neuron parameters from options > file arrays > profile defaults."""
    src, path = ctx.src, ctx.path
    pop: dict[str, Any] = {"name": POPULATION, "size": n}
    from_file = {k: ctx.file_values[k] for k in NEURON_OPTIONS if k in ctx.file_values}
    pop.update(neuron_overrides(f"{src} ({path.name} arrays)", {k: np.asarray(v).tolist() for k, v in from_file.items()}, n))
    replaced = apply_overrides(pop, neuron_overrides(src, ctx.options, n))
    if replaced:
        ctx.assumptions.append(f"options replace the file's {', '.join(sorted(set(replaced)))}")
    given = sorted(k for k in pop if k not in ("name", "size"))
    if given:
        ctx.assumptions.append(f"neuron parameters given: {', '.join(given)} (time constants converted to currents "
                               f"through the device profile: tau = U_T*C/(kappa*I), pulse widths t = V_th*C/I)")
    ctx.assumptions.append("neuron parameters not given take the device profile's defaults")
    return pop


def _projections(ctx: _Read, w_in, w_rec, rec_typed, ws: float, synapse: str) -> list[dict]:
    projections = [{"source": "input", "target": POPULATION, "synapse": synapse, "weight_scale": ws, "weight": w_in.tolist()}]
    if w_rec is not None:
        projections.append({"source": POPULATION, "target": POPULATION, "synapse": synapse, "weight_scale": ws,
                            "weight": w_rec.tolist()})
    elif rec_typed is not None:
        ctx.assumptions.append("w_rec has a last axis of 4: read as one magnitude matrix per synapse type in Rockpool "
                               "DynapSim's order (AMPA, GABA, NMDA, SHUNT)")
        for i, syn in enumerate(ROCKPOOL_SYNAPSE_AXIS):
            m = rec_typed[:, :, i]
            if not np.any(m):
                continue
            if np.any(m < 0):
                raise NetworkError(f"{ctx.src}: w_rec[:, :, {i}] ({syn}): negative weights; with a synapse-type axis the "
                                f"dendrite sets the sign, give magnitudes")
            projections.append({"source": POPULATION, "target": POPULATION, "synapse": syn, "weight_scale": ws,
                                "weight": m.tolist()})
    if synapse == "auto":
        ctx.assumptions.append("synapse 'auto': positive weights -> AMPA, negative -> GABA")
    return projections


def _outputs(ctx: _Read) -> list[dict]:
    outs = ctx.options.get("outputs")
    if outs is None or outs == "all":
        ctx.assumptions.append("outputs: all neurons (default)")
        return [{"population": POPULATION}]
    if outs in ("none", [], ()):
        return []
    try:
        idx = [int(i) for i in np.asarray(outs, dtype=np.int64).reshape(-1)]
    except (TypeError, ValueError):
        raise NetworkError(f"{ctx.src}: option outputs: expected neuron indices, 'all' or 'none', got {outs!r}") from None
    return [{"population": POPULATION, "indices": idx}]
