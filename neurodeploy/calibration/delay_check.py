"""What a model's delays become on one measured chip: ``map --chip``, then the emulated measured chip, entry by entry.

:func:`deployed_delays` deploys a network as ``map --chip`` does (:func:`.placement.deploy_on_chip`), runs the config
as the emulated measured chip runs it (``EmulatorBackend(chip_profile=...)``, no residual mismatch:
:meth:`~neurodeploy.backends.emulator.EmulatorBackend.measured_chip`) and pairs every deployed entry's delay with the
model's delay of its synapse (s). ``rounding`` is what ``map --chip``'s code retargeting leaves: the largest relative
change of a delay level over the measured cores,

    max |level(t(core)) / level(t̄) − 1|,   level ∈ {t₀ + t₁, t₀ + t₂, t₀ + t₁ + t₂}

with t̄_i the quantizer's stage delays on the measured profile and t_i(core) the chip's
(:func:`.apply.chip_stage_delays`). A model trained for the chip (``train --chip``) is delayed within it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DeployedDelays(NamedTuple):
    model: np.ndarray        # [E] the model's delay of each deployed entry's synapse (s)
    chip: np.ndarray         # [E] the emulated measured chip's delay of the entry (s)
    rounding: float          # the code rounding of the retargeted stage codes (module doc)
    report: dict             # map --chip's delay report (rms_error_s, ...)


def deployed_delays(network, profile, cp) -> DeployedDelays:
    """``network`` (a :class:`~neurodeploy.network.Network` with delays) through ``map --chip`` on the chip profile
    ``cp`` and the emulated measured chip (module doc)."""
    from ..backends.emulator import EmulatorBackend
    from ..device.delays import levels
    from ..sim.mismatch import mismatched_delay
    from .apply import chip_stage_delays, measured_profile, stage_delays
    from .placement import deploy_on_chip, network_sites

    d, cfg, _ = deploy_on_chip(network, profile, cp)
    backend = EmulatorBackend(profile, chip_profile=cp)
    backend.load(cfg)
    backend.run({"spikes": np.zeros((1, 4, network.n_inputs), np.float32), "dt": network.dt})
    em = backend.emulator
    chip = np.asarray(mismatched_delay(*backend.measured_chip(em)), np.float64)
    dec = em.decoded
    where = np.array([dec.index_of(*map(int, s)) for s in network_sites(cfg, network)])
    first = np.cumsum([0] + [p.size for p in network.populations])
    offset = {p.name: int(first[i]) for i, p in enumerate(network.populations)}
    want = {}
    for k, pr in enumerate(network.projections):
        pre, post, _ = network.projection_coo(k)
        src = pre if pr.source == "input" else network.n_inputs + where[offset[pr.source] + pre]
        want.update(zip(zip(src.tolist(), where[offset[pr.target] + post].tolist()), network.projection_delay(k)))
    model = np.array([want[s, t] for s, t in zip(dec.src.tolist(), dec.dst.tolist())], np.float64)
    measured = measured_profile(profile, cp)
    chosen, real = stage_delays(d.config, measured), chip_stage_delays(cfg, cp, measured)
    rounding = max((float(np.max(np.abs(levels(real[k])[1:] / levels(chosen[k])[1:] - 1))) for k in real), default=0.0)
    return DeployedDelays(model, chip, rounding, d.report.get("delays") or {})
