"""The deployed config's emulated boards for ``neurodeploy verify``: the nominal board, ``n`` mismatched boards and
the same boards with nominal delays — on the device profile, or on a measured chip (a chip profile).

Board b is drawn from PRNGKey(seed + b): without a chip profile, the board ``neurodeploy emulate --seed SEED+b
--mismatch σ`` runs (computed by :func:`neurodeploy.study.engines.board_counts` in units of ``unit_size`` boards on
an engine); with one, the measured chip — the config on the measured constants
(:func:`~neurodeploy.calibration.apply.measured_profile`), each neuron's current, capacitance and weight factors the
chip profile's times a residual draw of σ (:func:`~neurodeploy.calibration.apply.chip_factors`) — the board
``neurodeploy emulate --chip chip.yaml --seed SEED+b --mismatch σ`` runs, on the same engines.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import NeurodeployError


def chip_boards(chip, source, profile, residual: float, engine, board):
    """``(report entry, profile of the deployed boards)``: ``(None, profile)`` without a chip profile; with one,
    its file name and sha256 (of ``source``'s bytes, or of the profile's canonical JSON without a file), device
    profile, cores and residual σ, and the measured profile."""
    if chip is None:
        return None, profile
    from ..calibration.apply import measured_profile
    from ..device.chip_profile import dumps_chip_profile

    if board is not None:
        raise NeurodeployError("a chip profile describes emulated boards; a board backend is the chip itself (give one)")
    if source is not None:
        name, digest = Path(source).name, hashlib.sha256(Path(source).read_bytes()).hexdigest()
    else:
        name, digest = None, hashlib.sha256(dumps_chip_profile(chip).encode()).hexdigest()
    info = {"file": name, "sha256": digest, "device_profile": chip.device_profile.name,
            "cores": [[c.chip, c.core] for c in chip.cores], "residual_sigma": residual}
    return info, measured_profile(profile, chip)


def deployed_boards(cfg, profile, x, dt, n_mm: int, mismatch: float, seed: int, counts, win, engine, unit_size: int,
                    chip=None, precise_timing: bool = False, lateness=None):
    """``(nominal [B, n], boards [n, B, n] or None, first sample's nominal raster, boards with nominal delays or
    None)``: counts in the read-out window (``counts`` sums a raster's window) of the config on ``profile`` (the
    measured profile with ``chip``); board b drawn from seed + b (module doc). ``n`` = ``n_mm``, with ``chip`` at
    least 1 (without a residual σ every board is the chip itself). ``precise_timing``: every board runs with
    precise spike timing (``emulate --precise-timing``), ``lateness`` the inputs' (spike-time inputs)."""
    from ..backends.emulator import Emulator
    from ..log import stage
    from ..study.engines import board_counts
    from .stages import boards_nominal_delays

    n_mm = max(n_mm, 1) if chip is not None else n_mm
    seeds = [seed + b for b in range(n_mm)]
    dep_mm = nominal_delays = None
    with stage(f"emulator: the nominal board and {n_mm} mismatched board(s) x {x.shape[0]} sample(s)"):
        emu = Emulator(cfg, profile, dt=dt, precise_timing=precise_timing)
        d_spk = emu.run(x, dt, lateness=lateness).outputs
        if n_mm:
            dep_mm = board_counts(engine, cfg, profile, x, dt, (win.start, win.stop), mismatch, seeds,
                                  unit_size, chip=chip, precise_timing=precise_timing, lateness=lateness)
    if n_mm:
        nominal_delays = boards_nominal_delays(cfg, profile, x, dt, mismatch, seeds, counts, unit_size, chip,
                                               precise_timing=precise_timing, lateness=lateness)
    return counts(d_spk), dep_mm, d_spk[0], nominal_delays
