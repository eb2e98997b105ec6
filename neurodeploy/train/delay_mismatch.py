"""The delay mismatch training draws: the emulator's, per entry and per delay stage.

The emulator gives every CAM entry with a delay one factor 1 + σ_e·ξ (ξ ~ N(0, 1), σ the chip's σ) with σ_e/σ
the spread of the level the entry's delay sits on — the stages it passes through add their variances and DLY2
varies with 3× the chip's σ (eq. (10) of :mod:`neurodeploy.device.delays`). Training draws the same: the
per-core delay levels ``map`` would choose for the current model (a fitted
:class:`~neurodeploy.train.constraints.GridQuantizer`, refitted at the start of every epoch and for every
evaluation) give each synapse slot its level's spread, and the simulator multiplies its delay mismatch by it
(:attr:`neurodeploy.sim.SimNetwork.delay_spread`, :func:`neurodeploy.sim.mismatch.mismatched_delay`).
"""

from __future__ import annotations

import numpy as np


def slot_spreads(st, quant, theta) -> np.ndarray:
    """[n_syn] float32 the delay-mismatch spread (relative to the chip's σ) of every synapse slot of structure
    ``st`` on its delay level under the fitted ``quant``: ``theta``'s learned delays, else the structure's fixed
    ones; ones without delays or before ``quant`` is fitted."""
    if quant is None or quant.core_of is None or st.slot_delay is None:
        return np.ones(st.slots.n, np.float32)
    u = theta["delays"] if "delays" in theta else st.slot_delay / st.delay_unit
    return quant.delay_spreads(np.asarray(u))


def with_spread(net, sd, entry_syn):
    """``net`` with the per-slot spreads ``sd`` [n_syn] on its entries (``entry_syn``: each entry's slot);
    unchanged without delays."""
    if net.delay is None:
        return net
    return net.replace(delay_spread=sd[entry_syn])
