"""Fine-tuning for one measured chip (``train --init model.json --chip chip.yaml``): the chip as a fixed draw.

The network is trained on the nominal profile with its own currents — ``map --chip`` retargets the time-constant
and gain currents to the measured constants (:func:`neurodeploy.calibration.apply.retarget_network`), which gives
the measured chip, core by core, the nominal chip's dynamics — and with the measured chip's per-neuron deviations
as the simulator's mismatch: neuron j sits where ``map --chip`` puts it (the same function,
:func:`neurodeploy.calibration.placement.deploy_on_chip`), at site s_j = (chip, core, neuron), and its factors are
those of s_j (:func:`neurodeploy.calibration.apply.chip_factors`):

    m_j(C_mem) = (C_mem,core / C_mem,measured)·tau_mem(s_j)     m_j(C_ref) = (C_ref,core / C_ref,measured)·t_ref(s_j)
    m_j(I_dc)  = dc_drive(s_j)                                  m_e(weight) = (C_pulse,core / C_pulse,measured)·ampa_drive(s_dst(e))

for every entry e onto neuron dst(e); 1 for everything the chip profile does not cover. Each training step draws a
residual mismatch of σ (``--mismatch``, default :data:`RESIDUAL_SIGMA`) on top, for what the calibration could not
pin down (each CAM slot's weight, the synapses' own currents): the draw is m = m_chip·(1 + σ·ξ)
(:class:`ChipTrainer`; its evaluation's first draw is the chip itself, m = m_chip).

Learned delays (``--learn-delays``) of a chip profile that measured the delay stages (``delay_calibrated``) sit, in the
QAT phase, on the levels that chip realises at each synapse's deployed core after ``map --chip``'s code retargeting,
and draw their mismatch with those levels' spreads (:mod:`.chip_delays`); a chip profile without measured delay
stages trains them as without ``--chip``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .loop import Trainer

#: the residual mismatch σ on top of the measured chip (fraction), as ``verify --chip`` uses
RESIDUAL_SIGMA = 0.02


@dataclass(frozen=True)
class MeasuredChip:
    """The chip a network is fine-tuned for: its profile, where the network's neurons sit, their factors."""

    file: str | None          # the chip profile's file name (None: given as an object)
    sha256: str               # of the file's bytes (or of the profile's canonical JSON)
    sites: np.ndarray         # [N, 3] (chip, core, neuron) of the network's neurons, map --chip's placement
    factors: dict             # chip_factors of the simulated network: {"C_mem", "C_ref", "Idc": [N], "weight": [S]}
    profile: object = None    # the ChipProfile (its delay stages: :mod:`.chip_delays`)

    def metadata(self, residual: float) -> dict:
        """What the trained model records about the chip (model.json's ``metadata.chip_profile``)."""
        cores = sorted({(int(c), int(k)) for c, k, _ in self.sites})
        return {"file": self.file, "sha256": self.sha256, "residual_sigma": residual,
                "cores": [list(ck) for ck in cores]}


def load_chip(chip):
    """(ChipProfile, file name or None, sha256) of ``chip``: a path or a ChipProfile."""
    from ..device.chip_profile import ChipProfile, dumps_chip_profile, load_chip_profile

    if isinstance(chip, ChipProfile):
        return chip, None, hashlib.sha256(dumps_chip_profile(chip).encode()).hexdigest()
    p = Path(chip)
    cp = load_chip_profile(p)
    return cp, p.name, hashlib.sha256(p.read_bytes()).hexdigest()


def measured_chip(chip, network, profile, net) -> MeasuredChip:
    """The :class:`MeasuredChip` of ``network`` (simulated as ``net``, a SimNetwork of its neurons in their global
    order) on ``chip`` (a chip profile's path or object), placed as ``map --chip`` places it on ``profile``."""
    from ..calibration.apply import chip_factors, measured_profile
    from ..calibration.placement import deploy_on_chip, network_sites
    from ..errors import ProfileError

    cp, name, digest = load_chip(chip)
    if cp.device_profile.name != profile.name:
        raise ProfileError(f"{name or 'the chip profile'}: calibrated on device profile {cp.device_profile.name!r}, "
                           f"training uses {profile.name!r} (give --profile {cp.device_profile.name})")
    _, config, _ = deploy_on_chip(network, profile, cp)
    sites = network_sites(config, network)
    if not any(cp.core(int(c), int(k)) is not None for c, k, _ in sites):
        cores = ", ".join(f"chip {c.chip} core {c.core}" for c in cp.cores)
        raise ProfileError(f"{name or 'the chip profile'}: covers {cores}, none of the cores the network is mapped "
                           f"onto (calibrate those: `neurodeploy calibrate --cores ...`)")
    f = chip_factors(sites, np.asarray(net.dst), net.n_synapses, cp, measured_profile(profile, cp))
    return MeasuredChip(name, digest, sites, {k: np.asarray(v, np.float32) for k, v in f.items()}, cp)


class ChipTrainer(Trainer):
    """The :class:`~neurodeploy.train.loop.Trainer` on a measured chip: every mismatch draw (and the nominal one)
    times the chip's factors ``chip`` (:attr:`MeasuredChip.factors`); with ``chip_profile`` delay-calibrated, learned
    delays on the levels that chip realises and their mismatch spreads on them
    (:class:`~neurodeploy.train.chip_delays.ChipGridQuantizer` for the QAT grid and the spreads)."""

    DRAW0 = "measured chip"

    def __init__(self, *args, chip: dict, chip_profile=None, **kwargs):
        from .chip_delays import ChipGridQuantizer, delays_on_chip

        self.chip = chip
        super().__init__(*args, **kwargs)
        if delays_on_chip(chip_profile):
            on_chip = lambda q: None if q is None else ChipGridQuantizer(q.st, q.profile, chip_profile)  # noqa: E731
            self.quant, self.dquant = on_chip(self.quant), on_chip(self.dquant)

    def _draws(self, key, n):
        import jax

        return jax.vmap(self._on_chip)(super()._draws(key, n))

    def _on_chip(self, mm):
        from ..calibration.apply import apply_chip_factors
        from ..sim import no_mismatch

        return apply_chip_factors(no_mismatch(self.st.net) if mm is None else mm, self.chip)
