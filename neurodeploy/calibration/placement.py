"""Neurons onto the physical neurons whose measured factors are closest to nominal (``map --chip``).

Within a core every neuron shares the core's bias codes, and its CAM and SRAM entries travel with it (routing is
by tag), so the neurons a core uses can sit on any of its physical neurons: a relabelling of neuron indices. With a
chip profile, each core's used neurons move onto the physical neurons of smallest deviation

    score(p) = Σ_f ln²(factor_f(p)),   f ∈ {tau_mem, t_ref, ampa_drive} (+ dc_drive for a core using DC input)

keeping their order; a neuron the chip profile does not cover scores as the core's worst. Cores the chip profile
does not cover keep their placement.
"""

from __future__ import annotations

import json

import numpy as np

SCORED: tuple[str, ...] = ("tau_mem", "t_ref", "ampa_drive")


def _scores(core, geo_neurons: int, with_dc: bool) -> np.ndarray:
    f = [k for k in SCORED] + (["dc_drive"] if with_dc else [])
    s = np.sum([np.log(np.asarray(core.factors[k])) ** 2 for k in f], axis=0)
    out = np.full(geo_neurons, (s.max() if s.size else 0.0) + 1.0)
    out[np.asarray(core.neurons, np.int64)] = s
    return out


def place_on_measured(cfg, cp, neurons_per_core: int = 256):
    """(config with each covered core's used neurons moved onto its best-measured physical neurons,
    {(chip, core): (mean score before, after)})."""
    from ..config.config_json import config_from_dict

    raw = json.loads(cfg.dumps())
    moves, report = {}, {}
    for chip in raw["chips"]:
        for core in chip["cores"]:
            cc = cp.core(chip["chip"], core["core"])
            used = [n["neuron"] for n in core["neurons"]]
            if cc is None or not used:
                continue
            score = _scores(cc, neurons_per_core, any(n.get("latch_so_dc") for n in core["neurons"]))
            best = sorted(np.argsort(score, kind="stable")[:len(used)].tolist())
            old = sorted(used)
            m = dict(zip(old, best))
            report[(chip["chip"], core["core"])] = (float(score[old].mean()), float(score[best].mean()))
            for n in core["neurons"]:
                n["neuron"] = m[n["neuron"]]
            core["neurons"].sort(key=lambda n: n["neuron"])
            moves[(chip["chip"], core["core"])] = m
    for o in raw.get("outputs", []):
        o["neuron"] = moves.get((o["chip"], o["core"]), {}).get(o["neuron"], o["neuron"])
    for p in raw.get("placement", []):
        p["neuron"] = [moves.get((c, k), {}).get(n, n) for c, k, n in zip(p["chip"], p["core"], p["neuron"])]
    return config_from_dict(raw, "the placement on measured neurons"), report


def deploy_on_chip(network, nominal, cp, *, cam_profiles=None, **options):
    """What ``map --chip`` does: the network retargeted to the chip profile's constants
    (:func:`~neurodeploy.calibration.apply.retarget_network`), deployed on the measured profile
    (:func:`~neurodeploy.calibration.apply.measured_profile`; ``options`` go to
    :func:`neurodeploy.deployment.deploy`), then each core's neurons moved onto its best-measured physical neurons
    (:func:`place_on_measured`; not with ``cam_profiles``, whose CAM-defect placement is kept); with measured delay
    stages, each core's delay codes for its own C_dly (:func:`~neurodeploy.calibration.apply.retarget_delay_codes`).
    Returns (deployment, config, {(chip, core): (mean score before, after)})."""
    from ..deployment import deploy
    from .apply import measured_profile, retarget_delay_codes, retarget_network

    measured = measured_profile(nominal, cp)
    d = deploy(retarget_network(network, nominal, measured), measured, cam_profiles=cam_profiles, **options)
    config, _ = retarget_delay_codes(d.config, cp, measured)
    if cam_profiles:
        return d, config, {}
    config, moved = place_on_measured(config, cp, measured.geometry.neurons_per_core)
    return d, config, moved


def network_sites(config, network) -> np.ndarray:
    """[N, 3] (chip, core, neuron) of every neuron of ``network`` (in its global order: population by population)
    in ``config``'s placement."""
    from ..errors import NeurodeployError

    where = {p.population: p for p in config.placement}
    rows = []
    for pop in network.populations:
        p = where.get(pop.name)
        if p is None or len(p.neuron) != pop.size:
            raise NeurodeployError(f"population {pop.name!r}: not placed by the config (map it from this network)")
        rows.append(np.stack([np.asarray(p.chip), np.asarray(p.core), np.asarray(p.neuron)], axis=1))
    return np.concatenate(rows).astype(np.int64).reshape(-1, 3)
