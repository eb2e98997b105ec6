"""Placement: logical cores → physical (chip, core); neurons → physical neuron slots.

Chips sit in a row on the board mesh (chip i at x = i, y = 0), so hops stay within ±7 for up to
8 chips. Logical cores are packed onto as few chips as needed, greedily: each chip is seeded
with the unplaced core that exchanges the most synapses with the rest of the network, then
filled with the cores that exchange the most synapses with the cores already on it — keeping
traffic on-chip (fewer SRAM entries and hops). Within a core, neuron i of the logical core goes
to physical neuron i. With a CAM defect profile, the logical cores needing the most CAM entries
go to the physical cores with the most working slots, and within a core the neurons that need
the most entries go to the physical neurons with the most working slots (for the tag half that
works best on that core, which routing then prefers). A logical core fits a physical core when its
neurons' primary entries, sorted, each fit the correspondingly ranked physical neuron's working slots;
when the traffic grouping puts a logical core where it cannot fit, the logical cores are matched to
all the physical cores of the chips in use instead (augmenting paths; the grouping's choice first), so
that a core whose neurons have too few working slots is left empty rather than the mapping refused.
Which tag half each entry ends up in is known only after routing: :mod:`.defect_placement` then
re-checks every neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Placement:
    core_site: list[tuple[int, int]]        # logical core → (chip, core)
    chip: np.ndarray                        # [N] chip of each neuron
    core: np.ndarray                        # [N] core
    neuron: np.ndarray                      # [N] neuron index in the core
    n_chips: int
    positions: list[tuple[int, int]]        # chip → (x, y) on the board mesh


def core_fits(need: np.ndarray, capacity: np.ndarray) -> bool:
    """Whether neurons needing ``need`` CAM entries fit physical neurons with ``capacity`` working slots
    (each neuron its own physical neuron): the k-th largest need ≤ the k-th largest capacity."""
    need = np.sort(np.asarray(need))[::-1]
    cap = np.sort(np.asarray(capacity))[::-1]
    return need.size <= cap.size and bool(np.all(need <= cap[: need.size]))


def _match_cores(L: int, candidates: list[list[tuple[int, int]]]) -> dict[int, tuple[int, int]] | None:
    """A site for every logical core from its ``candidates`` (in preference order), no site twice; None if
    no such assignment exists (augmenting paths)."""
    owner: dict[tuple[int, int], int] = {}

    def augment(c: int, seen: set) -> bool:
        for site in candidates[c]:
            if site in seen:
                continue
            seen.add(site)
            if site not in owner or augment(owner[site], seen):
                owner[site] = c
                return True
        return False

    for c in range(L):
        if not augment(c, set()):
            return None
    return {c: site for site, c in owner.items()}


def _refit_cores(qn, sites: dict, n_chips: int, geo, primary: np.ndarray, cam_defects: dict) -> dict:
    """``sites`` where every logical core fits its physical core; else a matching over all the physical
    cores of the chips in use (the grouping's site first, then the same chip, then the others)."""
    def fits(c, site):
        d = cam_defects.get(site[0])
        return d is None or core_fits(primary[qn.cores[c].neurons], d.good_slots(site[1]))

    L = len(qn.cores)
    if all(fits(c, sites[c]) for c in range(L)):
        return sites
    all_sites = [(h, k) for h in range(n_chips) for k in range(geo.cores_per_chip)]
    cands = [sorted((s for s in all_sites if fits(c, s)), key=lambda s: (s != sites[c], s[0] != sites[c][0], s))
             for c in range(L)]
    found = _match_cores(L, cands)
    return sites if found is None else found          # None: the per-neuron check names the neuron that cannot fit


def place(qn, profile, entries_per_neuron: np.ndarray, cam_defects: dict | None = None,
          primary_per_neuron: np.ndarray | None = None) -> Placement:
    geo = profile.geometry
    L = len(qn.cores)
    n_chips = -(-L // geo.cores_per_chip)
    N = qn.n_neurons
    core_of = np.zeros(N, np.int64)
    for c in qn.cores:
        core_of[c.neurons] = c.id
    src = np.asarray(qn.synapses.src, np.int64)
    dst = np.asarray(qn.synapses.dst, np.int64)
    rec = src >= qn.n_inputs
    T = np.zeros((L, L))
    np.add.at(T, (core_of[src[rec] - qn.n_inputs], core_of[dst[rec]]), 1.0)
    T = T + T.T
    np.fill_diagonal(T, 0.0)
    unplaced = list(range(L))
    sites: dict[int, tuple[int, int]] = {}
    for chip in range(n_chips):
        if not unplaced:
            break
        seed = max(unplaced, key=lambda c: (T[c].sum(), -c))
        on_chip = [seed]
        unplaced.remove(seed)
        while len(on_chip) < geo.cores_per_chip and unplaced:
            nxt = max(unplaced, key=lambda c: (T[c, on_chip].sum(), -c))
            on_chip.append(nxt)
            unplaced.remove(nxt)
        on_chip.sort()
        defects = (cam_defects or {}).get(chip)
        if defects is None:
            for k, c in enumerate(on_chip):
                sites[c] = (chip, k)
        else:  # the most demanding logical cores on the physical cores with the most working CAM slots
            demand = sorted(on_chip, key=lambda c: (-int(entries_per_neuron[qn.cores[c].neurons].sum()), c))
            phys = sorted(range(geo.cores_per_chip), key=lambda k: (-defects.quality(k), k))
            for c, k in zip(demand, phys):
                sites[c] = (chip, k)
    if cam_defects:
        primary = entries_per_neuron if primary_per_neuron is None else primary_per_neuron
        sites = _refit_cores(qn, sites, n_chips, geo, np.asarray(primary), cam_defects)
    chip_a = np.zeros(N, np.int64)
    core_a = np.zeros(N, np.int64)
    neur_a = np.zeros(N, np.int64)
    for c in qn.cores:
        ch, co = sites[c.id]
        members = np.asarray(c.neurons, np.int64)
        chip_a[members] = ch
        core_a[members] = co
        defects = (cam_defects or {}).get(ch)
        if defects is None:
            neur_a[members] = np.arange(members.size)
        else:
            good = defects.good_slots(co)                         # slots working for the core's best tag half
            phys = np.argsort(-good, kind="stable")[: members.size]
            need = np.argsort(-entries_per_neuron[members], kind="stable")
            neur_a[members[need]] = phys
    return Placement([sites[i] for i in range(L)], chip_a, core_a, neur_a, n_chips,
                     [(i, 0) for i in range(n_chips)])
