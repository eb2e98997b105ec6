"""TEST DOUBLE: a virtual Dynap-SE2 board behind the samna API. Not samna, no hardware.

:class:`VirtualBoard` has the public surface of :class:`fake_samna.FakeBoard` (``info``, ``opened``,
``configure_opal_kelly``, ``reset_fpga``, ``get_model``, ``input_interface_write_events``,
``grid_bus_write_events``, ``read_events``) plus ``get_number_of_chips`` / ``set_number_of_chip``.
Instead of replaying canned events it *decodes what it is given as samna objects* — the
``Dynapse2Configuration`` applied through its model and the ``NormalGridEvent`` lists written to it —
and computes the board's answer with neurodeploy's own emulator
(:class:`neurodeploy.backends.emulator.EmulatorBackend`). A deployment that would stay silent on a
chip (a host route the router does not send, a dead core, a missing chip) stays silent here.

Conventions implemented, and where each comes from (public sources, read through the project's
search tool; the samna object model itself is described in ``fake_samna.__doc__``):

* **Method names** of the board: Rockpool's samna alias ``Dynapse2Interface``
  (``rockpool/devices/dynapse/samna_alias/dynapse2.py``), which lists ``get_number_of_chips``,
  ``set_number_of_chip``, ``input_interface_write_events``, ``grid_bus_write_events``, ``read_events``,
  ``reset_fpga``, ``configure_opal_kelly``, ``get_model``. Only the names are public, not what they do:
  here ``set_number_of_chip(n)`` makes the FPGA address chips 0..n−1 only.
* **Clock.** The FPGA stamps events in µs as a uint32 (``NormalGridEvent.timestamp``, Rockpool's alias);
  the count wraps every 2^32 µs. ``clock_us = start_us + (clock() − clock0)·10^6`` mod 2^32.
* **Markers** (tag 2047, hops (−7, −7)) come back with ``x_hop + 1``; one stamped 0 returns at once
  with the current FPGA time (the clock probe), one stamped T when the FPGA time reaches T, after the
  output of the run it closes (Rockpool ``hardware/interface/samna.py``; INI's Dynap-SE2 scripts).
* **Input events** enter chip (0, 0) from the FPGA; an event with hops (x, y) is delivered to the chip
  at mesh position (x, y), to the cores of its core mask; chip h sits at (h, 0)
  (:mod:`neurodeploy.backends.fpga`). An event to a position where no chip is is dropped.
* **Host output.** A neuron's spike leaves through each SRAM destination that (a) has at least one
  core bit — Rockpool's config reader ``hardware/from_config/memory.py`` counts a destination only
  ``if sum(dest.core) > 0``, and lab scripts monitor neurons with ``core=[True]*4, x_hop=-7`` — and
  (b) leaves the mesh westward (``x + x_hop < 0`` for the chip at (x, 0)). It is read back with the
  destination's tag, ``x_hop + x + 1`` (the hops it had left when it left chip 0) and ``y_hop``
  unchanged (:mod:`neurodeploy.backends.fpga`).

How a run is computed: input events are buffered; the end marker stamped T closes the window from
the last clock probe (or the end of the activity already reported between runs if that is later; with
no probe, the first buffered input's time) to T. The applied
configuration is read back into a :class:`neurodeploy.config.config_json.HardwareConfig` by this module's
own reader (chips holding any neuron, at (h, 0); the profile's parameters with their codes; every
non-blank neuron with latches, CAM entries, flags and the destinations that reach a CAM or the host)
and the window is emulated from rest with the input events as raw FPGA events (timestamp relative to
the window start, tag, chip, core mask), binned by ⌊t/dt⌋ exactly like ``neurodeploy emulate``: an
input raster sent at t·dt µs from the window start gives the emulator's spikes bin for bin. A spike
in bin b is read back at window start + b·dt.

Between runs the chips keep running: after each configuration change the board emulates
``idle_window`` s without input and takes each host-routed neuron's rate over the second half (the
start-up transient left out); reads outside a pending run emit events at those rates, evenly spaced
from the time the neurons restarted. With a :class:`VirtualClock` that every read advances
(``read_cost``), a loop that reads until a read comes back empty never ends while such a neuron
fires at least once per read: after ``max_busy_reads`` consecutive non-empty reads without the
clock moving otherwise (with ``read_cost`` 0: any consecutive non-empty reads), ``read_events``
raises ``AssertionError`` so a test fails instead of hanging.

Not modelled: analog state carried from one run (or from the activity between runs) into the next —
each run starts from rest, and the activity between runs is a steady rate with an arbitrary phase;
link throughput, FIFO overflow and event loss; the delay of routing; spikes of the emulator beyond one
per neuron and bin (the emulator's own limit); what ``reset_fpga`` does (nothing here) and what a
``model.reset`` does beyond clearing chips (ConfigReset) and restarting the neurons from rest;
samna's real parameter defaults.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import time

import numpy as np

from . import NormalGridEvent, destination
from .board import MARKER_TAG, WRAP, DeviceInfo, BoardCalls, FakeModel, record_write

MARKER_HOP = -7                 # markers carry hops (−7, −7)
HALF_WRAP = WRAP // 2


class VirtualClock:
    """Host time (s) that moves only when told to: ``now()``, ``sleep(s)``, ``advance(s)``.

    Callable (``clock()`` is ``clock.now()``), so it can stand in for ``time.monotonic`` and its
    ``sleep`` for ``time.sleep`` (e.g. ``SamnaBackend(clock=c, sleep=c.sleep)``)."""

    def __init__(self, t: float = 1000.0):
        self.t = float(t)

    def now(self) -> float:
        return self.t

    __call__ = now

    def sleep(self, seconds: float) -> None:
        self.t += max(float(seconds), 0.0)

    def advance(self, seconds: float) -> None:
        self.t += float(seconds)


class VirtualModel(FakeModel):
    """:class:`FakeModel` that tells its board when the chips' contents change (apply, reset)."""

    def __init__(self, n_chips: int, on_change):
        super().__init__(n_chips)
        self._on_change = on_change

    def apply_configuration(self, cfg) -> bool:
        ok = super().apply_configuration(cfg)
        self._on_change()
        return ok

    def reset(self, reset_type, chip_mask: int) -> bool:
        ok = super().reset(reset_type, chip_mask)
        self._on_change()
        return ok


def _bits(core) -> int:
    return sum(1 << k for k, on in enumerate(core) if on)


class _Contents:
    """What the chips hold, read from a samna configuration: the HardwareConfig the emulator runs
    (None when no chip holds a neuron), the chips it lists, and each neuron's host-bound routes."""

    def __init__(self, cfg, held: set, host: dict):
        self.cfg, self.held, self.host = cfg, held, host
        self.key = hashlib.sha256(cfg.dumps().encode()).hexdigest() if cfg is not None else ""


def read_contents(scfg, profile, n_chips: int, dead_cores=frozenset()) -> _Contents:
    """Read a samna ``Dynapse2Configuration`` (chips 0..n_chips−1, chip h at (h, 0)) → :class:`_Contents`.

    A neuron is listed when any latch, CAM entry or SRAM entry is set; its CAM entries are
    ``[tag, dendrite name, mask]`` (mask character b is ``weight[b]``; trailing blank entries dropped)
    with their flags; its destinations are those the router delivers: a core bit set, and a hop to a
    chip that holds neurons or the host exit (x_hop −7). Neurons of ``dead_cores`` get ``latch_soif_kill``.
    Host routes: every destination with a core bit that leaves the mesh westward, as read back."""
    import neurodeploy
    from neurodeploy.config.config_json import (CAM_FLAGS, LATCHES, ChipConfig, Code, CoreConfig, Destination, HardwareConfig,
                                          NeuronConfig, ProfileRef)
    from neurodeploy.device.profile import HOST_X_HOP

    raw = {}                      # (h, k, n) → (latches, cam entries, flags, destinations)
    params = {}                   # (h, k) → {name: Code}
    for h, chip in enumerate(scfg.chips[:n_chips]):
        for k, core in enumerate(chip.cores):
            params[(h, k)] = {name: Code.model_construct(coarse=int(core.parameters[name].coarse_value),
                                                         fine=int(core.parameters[name].fine_value))
                              for name in profile.parameters if name in core.parameters}
            for n, sn in enumerate(core.neurons):
                lat = {latch: bool(getattr(sn, latch)) for latch in LATCHES}
                cam = []
                for s in sn.synapses:
                    dend = getattr(s.dendrite, "name", str(s.dendrite))
                    flags = [f for f in CAM_FLAGS if getattr(s, f)]
                    cam.append((int(s.tag), dend, "".join("1" if b else "0" for b in s.weight), flags))
                dst = [(int(d.tag), tuple(bool(b) for b in d.core), int(d.x_hop), int(d.y_hop)) for d in sn.destinations]
                blank_cam = all(t == 0 and dd == "none" and m == "0000" and not f for t, dd, m, f in cam)
                blank_dst = all(t == 0 and not any(c) and x == 0 and y == 0 for t, c, x, y in dst)
                if any(lat.values()) or not blank_cam or not blank_dst:
                    while cam and cam[-1][0] == 0 and cam[-1][1] == "none" and cam[-1][2] == "0000" and not cam[-1][3]:
                        cam.pop()
                    raw[(h, k, n)] = (lat, cam, dst)
    held = sorted({h for h, _, _ in raw})
    host = {}
    for (h, k, n), (_, _, dst) in raw.items():
        routes = [(t, c, x + h + 1, y) for t, c, x, y in dst if any(c) and h + x < 0]
        if routes:
            host[(h, k, n)] = routes
    if not held:
        return _Contents(None, set(), host)
    chips = []
    for h in held:
        cores = []
        for k in range(len(scfg.chips[h].cores)):
            neurons = []
            for (hh, kk, n), (lat, cam, dst) in sorted(raw.items()):
                if (hh, kk) != (h, k):
                    continue
                lat = dict(lat)
                if (h, k) in dead_cores:
                    lat["latch_soif_kill"] = True
                sent = [Destination.model_construct(tag=t, core=list(c), x_hop=x, y_hop=y) for t, c, x, y in dst
                        if any(c) and ((x == HOST_X_HOP and h + x < 0) or (y == 0 and h + x in held))]
                neurons.append(NeuronConfig.model_construct(
                    neuron=n, **lat, synapses=[(t, d, m) for t, d, m, _ in cam],
                    synapse_flags={i: list(f) for i, (_, _, _, f) in enumerate(cam) if f}, destinations=sent))
            cores.append(CoreConfig.model_construct(core=k, parameters=params[(h, k)], neurons=neurons))
        chips.append(ChipConfig.model_construct(chip=h, position=(h, 0), cores=cores))
    cfg = HardwareConfig.model_construct(
        format="neurodeploy.config/1", profile=ProfileRef(name=profile.name, sha256=profile.sha256),
        neurodeploy_version=neurodeploy.__version__, source_model_sha256="", seed=0, chips=chips, inputs=[], outputs=[],
        placement=[], metadata={})
    return _Contents(HardwareConfig.model_validate_json(cfg.dumps()), set(held), host)


class VirtualBoard(BoardCalls):
    """A Dynap-SE2 board whose chips are neurodeploy's emulator (see the module doc).

    ``n_chips`` physical chips (the configurations applied must have as many); ``profile`` (default
    ``dynapse2``) the device profile the emulator runs; ``dt`` its step (s); ``mismatch`` (σ, 0 =
    the nominal board) and ``seed`` the emulated silicon; ``read_chunk`` the most events one
    ``read_events`` returns; ``clock`` the host's clock in s (default ``time.monotonic``; a
    :class:`VirtualClock` for tests); ``read_cost`` seconds every read advances that clock (needs
    ``clock.advance``); ``start_us`` the FPGA time when the board is made; ``dead_cores`` {(chip,
    core)} whose neurons never fire; ``idle_window`` the emulated time (s) that measures the activity
    between runs; ``max_busy_reads`` the guard against reading forever.

    ``written`` records every event written (stream, [events]); ``runs`` one dict per emulated window.
    """

    def __init__(self, serial: str = "virtual-0", n_chips: int = 4, *, profile=None, dt: float = 1e-3,
                 mismatch: float = 0.0, seed: int = 0, read_chunk: int = 256, clock=None, read_cost: float = 0.0,
                 start_us: int = 5_000_000, dead_cores=(), idle_window: float = 0.2, max_busy_reads: int = 10_000):
        if profile is None:
            from neurodeploy.device.profile import load_profile

            profile = load_profile("dynapse2")
        clock = time.monotonic if clock is None else clock
        if read_cost and not hasattr(clock, "advance"):
            raise ValueError("read_cost needs a clock that can be advanced (a VirtualClock)")
        self.info = DeviceInfo(serial)
        self.opened = False
        self.n_chips, self.profile, self.dt = int(n_chips), profile, float(dt)
        self.mismatch, self.seed = float(mismatch), int(seed)
        self.read_chunk, self.read_cost, self.max_busy_reads = int(read_chunk), float(read_cost), int(max_busy_reads)
        self.dead_cores = frozenset((int(h), int(k)) for h, k in dead_cores)
        self.idle_window = float(idle_window)
        self._clock = clock
        self._clock0 = clock()
        self._start_us = int(start_us) % WRAP
        self.active_chips = self.n_chips
        self.model = VirtualModel(self.n_chips, self._changed)
        self.bitfiles: list = []
        self.fpga_resets = 0
        self.written: list = []
        self.runs: list = []
        self._heap: list = []            # (time µs unwrapped, seq, tag, core, x_hop, y_hop)
        self._seq = itertools.count()
        self._inputs: list = []          # (time µs unwrapped, tag, core bits, x_hop, y_hop)
        self._probe_u = None             # time of the last clock probe not yet closed by a run
        self._contents = None            # _Contents of the applied configuration (read lazily)
        self._idle_cache: dict = {}      # contents key → [(period µs, routes)]
        self._busy_reads = 0
        self._after_read = None
        now = self._now_u()
        self._anchor_u = self._spont_u = now    # neurons restarted at; activity between runs emitted up to

    # ---- the FPGA clock --------------------------------------------------------------------------
    def _now_u(self) -> int:
        """FPGA time in µs, not wrapped (start_us + elapsed host time)."""
        return self._start_us + int(math.floor((self._clock() - self._clock0) * 1e6 + 1e-6))

    @property
    def clock_us(self) -> int:
        """The FPGA's current timestamp (µs, uint32)."""
        return self._now_u() % WRAP

    @staticmethod
    def _unwrap(timestamp: int, now_u: int) -> int:
        """A uint32 timestamp → the unwrapped time nearest ``now_u``."""
        d = (int(timestamp) - now_u) % WRAP
        return now_u + (d - WRAP if d >= HALF_WRAP else d)

    # ---- board -----------------------------------------------------------------------------------
    def get_number_of_chips(self) -> int:
        return self.active_chips

    def set_number_of_chip(self, n) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError("set_number_of_chip(int)")
        if not 1 <= n <= self.n_chips:
            raise ValueError(f"set_number_of_chip: {n}, the board has {self.n_chips} chips")
        self.active_chips = n
        self._changed()

    def _changed(self) -> None:
        """The chips' contents changed: re-read them when next needed; the neurons restart from rest."""
        self._contents = None
        now = self._now_u()
        self._anchor_u = now
        self._spont_u = max(self._spont_u, now)

    def contents(self) -> _Contents:
        if self._contents is None:
            self._contents = read_contents(self.model.get_configuration(), self.profile, self.active_chips, self.dead_cores)
        return self._contents

    # ---- writing ---------------------------------------------------------------------------------
    def _write(self, stream, events) -> None:
        record_write(self, stream, events)
        now = self._now_u()
        for e in events:
            d = e.event
            core = tuple(d.core)
            if d.tag == MARKER_TAG and d.x_hop == MARKER_HOP and d.y_hop == MARKER_HOP:
                if e.timestamp == 0:
                    self._probe_u = now
                    self._push(now, MARKER_TAG, core, d.x_hop + 1, d.y_hop)
                else:
                    t = self._unwrap(e.timestamp, now)
                    self._close_run(t)
                    self._push(t, MARKER_TAG, core, d.x_hop + 1, d.y_hop)
            else:
                self._inputs.append((self._unwrap(e.timestamp, now), int(d.tag), _bits(core), int(d.x_hop), int(d.y_hop)))

    def _push(self, t_u: int, tag: int, core, x_hop: int, y_hop: int) -> None:
        heapq.heappush(self._heap, (t_u, next(self._seq), tag, tuple(core), x_hop, y_hop))

    # ---- runs ------------------------------------------------------------------------------------
    def _emulate(self, contents: _Contents, events: np.ndarray, n_bins: int):
        """(spikes [n_bins, M], sites [M, 3]) of ``contents.cfg`` from rest on raw FPGA events (µs, tag, chip, core mask)."""
        from neurodeploy.backends.emulator import EmulatorBackend

        be = EmulatorBackend(self.profile, mismatch=self.mismatch, seed=self.seed)
        be.load(contents.cfg)
        # duration (n_bins − ½)·dt: ⌈duration/dt⌉ is n_bins whatever the rounding of n_bins·dt
        res = be.run({"events": events, "dt": self.dt, "duration": (n_bins - 0.5) * self.dt})
        spikes = np.asarray(res.spikes)
        spikes = spikes[0] if spikes.ndim == 3 else spikes[0, 0]
        assert spikes.shape[0] == n_bins, (spikes.shape, n_bins)
        return spikes, np.asarray(res.sites)

    def _close_run(self, t_end: int) -> None:
        """An end marker stamped ``t_end``: emulate the window it closes and queue its host events."""
        self._inputs.sort(key=lambda r: r[0])
        inside = [r for r in self._inputs if r[0] < t_end]
        self._inputs = [r for r in self._inputs if r[0] >= t_end]
        if self._probe_u is not None:
            w0 = max(self._probe_u, self._spont_u)       # the chip runs from the clock probe on
            if inside and inside[0][0] < w0:
                w0 = inside[0][0]
        elif inside:
            w0 = inside[0][0]
        else:
            return                                   # nothing opened since the last run: the marker only echoes
        self._probe_u = None
        if t_end <= w0:
            return
        dt_us = self.dt * 1e6
        n_bins = max(1, int(math.ceil((t_end - w0) / dt_us - 1e-9)))
        c = self.contents()
        rows = []
        for t, tag, bits, x, y in inside:
            if y == 0 and 0 <= x < self.active_chips and x in c.held and bits:
                rows.append((t - w0, tag, x, bits))
        ev = np.asarray(rows, np.int64).reshape(-1, 4)
        out = 0
        if c.cfg is not None and c.host:
            spikes, sites = self._emulate(c, ev, n_bins)
            b, m = np.nonzero(spikes)
            for bb, mm in sorted(zip(b.tolist(), m.tolist())):
                routes = c.host.get(tuple(int(v) for v in sites[mm]))
                if not routes:
                    continue
                t = w0 + int(round(bb * dt_us))
                for _ in range(int(spikes[bb, mm])):
                    for tag, core, x, y in routes:
                        self._push(t, tag, core, x, y)
                        out += 1
        self._spont_u = max(self._spont_u, t_end)
        self.runs.append({"start_us": w0 % WRAP, "end_us": t_end % WRAP, "steps": n_bins, "input_events": len(ev),
                          "dropped_input_events": len(inside) - len(ev), "output_events": out})

    # ---- activity between runs -------------------------------------------------------------------
    def idle_rates(self) -> list:
        """[(period µs, host routes)] of the neurons that fire without input (cached per configuration)."""
        c = self.contents()
        if c.cfg is None or not c.host:
            return []
        if c.key not in self._idle_cache:
            n = max(2, int(round(self.idle_window / self.dt)))
            spikes, sites = self._emulate(c, np.zeros((0, 4), np.int64), n)
            half = n // 2
            counts = spikes[half:].sum(axis=0)
            span_us = (n - half) * self.dt * 1e6
            rates = []
            for m in np.nonzero(counts)[0].tolist():
                routes = c.host.get(tuple(int(v) for v in sites[m]))
                if routes:
                    rates.append((span_us / float(counts[m]), routes))
            self._idle_cache[c.key] = rates
        return self._idle_cache[c.key]

    def _spontaneous(self, now: int) -> int:
        """Queue the activity between runs up to ``now`` (at most ``read_chunk`` spikes at a time) →
        the time up to which everything due has been queued."""
        # a pending run's window starts at its clock probe (or its first input)
        cap = min([now] + [r[0] for r in self._inputs] + ([self._probe_u] if self._probe_u is not None else []))
        lo = self._spont_u
        if cap <= lo:
            return now
        rates = self.idle_rates()
        times = []
        for i, (period, _) in enumerate(rates):
            k0 = max(1, int(math.floor((lo - self._anchor_u) / period)))
            ks = np.arange(k0, k0 + self.read_chunk + 2)
            t = self._anchor_u + np.floor(ks * period + 1e-9).astype(np.int64)
            t = t[(t > lo) & (t <= cap)]
            times.extend((int(x), i) for x in t)
        times.sort()
        upto = cap
        if len(times) > self.read_chunk:
            upto = times[self.read_chunk - 1][0]
            times = [x for x in times if x[0] <= upto]
        for t, i in times:
            for tag, core, x, y in rates[i][1]:
                self._push(t, tag, core, x, y)
        self._spont_u = upto
        return upto if upto < cap else now

    # ---- reading ---------------------------------------------------------------------------------
    def read_events(self) -> list:
        now = self._now_u()
        limit = self._spontaneous(now)
        out = []
        while self._heap and self._heap[0][0] <= limit and len(out) < self.read_chunk:
            t, _, tag, core, x, y = heapq.heappop(self._heap)
            ev = NormalGridEvent()
            ev.event, ev.timestamp = destination(tag, core, x, y), t % WRAP
            out.append(ev)
        self._guard(bool(out))
        return out

    def _guard(self, busy: bool) -> None:
        """Advance the clock by the read's cost; fail a loop that keeps reading events without waiting."""
        now = self._clock()
        if not busy or (self.read_cost and self._after_read is not None and now > self._after_read + 1e-12):
            self._busy_reads = 0                      # an empty read, or time passed since the last read
        if busy:
            self._busy_reads += 1
            if self._busy_reads >= self.max_busy_reads:
                raise AssertionError(
                    f"unbounded read loop: {self._busy_reads} consecutive reads returned events without the host "
                    f"waiting in between (neurons fire between runs: read until a known event, not until empty)")
        if self.read_cost:
            self._clock.advance(self.read_cost)
        self._after_read = self._clock()


__all__ = ["VirtualBoard", "VirtualClock", "VirtualModel", "read_contents"]
