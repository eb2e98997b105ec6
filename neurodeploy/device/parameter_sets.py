"""Which bias currents matter to each neuron, and the DAC-code vectors that decide who may share a core.

All biases are per core, so two neurons can share a core exactly when the (coarse, fine) codes of
the currents that matter to both agree. A quantity that cannot affect a neuron is "don't care"
(−1): the AHP without adaptation, I_dc without the DC latch, the NMDA gate when unused, a synapse
type it receives nothing on.
"""

from __future__ import annotations

import numpy as np

from .dendrites import DENDRITES
from .profile import NEURON_QUANTITIES

ALWAYS = ("Itau_mem", "Igain_mem", "Iref", "Ispkthr", "Ipulse")
BY_DENDRITE = {d: (f"Itau_{d}", f"Igain_{d}") for d in DENDRITES}
AHP = ("Ipulse_ahp", "Itau_ahp", "Igain_ahp", "Iw_ahp")


def relevance(network, dendrites_in: np.ndarray) -> np.ndarray:
    """[N, Q] bool: which neuron quantities matter to each neuron.

    ``dendrites_in`` [N, 4] bool: neuron receives synapses on ampa, nmda, gaba, shunt.
    """
    Q = {q: i for i, q in enumerate(NEURON_QUANTITIES)}
    rel = np.zeros((network.n_neurons, len(NEURON_QUANTITIES)), bool)
    for q in ALWAYS:
        rel[:, Q[q]] = True
    off = network.offsets()
    for p in network.populations:
        sl = slice(off[p.name], off[p.name] + p.size)
        if p.dc_enabled:
            rel[sl, Q["Idc"]] = True
        if p.adaptation:
            for q in AHP:
                rel[sl, Q[q]] = True
        if p.nmda_gate:
            rel[sl, Q["If_nmda"]] = True
    for d, name in enumerate(DENDRITES):
        for q in BY_DENDRITE[name]:
            rel[:, Q[q]] |= dendrites_in[:, d]
    return rel


def out_of_range(profile, params: dict[str, np.ndarray], rel: np.ndarray) -> dict[str, np.ndarray]:
    """quantity → neurons whose (relevant) current the quantity's bias generator cannot produce."""
    out = {}
    for qi, q in enumerate(NEURON_QUANTITIES):
        sel = rel[:, qi]
        if np.any(sel):
            conv = profile.bias.to_code(profile.quantity_to_parameter[q], params[q][sel], clip=True)
            if np.any(conv.clipped):
                out[q] = np.flatnonzero(sel)[np.flatnonzero(conv.clipped)]
    return out


def neuron_codes(network, profile, params: dict[str, np.ndarray], rel: np.ndarray) -> np.ndarray:
    """[N, Q] int: code index (coarse·256 + fine) of each relevant current, −1 where don't care.

    Currents outside a generator's range map to the end of the range (rule ``bias-range`` refuses them first).
    """
    codes = np.full(rel.shape, -1, np.int64)
    nf = profile.bias_generator.fine_levels
    for qi, q in enumerate(NEURON_QUANTITIES):
        sel = rel[:, qi]
        if not np.any(sel):
            continue
        conv = profile.bias.to_code(profile.quantity_to_parameter[q], params[q][sel], clip=True)
        codes[sel, qi] = conv.coarse * nf + conv.fine
    return codes


def _merge_compatible(keys: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Greedy merge of groups whose code vectors agree wherever both care; returns group → merged id."""
    order = np.argsort(-sizes, kind="stable")
    merged_keys: list[np.ndarray] = []
    out = np.zeros(len(keys), np.int64)
    for g in order:
        k = keys[g]
        if merged_keys:
            M = np.stack(merged_keys)
            ok = np.all((M == k) | (M < 0) | (k < 0), axis=1)
            # prefer the merge partner that shares the most specified values
            if np.any(ok):
                score = np.where(ok, np.sum((M == k) & (k >= 0), axis=1), -1)
                m = int(np.argmax(score))
                merged_keys[m] = np.where(merged_keys[m] < 0, k, merged_keys[m])
                out[g] = m
                continue
        merged_keys.append(k.copy())
        out[g] = len(merged_keys) - 1
    return out


def parameter_groups(codes: np.ndarray) -> list[np.ndarray]:
    """Neurons (sorted indices) with compatible code vectors, one array per group."""
    keys, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    merged = _merge_compatible(keys, counts)
    group_of = merged[inverse]
    groups = [np.flatnonzero(group_of == g) for g in range(merged.max() + 1)]
    return [g for g in groups if g.size]


def cores_needed(groups: list[np.ndarray], cap: int) -> int:
    """Cores the groups need without clustering (each group in chunks of ≤ ``cap``)."""
    return sum(-(-g.size // cap) for g in groups)
