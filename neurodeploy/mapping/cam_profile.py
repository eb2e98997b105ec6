"""Measured CAM defect profiles of individual chips (which CAM slots and tags work).

File format (as published with Maryada et al. 2023, see device_profiles data README):
``cams[core][neuron][slot] = [failure rate with tags 0..1023, failure rate with tags 1024..2047]``;
optional ``tags[core][half]`` = the tags found usable; ``prob[half][core]`` = failure fraction.
Plain ``.json`` or gzip-compressed ``.json.gz``.
A slot is usable for a tag half when its failure rate is ≤ ``tolerance`` (default 0: never failed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MappingError


@dataclass(frozen=True)
class CamDefects:
    """Usable CAM slots and tags of one chip."""

    source: str
    good_slot: np.ndarray    # [cores, neurons, slots, 2 halves] bool
    good_tag: np.ndarray     # [cores, n_tags] bool

    def good_slots(self, core: int, half: int | None = None) -> np.ndarray:
        """[neurons] number of usable slots per neuron of a core for a tag half (default: its best half)."""
        return self.good_slot[core, :, :, self.best_half(core) if half is None else half].sum(-1)

    def best_half(self, core: int) -> int:
        """The tag half (0: tags 0..1023, 1: 1024..2047) with more working CAM slots on this core."""
        per_half = self.good_slot[core].sum(axis=(0, 1))
        return int(np.argmax(per_half[::-1]) == 0)  # ties → high half

    def quality(self, core: int) -> int:
        """Working CAM slots of the core in its best half."""
        return int(self.good_slot[core, :, :, self.best_half(core)].sum())


def load_cam_profile(path: str | Path, profile, tolerance: float = 0.0) -> CamDefects:
    path = Path(path)
    g = profile.geometry
    if not path.is_file():
        raise MappingError(f"{path}: CAM profile not found", rule="cam-profile")
    try:
        data = path.read_bytes()
        if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
            import gzip
            import zlib

            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as e:
                raise MappingError(f"{path}: not a complete gzip file ({type(e).__name__}: {e}); "
                                   f"re-copy the measured profile (.json or .json.gz)", rule="cam-profile") from None
        raw = json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as e:
        raise MappingError(f"{path}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}", rule="cam-profile") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as e:
        raise MappingError(f"{path}: not a JSON CAM profile ({type(e).__name__})", rule="cam-profile") from None
    if not isinstance(raw, dict) or "cams" not in raw:
        raise MappingError(f"{path}: $.cams: missing (a CAM profile holds cams[core][neuron][slot] = [rate_low, rate_high])",
                           rule="cam-profile")
    try:
        cams = np.asarray(raw["cams"], dtype=np.float64)
    except (ValueError, TypeError):
        raise MappingError(f"{path}: $.cams: not a regular numeric array", rule="cam-profile") from None
    shape = (g.cores_per_chip, g.neurons_per_core, g.cam_entries_per_neuron, 2)
    if cams.shape != shape:
        raise MappingError(f"{path}: $.cams: shape {cams.shape}, expected {shape} [core][neuron][slot][half]", rule="cam-profile")
    if not np.all(np.isfinite(cams)) or np.any((cams < 0) | (cams > 1)):
        raise MappingError(f"{path}: $.cams: failure rates must lie in 0..1", rule="cam-profile")
    good_tag = np.ones((g.cores_per_chip, g.n_tags), bool)
    if "tags" in raw:
        tags = raw["tags"]
        if not isinstance(tags, list) or len(tags) != g.cores_per_chip:
            raise MappingError(f"{path}: $.tags: expected one entry per core ({g.cores_per_chip})", rule="cam-profile")
        good_tag[:] = False
        for c, halves in enumerate(tags):
            if not isinstance(halves, list):
                raise MappingError(f"{path}: $.tags[{c}]: expected a list of tag lists", rule="cam-profile")
            for h, lst in enumerate(halves):
                if not isinstance(lst, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in lst):
                    raise MappingError(f"{path}: $.tags[{c}][{h}]: expected a list of integer tags", rule="cam-profile")
                arr = np.asarray(lst, dtype=np.int64)
                if arr.size and (arr.min() < 0 or arr.max() >= g.n_tags):
                    raise MappingError(f"{path}: $.tags[{c}][{h}]: tags must lie in 0..{g.n_tags - 1}", rule="cam-profile")
                good_tag[c, arr] = True
    return CamDefects(str(path), cams <= tolerance, good_tag)
