"""Learned delays on the delay grid of one measured chip (``train --init model.json --chip chip.yaml --learn-delays``).

``map --chip`` deploys a network with delays in three steps (:func:`neurodeploy.calibration.placement.deploy_on_chip`):
the quantizer picks each core's stage codes, t̄_i = V_th·C̄_dly,i/I_i on the measured profile (the cores' geometric
mean C̄_dly,i), and each entry's bits (p, m) — the level d̄(p, m) = [p ∨ m]·t̄₀ + p·t̄₁ + m·t̄₂ of eq. (9) of
:mod:`neurodeploy.device.delays` nearest to its delay —, then each measured core's stage codes are recomputed for
its own capacitors (I'_i = I_i·r_i → the nearest code, r_i = C_dly,i(core)/C̄_dly,i,
:func:`neurodeploy.calibration.apply.retarget_delay_codes`). On that core stage i then delays by

    t_i(core) = V_th·C_dly,i(core)/I(code'_i) = t̄_i·I_i·r_i/I(code'_i)      (s)

(:func:`neurodeploy.calibration.apply.chip_stage_delays`): t̄_i up to the rounding of I_i·r_i to a code, and an
entry with bits (p, m) delays by d(p, m) = [p ∨ m]·t₀(core) + p·t₁(core) + m·t₂(core).

:class:`ChipGridQuantizer` is the :class:`~neurodeploy.train.constraints.GridQuantizer` of that chip: its fit runs
``map --chip``'s deployment on the model, and each synapse slot's delay (in the QAT phase, straight-through) is
the level d(p, m) of its target's deployed core, with (p, m) chosen on t̄ as ``map --chip``'s quantizer chooses
them; its mismatch spread is eq. (10) on t_i(core), as the emulated measured chip draws it
(:func:`neurodeploy.calibration.apply.chip_delays`).

What the final model holds (:func:`settle_chip_delays`): the chip's levels d(p, m) of the codes the QAT phase trained
with, or the quantizer's d̄(p, m) of the same bits, whichever ``map --chip`` reproduces better. ``map --chip``
maps d̄ back onto those codes exactly (as ``map`` does a model without ``--chip``), and the chip then delays each
entry by d(p, m): the model differs from it by the code rounding of the retargeted currents alone,
|t_i(core)/t̄_i − 1| (up to about one per cent for a short stage's coarse codes; docs/results.md). The chip's own
levels are not on the quantizer's grid: ``map --chip`` may pick a neighbouring code for them, or the same, and then
the chip delays the model's delays exactly.
"""

from __future__ import annotations

import numpy as np

from .constraints import GridQuantizer


def delays_on_chip(cp) -> bool:
    """Whether the chip profile ``cp`` measured the delay stages (``delay_calibrated``): only then do its cores
    realise delays other than the nominal quantizer's."""
    return cp is not None and bool(cp.delay_calibrated)


class ChipGridQuantizer(GridQuantizer):
    """The weight grid of :class:`GridQuantizer` (nominal profile); delays on the measured chip ``cp``'s levels."""

    def __init__(self, structure, profile, cp, seed: int = 0):
        super().__init__(structure, profile, seed=seed)
        self.cp = cp
        self.groups: list = []

    def refit(self, theta, w: np.ndarray) -> dict:
        """The weight grid (:meth:`GridQuantizer.refit`), then ``map --chip``'s deployment of the model: per deployed
        core with delay codes, the slots onto its neurons, the quantizer's t̄ and the chip's t(core) (module doc)."""
        from ..calibration.apply import chip_stage_delays, measured_profile, stage_delays
        from ..calibration.placement import deploy_on_chip, network_sites

        report = super().refit(theta, w)
        network = self.st.to_network(theta, weights=w)
        d, config, _ = deploy_on_chip(network, self.profile, self.cp)
        measured = measured_profile(self.profile, self.cp)
        chosen, real = stage_delays(d.config, measured), chip_stage_delays(config, self.cp, measured)
        core = network_sites(config, network)[self.st.slots.dst, :2]
        self.groups = []
        for ck in sorted(real):
            sel = np.flatnonzero((core[:, 0] == ck[0]) & (core[:, 1] == ck[1]))
            if sel.size:
                self.groups.append((sel, chosen[ck], real[ck]))
        self.delay_report = d.report.get("delays")
        return report

    def _delay_groups(self):
        yield from self.groups

    def grid_values(self, u: np.ndarray) -> np.ndarray:
        """Delays [n_syn] (in ``delay_unit``) on the quantizer's levels of the same bits, d̄(p, m) on t̄ (module doc):
        what ``map --chip``'s quantizer reproduces, and the chip turns into :meth:`delay_values`."""
        return self.delay_values(u, realised=False)


def _moved(qz, theta, weights) -> float:
    """max |Δd| (``delay_unit``) between ``theta``'s delays and what the chip realises for them after ``map --chip``."""
    qz.refit(theta, weights)
    u = np.asarray(theta["delays"])
    return float(np.max(np.abs(qz.delay_values(u) - u), initial=0.0))


def settle_chip_delays(st, theta, weights, profile, cp) -> dict:
    """Learned delays on the codes the QAT phase trained with (a fit of :class:`ChipGridQuantizer` on ``theta``): of
    their levels on the chip d(p, m) and on the quantizer's grid d̄(p, m), the ones ``map --chip`` and the chip
    reproduce best — max |Δd| between the model's delays and the chip's after ``map --chip`` (module doc); the chip's
    levels on a tie. theta unchanged without learned delays."""
    if "delays" not in theta:
        return theta
    qz = ChipGridQuantizer(st, profile, cp)
    qz.refit(theta, weights)
    u = np.asarray(theta["delays"])
    chip, grid = ({**theta, "delays": f(u)} for f in (qz.delay_values, qz.grid_values))
    return min((_moved(qz, chip, weights), 0, chip), (_moved(qz, grid, weights), 1, grid), key=lambda c: c[:2])[2]
