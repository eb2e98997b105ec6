"""Training checkpoints: one ``.npz`` (written atomically) holding every pytree leaf and a JSON header.

Keys: ``theta/i``, ``opt/i``, ``best_theta/i`` (leaves in ``jax.tree_util`` order), ``mask``,
``best_weights``, and ``meta`` (JSON: epoch, step, phase, stale, best score and epoch, history,
training settings). Loading needs templates of the same structure (a fresh ``theta`` and optimiser
state), which the trainer rebuilds from the same settings.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_bytes
from .task import TrainError


def save(path: Path, state, settings: dict) -> None:
    import jax

    arrays = {}
    for prefix, tree in (("theta", state.theta), ("opt", state.opt_state),
                         ("best_theta", state.best["theta"] if state.best else None)):
        if tree is None:
            continue
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
            arrays[f"{prefix}/{i}"] = np.asarray(leaf)
    arrays["mask"] = np.asarray(state.mask)
    if state.best:
        arrays["best_weights"] = np.asarray(state.best["weights"])
        arrays["best_mask"] = np.asarray(state.best["mask"])
    meta = {"epoch": state.epoch, "step": state.step, "phase": state.phase, "stale": state.stale,
            "best_score": list(state.best["score"]) if state.best else None,
            "best_epoch": state.best["epoch"] if state.best else None,
            "history": state.history, "settings": settings}
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load(path: Path, settings: dict, theta_template, opt_templates: dict, ignore=()):
    """(meta, theta, opt_state, mask, best) from ``path``; refuses a checkpoint of other settings."""
    import jax
    import jax.numpy as jnp

    path = Path(path)
    if not path.is_file():
        raise TrainError(f"--resume: checkpoint {path} not found (it is written after every epoch of a run)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(bytes(data["meta"]).decode())
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise TrainError(f"--resume: cannot read checkpoint {path} ({e})") from None
    old = {k: v for k, v in meta["settings"].items() if k not in ignore}
    new = {k: v for k, v in settings.items() if k not in ignore}
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        raise TrainError(f"--resume: checkpoint {path} was made with other settings ({', '.join(f'{k}: {old.get(k)!r} → {new.get(k)!r}' for k in diff)}); "
                         f"use the same options, or start afresh without --resume")

    def tree(prefix, template):
        leaves, tdef = jax.tree_util.tree_flatten(template)
        stored = sum(1 for k in data if k.startswith(prefix + "/"))
        if stored != len(leaves) or any(np.shape(data[f"{prefix}/{i}"]) != np.shape(a) for i, a in enumerate(leaves)):
            raise TrainError(f"--resume: checkpoint {path} was written by another version of neurodeploy (its {prefix} "
                             f"state: {stored} arrays where this version has {len(leaves)}, or other shapes); "
                             "start afresh without --resume")
        return jax.tree_util.tree_unflatten(tdef, [jnp.asarray(data[f"{prefix}/{i}"]) for i in range(len(leaves))])

    theta = tree("theta", theta_template)
    opt_state = tree("opt", opt_templates[meta["phase"]])
    best = None
    if meta["best_score"] is not None:
        best = {"theta": tree("best_theta", theta_template), "weights": data["best_weights"], "mask": data["best_mask"],
                "score": tuple(meta["best_score"]), "epoch": meta["best_epoch"]}
    return meta, theta, opt_state, data["mask"], best
