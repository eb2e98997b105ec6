"""Cross-field checks of a model.json (Network): what pydantic's per-field types cannot say."""

from __future__ import annotations

import math

import numpy as np

from .basemodel import nonfinite_numbers

#: Largest synaptic delay a model may give (s): the order of delays reported on Dynap-SE chips (tens of ms).
MAX_DELAY = 0.1


def _finite_positive(v, path: str, problems: list[str], size: int, what: str):
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] != size:
        problems.append(f"{path}: expected one value per neuron ({size}), got {arr.shape[0]}")
        return
    bad = ~np.isfinite(arr) | (arr <= 0)
    if np.any(bad):
        i = int(np.flatnonzero(np.atleast_1d(bad))[0])
        val = np.atleast_1d(arr)[i]
        where = f"{path}[{i}]" if arr.ndim == 1 else path
        problems.append(f"{where}: {what} must be a positive, finite current in amperes, got {val}")


def network_problems(network) -> list[str]:
    """Cross-field rules of a :class:`~neurodeploy.network.Network` (names, shapes, indices, signs, finite
    numbers); one ``$.path: message`` string per problem. The design rules of the chip are in :mod:`neurodeploy.rules`."""
    problems: list[str] = []
    names: dict[str, int] = {}
    for i, p in enumerate(network.populations):
        if p.name == "input":
            problems.append(f"$.populations[{i}].name: 'input' is reserved for the network's input channels")
        if p.name in names:
            problems.append(f"$.populations[{i}].name: duplicate population name {p.name!r} (also $.populations[{names[p.name]}])")
        names[p.name] = i
        for q, v in p.given().items():
            _finite_positive(v, f"$.populations[{i}].{q}", problems, p.size, q)
    for k, pr in enumerate(network.projections):
        base = f"$.projections[{k}]"
        if pr.source != "input" and pr.source not in names:
            problems.append(f"{base}.source: unknown population {pr.source!r} (known: input, {', '.join(names)})")
            continue
        if pr.target not in names:
            problems.append(f"{base}.target: unknown population {pr.target!r} (known: {', '.join(names)})")
            continue
        n_src = network.n_inputs if pr.source == "input" else network.populations[names[pr.source]].size
        n_tgt = network.populations[names[pr.target]].size
        if pr.weight is not None:
            if len(pr.weight) != n_src:
                problems.append(f"{base}.weight: expected {n_src} rows (one per {pr.source} neuron), got {len(pr.weight)}")
            for r, row in enumerate(pr.weight):
                if len(row) != n_tgt:
                    problems.append(f"{base}.weight[{r}]: expected {n_tgt} columns, got {len(row)}")
                    break
                for c, x in enumerate(row):
                    if not math.isfinite(x):
                        problems.append(f"{base}.weight[{r}][{c}]: weight must be finite, got {x}")
                        break
        elif pr.pre is not None:
            if not (len(pr.pre) == len(pr.post) == len(pr.w)):
                problems.append(f"{base}: 'pre', 'post' and 'w' must have equal lengths, got {len(pr.pre)}, {len(pr.post)}, {len(pr.w)}")
            else:
                for field, arr, n in (("pre", pr.pre, n_src), ("post", pr.post, n_tgt)):
                    for j, x in enumerate(arr):
                        if not 0 <= x < n:
                            problems.append(f"{base}.{field}[{j}]: index {x} out of range 0..{n - 1}")
                            break
                for j, x in enumerate(pr.w):
                    if not math.isfinite(x):
                        problems.append(f"{base}.w[{j}]: weight must be finite, got {x}")
                        break
                pairs = set()
                for j, (a, b) in enumerate(zip(pr.pre, pr.post)):
                    if (a, b) in pairs:
                        problems.append(f"{base}.pre[{j}]: duplicate synapse {pr.source}[{a}] -> {pr.target}[{b}]")
                        break
                    pairs.add((a, b))
        if pr.delay is not None:
            _check_delay(pr, base, n_src, n_tgt, problems)
        if pr.synapse in ("ampa", "nmda", "gaba", "shunt"):
            w = np.asarray(pr.weight if pr.weight is not None else (pr.w or []), dtype=np.float64)
            if w.size and np.any(w < 0):
                problems.append(f"{base}.weight: negative weights on a '{pr.synapse}' projection; the dendrite sets the sign — "
                                f"give magnitudes, or use synapse 'auto'")
    problems.extend(f"{where}: numbers must be finite, got {v}" for where, v in nonfinite_numbers(network.metadata, "$.metadata"))
    _check_outputs(network, names, problems)
    return problems


def _check_outputs(network, names: dict, problems: list[str]) -> None:
    """``$.outputs``: known populations, indices in range, no empty 'sum' group, and a neuron of a 'sum'
    group read out nowhere else (it would count twice)."""
    seen: dict[tuple[str, int], int] = {}
    summed = {(o.population, i) for o in network.outputs if o.readout == "sum" and o.population in names
              for i in (range(network.populations[names[o.population]].size) if o.indices is None else o.indices)}
    for k, o in enumerate(network.outputs):
        if o.population not in names:
            problems.append(f"$.outputs[{k}].population: unknown population {o.population!r}")
            continue
        n = network.populations[names[o.population]].size
        if o.readout == "sum" and o.indices is not None and not o.indices:
            problems.append(f"$.outputs[{k}].indices: a 'sum' read-out needs at least one neuron")
        for j, i in enumerate(o.indices or []):
            if not 0 <= i < n:
                problems.append(f"$.outputs[{k}].indices[{j}]: index {i} out of range 0..{n - 1}")
                break
        for i in (range(n) if o.indices is None else o.indices):
            if (o.population, i) in seen and (o.population, i) in summed:
                problems.append(f"$.outputs[{k}]: neuron {o.population}[{i}] is already read out by "
                                f"$.outputs[{seen[o.population, i]}] and is in a 'sum' read-out; read it out once")
                break
            seen[o.population, i] = k


def _check_delay(pr, base: str, n_src: int, n_tgt: int, problems: list[str]) -> None:
    """A projection's ``delay`` (s): one number, or the weights' shape; finite, 0..MAX_DELAY."""

    where = f"{base}.delay"
    try:
        d = np.asarray(pr.delay, dtype=np.float64)
    except ValueError:
        problems.append(f"{where}: rows of different lengths; give one number or the weights' shape")
        return
    if d.ndim > 0:
        if pr.weight is not None:
            shape = (n_src, n_tgt)
        elif pr.w is not None:
            shape = (len(pr.w),)
        else:
            problems.append(f"{where}: a sidecar projection takes one delay for all its synapses (a number)")
            return
        if d.shape != shape:
            problems.append(f"{where}: expected one number or shape {list(shape)} (the weights'), got {list(d.shape)}")
            return
    bad = ~np.isfinite(d) | (d < 0) | (d > MAX_DELAY)
    if np.any(bad):
        idx = np.argwhere(np.atleast_1d(bad))[0] if d.ndim else ()
        val = d[tuple(idx)] if d.ndim else float(d)
        at = "".join(f"[{int(i)}]" for i in idx)
        problems.append(f"{where}{at}: delays must be finite, in seconds, 0..{MAX_DELAY}, got {val}")
