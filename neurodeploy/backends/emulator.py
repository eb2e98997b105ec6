"""Bit-accurate emulator of a Dynap-SE2 board: runs a HardwareConfig like the chips would.

The digital side is decoded exactly (:func:`neurodeploy.config.decode.decode`: DAC codes through
the measured bias table, 4-bit masks summing the core's base weights, tag matching including
crosstalk and repeated tags, hops, core masks, latches). The analog side is the ONE simulator
(:mod:`neurodeploy.sim`) run on the decoded network, with device mismatch.

Mismatch belongs to the silicon: the factor of a neuron's bias current or capacitance is drawn
from (seed, chip, core, neuron) and a weight's from (seed, chip, core, neuron, CAM slot), so a
physical location keeps its factor whatever else is configured, and crosstalk matches of one CAM
entry share its factor. ``trials`` stacks independent boards (seeds) for one vmapped call.

The chip's edge is emulated too: the host sees a neuron's spikes only through an SRAM destination that
reaches it (:func:`neurodeploy.device.profile.reaches_host`). A model output whose neuron holds no such route
reports no spikes, as on a board; :func:`unrouted_outputs` names them.

Timing: by default the simulator's bins, every event at the start of a bin (input events binned by ⌊t/dt⌋, a
spike acting at the next bin's start). ``precise_timing`` (``neurodeploy emulate --precise-timing``) runs the
decoded network with precise spike timing — a spike acts on its targets from its time inside the bin, and
timestamped input events (``events``) from their own µs timestamps (delivered at step ⌈t/dt⌉ with their
lateness, :mod:`neurodeploy.sim.timed_inputs`; eqs. (P1)–(P4) of :mod:`neurodeploy.sim.model`). A raster
input (``spikes``) has no times within its bins: its counts act at their bins' starts.

Reported times: without precise timing a spike of bin t is reported at t·dt, its bin's start (µs, as the board's
clock counts). With it the run records each spike's lateness a = dt − (its time from the bin's start) (s,
``EmulationResult.lateness``; the simulator's ``record="lateness"``) and the events report it at its own time,
t_s = (t + 1)·dt − min(a, dt), rounded to the µs (eq. (O1) of :mod:`neurodeploy.backends.events`): within its
bin, so the spikes per bin, the outputs and the read-out window count it where they did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.decode import DecodedNetwork, decode
from ..errors import BackendError
from .base import Backend
from .events import spike_events
from .fpga import host_visible, unrouted_outputs


@dataclass
class EmulationResult:
    spikes: np.ndarray      # [(trials,) batch, T, M] spikes of every configured neuron (the emulator sees all)
    outputs: np.ndarray     # [(trials,) batch, T, n_out] spikes of the model outputs the host sees, in order
    sites: np.ndarray       # [M, 3] (chip, core, neuron)
    dt: float
    info: dict | None = None    # notes for the CLI (outputs without a host route)
    window: object | None = None    # the read-out window (neurodeploy.inputs.Window), set by backends.base.run_file
    lateness: np.ndarray | None = None  # [(trials,) batch, T, M] s: each spike's a = dt − t_s (precise timing; else None)

    def events(self) -> np.ndarray:
        """[K, 5] (batch, timestamp µs, chip, core, neuron) — first trial when several. A spike of bin t at t·dt;
        with precise timing (``lateness``) at (t + 1)·dt − min(a, dt), rounded to the µs (module docstring)."""
        first = self.spikes.ndim != 3
        s = self.spikes[0] if first else self.spikes
        late = None if self.lateness is None else (self.lateness[0] if first else self.lateness)
        return spike_events(s, self.sites, self.dt, late)


class Emulator:
    """A board running ``cfg``. ``input_routes`` (from raw FPGA events) replaces the config's inputs."""

    def __init__(self, cfg, profile, input_routes=None, dt: float = 1e-3, precise_timing: bool = False):
        from ..sim import build_from_arrays

        self.cfg, self.profile = cfg, profile
        self.decoded: DecodedNetwork = decode(cfg, profile, input_routes)
        self.seen = host_visible(cfg)                   # [n_out] outputs the host sees
        self.unrouted = unrouted_outputs(cfg)
        d = self.decoded
        self.net = build_from_arrays(d.n_inputs, d.params, d.flags, d.src, d.dst, d.dendrite, d.weight, profile, dt=dt,
                                     delay=d.delay, delay_spread=d.delay_spread, precise_timing=precise_timing)

    # ---- mismatch --------------------------------------------------------------------------
    def locations(self):
        """The physical location of every decoded neuron and synapse entry (see module doc)."""
        from ..sim.mismatch import Locations

        geo = self.profile.geometry
        d = self.decoded
        chips = np.unique(d.sites[:, 0]) if d.sites.size else np.zeros(0, np.int64)
        pos = {int(c): i for i, c in enumerate(chips)}
        n_slot = geo.cam_entries_per_neuron
        site = d.sites[:, 1] * geo.neurons_per_core + d.sites[:, 2]
        return Locations(tuple(int(c) for c in chips), np.array([pos[int(c)] for c in d.sites[:, 0]], np.int64), site,
                         np.array([pos[int(c)] for c in d.sites[d.dst, 0]], np.int64),
                         site[d.dst] * n_slot + d.cam_entry % n_slot,
                         geo.cores_per_chip * geo.neurons_per_core, geo.cores_per_chip * geo.neurons_per_core * n_slot,
                         delays=d.delay is not None)

    def mismatch(self, seed: int, sigma: float, trials: int | None = None):
        """Mismatch draw(s) of this board, σ a fraction (0.1 = 10 %); ``trials`` → stacked draws."""
        from ..sim.mismatch import sample_located_mismatch

        return sample_located_mismatch(self.locations(), seed, sigma=sigma, trials=trials)

    # ---- running ---------------------------------------------------------------------------
    def run(self, raster, dt: float, *, mismatch: float = 0.0, seed: int = 0, trials: int | None = None,
            with_nominal: bool = False, lateness=None) -> EmulationResult:
        """Run on input counts [batch, T, n_sources] (or [T, n]); ``trials`` boards in one compiled program
        (:func:`neurodeploy.sim.simulate_draws`: split across the process's devices where a part is large enough).
        ``mismatch``: σ as a fraction (0.1 = 10 %), 0 = the nominal board. ``lateness`` (an emulator built with
        ``precise_timing``): the inputs' lateness, the raster's shape (s·count, :func:`.events.raster_from_events`).
        With ``precise_timing`` the result also holds each spike's lateness (``EmulationResult.lateness``; its
        events at the spikes' own times, module docstring).

        ``with_nominal`` (with ``trials``): trial 0 is the nominal board (no mismatch), followed by
        the ``trials`` mismatched boards — one compilation for both.
        """
        import jax
        import jax.numpy as jnp

        from ..sim import no_mismatch, simulate, simulate_draws

        x = np.asarray(raster, np.float32)
        if x.ndim == 2:
            x = x[None]
        late = None if lateness is None else np.asarray(lateness, np.float32).reshape(x.shape)
        if mismatch > 0 or trials is not None:
            mm = self.mismatch(seed, mismatch, trials)
            if trials is not None and with_nominal:
                mm = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), no_mismatch(self.net), mm)
        else:
            mm = None
        record = ("lateness",) if self.net.precise_timing else ()

        if trials is None:
            spikes, _, rec = simulate(self.net, x, mm, dt=dt, input_lateness=late, record=record)
        else:               # the boards in one compiled program, split across the devices where it pays
            out = simulate_draws(self.net, x, mm, dt=dt, input_lateness=late, record=record)
            spikes, rec = out if record else (out, None)
        spike_late = rec["lateness"] if record else None
        return self._result(np.asarray(spikes), dt, None if spike_late is None else np.asarray(spike_late))

    def run_boards(self, raster, dt: float, sigma: float, seeds, chip=None, nominal_delays: bool = False,
                   lateness=None) -> EmulationResult:
        """Boards drawn from their own seeds (board i = ``run(..., mismatch=sigma, seed=seeds[i])``), in one
        vmapped call → spikes [boards, batch, T, M] (spikes per bin only: no ``lateness``, so its events are at
        their bins' starts also with ``precise_timing``).

        ``chip`` (a :class:`~neurodeploy.device.chip_profile.ChipProfile`; this emulator built on its measured
        profile, :func:`~neurodeploy.calibration.apply.measured_profile`): every board is that measured chip, its
        per-neuron factors times the residual draw of σ ``sigma`` (board i = ``EmulatorBackend(chip_profile=chip,
        mismatch=sigma, seed=seeds[i])``). ``nominal_delays``: the same boards with every delay factor 1 (what
        delay mismatch alone costs, :mod:`neurodeploy.verification.stages`). ``lateness``: the inputs' lateness, as
        in :meth:`run`."""
        import jax

        from ..sim import simulate_draws
        from ..sim.mismatch import sample_located_mismatch

        x = np.asarray(raster, np.float32)
        x = x[None] if x.ndim == 2 else x
        late = None if lateness is None else np.asarray(lateness, np.float32).reshape(x.shape)
        loc = self.locations()
        keys = jax.numpy.stack([jax.random.PRNGKey(int(s)) for s in seeds])
        draws = jax.vmap(lambda k: sample_located_mismatch(loc, k, sigma=sigma))(keys)
        net = self.net
        if chip is not None:
            from ..calibration.apply import apply_chip_factors, chip_factors, on_chip_delays

            d = self.decoded
            factors = chip_factors(d.sites, d.dst, self.net.n_synapses, chip, self.profile)
            draws = jax.vmap(lambda m: apply_chip_factors(m, factors))(draws)
            net = on_chip_delays(net, d, chip, self.profile)     # each core's measured C_dly
        if nominal_delays and "delay" in draws:      # no delay mismatch; a measured core's own stages stay (in net)
            draws = {**draws, "delay": jax.numpy.ones_like(draws["delay"])}
        return self._result(np.asarray(simulate_draws(net, x, draws, dt=dt, input_lateness=late)), dt)

    def _result(self, spikes: np.ndarray, dt: float, lateness: np.ndarray | None = None) -> EmulationResult:
        """The host sees a model output only through its host route (module doc); ``lateness``: the spikes'
        (s, precise timing)."""
        outputs = spikes[..., self.decoded.outputs] * self.seen.astype(spikes.dtype)
        info = {"outputs_without_host_route": list(self.unrouted)} if self.unrouted else None
        return EmulationResult(spikes, outputs, self.decoded.sites, dt, info, lateness=lateness)


class EmulatorBackend(Backend):
    """The emulator behind the :class:`~neurodeploy.backends.base.Backend` interface.

    ``mismatch`` is σ as a fraction (0.1 = 10 %), ``seed`` the emulated board. Raw FPGA events
    replace the config's input channels by one event source per distinct (tag, chip, core mask).
    """

    name = "emulator"

    def __init__(self, profile, *, mismatch: float = 0.0, seed: int = 0, hidden_chip=None, chip_profile=None,
                 precise_timing: bool = False):
        """``hidden_chip``: a hidden chip file (:mod:`neurodeploy.calibration.hidden`): its constants, seed and σ
        replace ``profile``'s constants, ``seed`` and ``mismatch``. ``chip_profile``: a measured chip
        (:class:`~neurodeploy.device.chip_profile.ChipProfile`): its constants and per-neuron factors
        (:mod:`neurodeploy.calibration.apply`), ``mismatch`` then being the residual σ drawn on top.
        ``precise_timing``: spikes and timestamped input events act at their times inside the bin (module
        docstring); off by default."""
        if hidden_chip is not None:
            from ..calibration.hidden import hidden_profile, load_hidden_chip

            chip = load_hidden_chip(hidden_chip)
            profile, mismatch, seed = hidden_profile(chip), chip.sigma, chip.seed
        self.chip_profile = chip_profile
        if chip_profile is not None:
            from ..calibration.apply import measured_profile

            profile = measured_profile(profile, chip_profile)
        self.profile, self.mismatch_sigma, self.seed = profile, mismatch, seed
        self.precise_timing = bool(precise_timing)
        self.cfg = None
        self.emulator: Emulator | None = None

    def load(self, cfg) -> None:
        self.cfg = cfg

    def run(self, data: dict) -> EmulationResult:
        from .events import raster_from_events
        from ..inputs import run_inputs

        if self.cfg is None:
            raise BackendError("emulator: load a config before running input")
        timed, late = self.precise_timing, None
        if "events" in data:
            binned = raster_from_events(data["events"], data["dt"], data.get("duration"), timed=timed)
            (raster, routes), late = binned[:2], (binned[2] if timed else None)
            self.emulator = Emulator(self.cfg, self.profile, input_routes=routes, dt=data["dt"], precise_timing=timed)
        else:
            raster, late = run_inputs(data, timed)          # input spike times: at their own times
            self.emulator = Emulator(self.cfg, self.profile, dt=data["dt"], precise_timing=timed)
        if self.chip_profile is not None:
            return self._run_measured(raster, data["dt"], late)
        return self.emulator.run(raster, data["dt"], mismatch=self.mismatch_sigma, seed=self.seed, lateness=late)

    def measured_chip(self, em: Emulator):
        """(simulator network, mismatch draw) of ``em`` on the measured chip: its entries delayed as each core's measured
        C_dly,i delays them (:func:`~neurodeploy.calibration.apply.on_chip_delays`), the draw the chip profile's
        factors times the residual of σ ``mismatch``."""
        from ..calibration.apply import apply_chip_factors, chip_factors, on_chip_delays
        from ..sim import no_mismatch

        d = em.decoded
        mm = em.mismatch(self.seed, self.mismatch_sigma) if self.mismatch_sigma > 0 else no_mismatch(em.net)
        mm = apply_chip_factors(mm, chip_factors(d.sites, d.dst, em.net.n_synapses, self.chip_profile, self.profile))
        return on_chip_delays(em.net, d, self.chip_profile, self.profile), mm

    def _run_measured(self, raster, dt: float, lateness=None) -> EmulationResult:
        """The measured chip: the chip profile's factors (times a residual draw of σ ``mismatch``); with precise
        timing also the spikes' lateness (as :meth:`Emulator.run`)."""
        from ..sim import simulate

        em = self.emulator
        net, mm = self.measured_chip(em)
        x = np.asarray(raster, np.float32)
        x = x if x.ndim == 3 else x[None]
        late = None if lateness is None else np.asarray(lateness, np.float32).reshape(x.shape)
        record = ("lateness",) if net.precise_timing else ()
        spikes, _, rec = simulate(net, x, mm, dt=dt, input_lateness=late, record=record)
        return em._result(np.asarray(spikes), dt, None if rec is None else np.asarray(rec["lateness"]))
