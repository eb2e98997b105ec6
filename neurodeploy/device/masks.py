"""The 4-bit masks of Dynap-SE2, encoded and decoded in one place.

* Weight mask of a CAM entry: bit b selects the core's base weight SYAM_Wb_P; the synapse's current
  is S(mask) = Σ_b bit_b(mask) · W_b (A). In a config it is a 4-character string whose character b
  is bit b (``"1010"`` = W0 + W2).
* Core mask of an SRAM / FPGA destination: bit k (list element k) selects core k of the target chip.
* The alphabet of a synapse class (:class:`Alphabet`): the single-entry values a CAM entry can take,
  S(mask) on its own dendrite or, where the NMDA dendrite serves as a second excitatory scale g,
  g·S(mask) — what the quantizer fits and the mapper assigns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: [16 masks, 4 bases]: MASK_BITS[m, b] = bit b of mask m.
MASK_BITS = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(np.float64)


def mask_to_str(mask: int) -> str:
    """Mask index (bit b selects SYAM_Wb_P) → config string, character b = bit b ("1010" = W0 + W2)."""
    return "".join("1" if (mask >> b) & 1 else "0" for b in range(4))


def mask_from_str(s: str) -> int:
    """Config mask string → mask index (inverse of :func:`mask_to_str`)."""
    return sum(1 << b for b, ch in enumerate(s) if ch == "1")


def subset_sums(W) -> np.ndarray:
    """The 16 currents S(mask) (A) for base weights W [4] (A); index = mask."""
    W = np.asarray(W, dtype=np.float64)
    # a fixed left-to-right sum, not ``MASK_BITS @ W`` (BLAS kernels differ in order, so in the last bit)
    return ((MASK_BITS[:, 0] * W[0] + MASK_BITS[:, 1] * W[1]) + MASK_BITS[:, 2] * W[2]) + MASK_BITS[:, 3] * W[3]


def entry_weights(masks: np.ndarray, W: np.ndarray) -> np.ndarray:
    """[E] current (A) of entries with masks [E] on cores with base weights W [E, 4] (A)."""
    if not len(masks):
        return np.zeros(0)
    B, W = MASK_BITS[masks], np.asarray(W, dtype=np.float64)
    return ((B[:, 0] * W[:, 0] + B[:, 1] * W[:, 1]) + B[:, 2] * W[:, 2]) + B[:, 3] * W[:, 3]   # fixed order, as subset_sums


def core_mask_to_int(bits) -> int:
    """Core mask as a list of booleans (element k = core k) → integer (bit k)."""
    return sum(1 << k for k, on in enumerate(bits) if on)


def core_mask_from_int(mask: int, n_cores: int = 4) -> list[bool]:
    """Integer core mask → list of booleans (element k = core k)."""
    return [bool((int(mask) >> k) & 1) for k in range(n_cores)]


@dataclass
class Alphabet:
    """The single-entry options of a synapse class: (scale kind, mask) pairs and their values."""

    kinds: np.ndarray   # [K] 0 = own dendrite, 1 = NMDA-scaled
    masks: np.ndarray   # [K]
    scales: np.ndarray  # [K] scale of each option (1 or g)

    @staticmethod
    def make(g: float | None) -> "Alphabet":
        if g is None:
            return Alphabet(np.zeros(16, int), np.arange(16), np.ones(16))
        return Alphabet(np.r_[np.zeros(16, int), np.ones(15, int)], np.r_[np.arange(16), np.arange(1, 16)],
                        np.r_[np.ones(16), np.full(15, g)])

    def values(self, W) -> np.ndarray:
        return self.scales * subset_sums(W)[self.masks]

    def rows(self) -> np.ndarray:
        """[K, 4] design rows: scale × bits of the option's mask."""
        return self.scales[:, None] * MASK_BITS[self.masks]
