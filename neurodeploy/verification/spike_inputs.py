"""What a verification runs on: counts per step, or input spikes by their times (:mod:`neurodeploy.input_times`).

Spike times reach each side as its integration can take them. With precise spike timing (``verify
--precise-timing``) the float network and every emulated board get each spike at its own time (delivered at step
⌈t/dt⌉ with its lateness, (E1)–(E2) of :mod:`neurodeploy.sim.timed_inputs`); without it, each spike counts in the
bin it falls in, ⌊t/dt⌋, at that bin's start, as a raster would. A real board (``--backend samna``) is sent every
spike at its own µs either way (:func:`neurodeploy.backends.fpga.time_events`): the chip runs in continuous time.
"""

from __future__ import annotations

import numpy as np

from ..input_times import SpikeTimes


def prepare(inputs, precise_timing: bool) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """(counts [B, T, n], their lateness [B, T, n] or None, the report's ``input`` entry) of ``inputs``: a raster of
    counts per step, or :class:`~neurodeploy.input_times.SpikeTimes`."""
    if not isinstance(inputs, SpikeTimes):
        return np.asarray(inputs), None, {"form": "counts per step"}
    info = {"form": "spike times", "spikes": int(inputs.times.size)}
    if precise_timing:
        x, late = inputs.timed()
        return x, late, {**info, "timing": "each spike at its own time (precise timing)",
                         "spikes_after_end": inputs.late_spikes}
    return inputs.counts, None, {**info, "timing": "each spike at the start of its step (floor(t/dt)); "
                                                   "--precise-timing runs them at their times"}


def board_data(inputs, x: np.ndarray, dt: float) -> dict:
    """The data a board backend runs (:mod:`neurodeploy.backends.base`): the counts ``x``; for spike-time inputs
    their counts per step and the spikes themselves (a real board sends each at its own µs)."""
    if isinstance(inputs, SpikeTimes):
        return {"spikes": inputs.counts, "dt": dt, "spike_times": inputs}
    return {"spikes": x, "dt": dt}
