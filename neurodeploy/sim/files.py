"""File handling of ``neurodeploy simulate``: load a network and an input file, simulate, write the result.

Input ``.npz``: ``spikes`` — event counts per bin, [T, n_inputs] or [batch, T, n_inputs] — and ``dt``
(s), which must equal the network's ``dt`` within 1e-12 s. Output ``.npz`` (written atomically):
``spikes`` (uint8 counts, same leading layout as the input, last axis = all N neurons), ``dt``,
``output_indices`` (the spec's read-out neurons), ``mismatch`` (σ) and ``seed``; with ``record`` also
every state variable of :data:`neurodeploy.sim.RECORDED` (float32, A).

Mismatch: ``mismatch`` is the relative standard deviation σ of every factor (0.1 = 10 % σ, i.e. the
usual "30 % at 3σ"); 0 simulates the nominal chip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import SimError

DT_TOLERANCE = 1e-12


def load_input(path: str | Path, n_inputs: int, dt: float, model: str = "the network") -> np.ndarray:
    """Read and check an input ``.npz``; returns the event counts (float32, [T, n] or [B, T, n])."""
    path = Path(path)
    if not path.is_file():
        raise SimError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # not a zip / not an npz
        raise SimError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None
    expected = f"[T, {n_inputs}] or [batch, T, {n_inputs}] ({n_inputs} = n_inputs of {model})"
    if "spikes" not in arrays:
        raise SimError(f"{path}: no array 'spikes' (has: {', '.join(arrays) or 'nothing'}); expected event counts {expected}")
    if "dt" not in arrays:
        raise SimError(f"{path}: no array 'dt' (the input's time step in seconds; must equal the network's dt = {dt} s)")
    x = arrays["spikes"]
    if x.ndim not in (2, 3) or x.shape[-1] != n_inputs or x.shape[-2] == 0:
        raise SimError(f"{path}: $.spikes: expected shape {expected}, got {list(x.shape)}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
        raise SimError(f"{path}: $.spikes: expected numeric event counts, got dtype {x.dtype}")
    xf = x.astype(np.float64)
    if not np.all(np.isfinite(xf)) or np.any(xf < 0) or np.any(xf != np.round(xf)):
        raise SimError(f"{path}: $.spikes: event counts must be finite non-negative integers")
    d = arrays["dt"]
    if d.size != 1 or not (np.issubdtype(d.dtype, np.integer) or np.issubdtype(d.dtype, np.floating)):
        raise SimError(f"{path}: $.dt: expected one number (seconds), got shape {list(d.shape)} of {d.dtype}")
    d = float(d.reshape(()))
    if not abs(d - dt) <= DT_TOLERANCE:
        raise SimError(f"{path}: $.dt: input dt = {d:g} s differs from the network's dt = {dt:g} s ({model}); "
                       f"they must be equal (within {DT_TOLERANCE:g} s) — re-bin the input or change the network's dt")
    return xf.astype(np.float32)


def simulate_files(model: str | Path, input: str | Path, output: str | Path, *, mismatch: float = 0.0, seed: int = 0,
                   record: bool = False, profile: str = "dynapse2", import_options: dict | None = None) -> dict:
    """Run ``model`` on ``input`` and write ``output``; returns a summary dict."""
    import jax

    from ..fileio import atomic_savez
    from ..profile import load_profile
    from ..importers import load_network
    from .mismatch import sample_mismatch
    from .network import build_from_spec
    from .simulate import simulate

    if not (np.isfinite(mismatch) and mismatch >= 0):
        raise SimError(f"--mismatch: expected a relative standard deviation >= 0 (0.1 = 10 %), got {mismatch}")
    prof = load_profile(profile)
    spec = load_network(model, profile=prof, **(import_options or {}))
    x = load_input(input, spec.n_inputs, spec.dt, str(model))
    net, index = build_from_spec(spec, prof)
    draw = sample_mismatch(net, jax.random.PRNGKey(seed), sigma=mismatch) if mismatch > 0 else None
    spikes, _, rec = simulate(net, x, draw, record=record)
    spikes = np.asarray(spikes)
    out = {"spikes": np.round(spikes).astype(np.uint8), "dt": np.float64(spec.dt),
           "output_indices": np.asarray(index.output_indices, np.int64),
           "mismatch": np.float64(mismatch), "seed": np.int64(seed)}
    if record:
        out.update({k: np.asarray(v, np.float32) for k, v in rec.items()})
    atomic_savez(output, **out)
    steps = spikes.shape[-2]
    batch = spikes.shape[0] if spikes.ndim == 3 else 1
    total = float(spikes.sum())
    return {"batch": batch, "steps": steps, "neurons": spec.n_neurons, "dt": spec.dt, "spikes": int(round(total)),
            "rate": total / max(batch * steps * spec.dt * max(spec.n_neurons, 1), 1e-30), "output": str(output)}
