"""Neurons onto the physical neurons whose working CAM slots fit them (chips with a CAM defect profile).

A CAM entry works only on a slot that the chip's profile marks usable for its tag's half (tags 0..1023
or 1024..2047; :mod:`.cam_profile`). Which half each entry needs is known once tags are assigned, so
after routing every core with a profile is checked: logical neuron n with a₀ primary entries in the
low half and a₁ in the high half fits physical neuron p when

    a₀ ≤ |S₀(p)|,   a₁ ≤ |S₁(p)|,   a₀ + a₁ ≤ |S₀(p) ∪ S₁(p)|

(S_h(p): p's slots usable for half h; Hall's condition for putting the entries on distinct slots). A core
where every neuron already fits keeps its placement. Otherwise the core's neurons are matched to its
physical neurons — a maximum bipartite matching (augmenting paths, Kuhn's algorithm) over the
"fits" relation, the neediest neurons first and each preferring the physical neuron with the fewest
working slots that still holds its spare entries too — so a core is refused only when no assignment
of its neurons exists. Spare entries (second entries of a synapse) that do not fit are dropped later
(:func:`.routing.fit_cam_to_defects`).
"""

from __future__ import annotations

import sys

import numpy as np

from ..device.profile import HOST_X_HOP, host_tag
from ..rules import placement as rules


def entry_halves(routing, n: int, half_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(primary, spare) entry counts of logical neuron ``n`` per tag half ([2] each)."""
    prim, spare = np.zeros(2, np.int64), np.zeros(2, np.int64)
    for (tag, _d, _m), (_i, part) in zip(routing.cam.get(n, []), routing.cam_syn.get(n, [])):
        (spare if part else prim)[int(tag) // half_size] += 1
    return prim, spare


def _fits(need: np.ndarray, s0, s1, u) -> np.ndarray:
    """[m, P] bool: neuron i's entry counts per half ``need[i]`` fit physical neuron p."""
    a0, a1 = need[:, :1], need[:, 1:]
    return (a0 <= s0[None]) & (a1 <= s1[None]) & (a0 + a1 <= u[None])


def _match(feasible: np.ndarray, order: list[int], prefs: list[np.ndarray]) -> dict[int, int]:
    """Maximum matching of rows (neurons) to columns (physical neurons), rows tried in ``order`` and each
    row's columns in ``prefs[row]`` order → {row: column} (rows left out could not be matched)."""
    owner = np.full(feasible.shape[1], -1, np.int64)

    def augment(i: int, seen: np.ndarray) -> bool:
        for p in prefs[i]:
            if seen[p]:
                continue
            seen[p] = True
            if owner[p] < 0 or augment(int(owner[p]), seen):
                owner[p] = i
                return True
        return False

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * feasible.shape[1] + 100))
    try:
        for i in order:
            augment(i, np.zeros(feasible.shape[1], bool))
    finally:
        sys.setrecursionlimit(limit)
    return {int(i): int(p) for p, i in enumerate(owner) if i >= 0}


def refit_neurons(placement, routing, defects_by_chip: dict, profile, name_of, n_in: int) -> int:
    """Move the neurons of each core with a CAM defect profile onto physical neurons that fit them (module
    doc), updating ``placement.neuron`` and the host routes' tags (core · 256 + neuron). → neurons moved."""
    geo = profile.geometry
    half_size = geo.n_tags // 2
    moved = 0
    for ch, d in sorted(defects_by_chip.items()):
        for core in range(geo.cores_per_chip):
            members = np.flatnonzero((placement.chip == ch) & (placement.core == core))
            if members.size == 0:
                continue
            good = d.good_slot[core]                                   # [neurons, slots, 2]
            s0, s1, u = good[..., 0].sum(1), good[..., 1].sum(1), (good[..., 0] | good[..., 1]).sum(1)
            halves = [entry_halves(routing, int(n), half_size) for n in members]
            need = np.array([h[0] for h in halves]).reshape(-1, 2)
            total = need + np.array([h[1] for h in halves]).reshape(-1, 2)
            feasible = _fits(need, s0, s1, u)
            if feasible[np.arange(members.size), placement.neuron[members]].all():
                continue                                             # every neuron fits where it is
            roomy = _fits(total, s0, s1, u)
            order = sorted(range(members.size), key=lambda i: (-int(need[i].sum()), int(members[i])))
            prefs = []
            for i in range(members.size):       # room for the spares first, then the fewest working slots
                rank = np.lexsort((np.arange(u.size), u, ~roomy[i]))
                prefs.append(rank[feasible[i][rank]])
            match = _match(feasible, order, prefs)
            for i in order:
                if i not in match:
                    n = int(members[i])
                    usable = int(max(min(s0[p] if need[i][0] else u[p], s1[p] if need[i][1] else u[p], u[p])
                                     for p in range(u.size)))
                    rules.cam_defects(name_of(n + n_in), int(ch), core, int(placement.neuron[n]), int(need[i].sum()),
                                      d.source, usable)
            for i, p in match.items():
                n = int(members[i])
                if placement.neuron[n] != p:
                    moved += 1
                placement.neuron[n] = p
            for n in members:
                for dst in routing.sram.get(int(n), []):
                    if dst["x_hop"] == HOST_X_HOP:
                        dst["tag"] = host_tag(core, placement.neuron[n], geo.neurons_per_core)
    return moved
