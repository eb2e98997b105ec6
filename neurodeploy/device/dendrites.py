"""The dendrite (synapse) types of a Dynap-SE2 neuron: one definition for every stage.

Index order is the simulator's and the quantizer's: 0 AMPA, 1 NMDA (excitatory), 2 GABA, 3 SHUNT
(inhibitory). A CAM entry may also be unused: ``CAM_DENDRITES`` puts ``none`` first (the config's
and the decoded board state's index order). A synapse of type ``auto`` takes AMPA for w > 0 and
GABA for w < 0 (the sign of a weight comes only from its dendrite).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Dendrite(IntEnum):
    AMPA = 0
    NMDA = 1
    GABA = 2
    SHUNT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


DENDRITES: tuple[str, ...] = tuple(d.label for d in Dendrite)            # ("ampa", "nmda", "gaba", "shunt")
DENDRITE_INDEX: dict[str, int] = {d.label: int(d) for d in Dendrite}
EXCITATORY: tuple[str, ...] = ("ampa", "nmda")
CAM_DENDRITES: tuple[str, ...] = ("none",) + DENDRITES                   # a CAM entry's dendrite field
CAM_DENDRITE_INDEX: dict[str, int] = {d: i for i, d in enumerate(CAM_DENDRITES)}


def dendrite_of_sign(w) -> np.ndarray:
    """Dendrite index of ``auto`` synapses: AMPA where w > 0, GABA elsewhere."""
    return np.where(np.asarray(w) > 0, int(Dendrite.AMPA), int(Dendrite.GABA))


def dendrite_index(name: str, w) -> np.ndarray:
    """Dendrite index per synapse of a projection of type ``name`` (``auto`` or a dendrite) with weights ``w``."""
    if name == "auto":
        return dendrite_of_sign(w)
    return np.full(np.shape(w), DENDRITE_INDEX[name])
