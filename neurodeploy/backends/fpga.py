"""The board's FPGA link: routing conventions, event timing and output decoding (no samna here).

Conventions of a Dynap-SE2 board (the FPGA sits west of chip (0, 0); every fact below is what
public scripts that drive boards do — they need a board to be confirmed):

* **Host route.** A neuron is observed through an SRAM destination with ``x_hop = HOST_X_HOP``
  (−7) and all four core bits (:data:`neurodeploy.device.profile.HOST_CORE_MASK` cites the public sources;
  an empty mask is not sent): the event travels west, one hop per chip, and leaves the grid into the FPGA. Read back, it carries the hop it had left:
  ``x_hop = HOST_X_HOP + 1 + x`` for the chip at mesh position (x, y) — ``−6 + h`` on a board whose
  chip h sits at (h, 0) — its ``y_hop`` unchanged, and the destination's tag.
* **Input events** enter chip (0, 0) from the FPGA: an event for the chip at (x, y) carries
  hops (x, y), the tag and the core mask of the config's input destination.
* **Markers.** An event with tag :data:`MARKER_TAG` (2047) and hops (HOST_X_HOP, HOST_X_HOP) goes
  straight back to the FPGA (x_hop + 1 on return). Sent with timestamp 0 it returns at once with
  the current FPGA time (the clock probe); sent after the last input event its return closes the
  run. Several are sent each time because one can be lost.
* **Clock.** Timestamps are absolute FPGA time in µs, uint32: the clock wraps every
  2^32 µs ≈ 71.6 min. Times here are kept relative to the run's start (int64, never wrapping)
  and wrapped only when events are built; read-back times are unwrapped as
  (timestamp − start) mod 2^32.
* **Input rate.** :data:`MAX_INPUT_RATE` (1 event/µs = 10^6 events/s) is an ASSUMPTION: the FPGA
  schedules events on its 1 µs clock and Rockpool's Dynap-SE2 interface spaces the events of one
  time bin 1 µs apart; no public figure for the link's throughput was found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BackendError
from ..device.masks import core_mask_to_int
from ..device.profile import HOST_X_HOP, reaches_host

MARKER_TAG = 2047               # tag of clock-probe and end-of-run marker events
MARKER_COPIES = 3               # markers sent each time (one can be lost)
CLOCK_WRAP_US = 1 << 32         # the FPGA clock is a uint32 count of µs
START_OFFSET_S = 0.1            # input starts this long after the probed FPGA time
MAX_INPUT_RATE = 1e6            # events/s the link is assumed to carry (see module doc)

#: columns of an input event table: time relative to the run start (µs), tag, core mask bits, x_hop, y_hop
EVENT_COLUMNS = ("t_us", "tag", "core_mask", "x_hop", "y_hop")


def readback_hops(position, y_hop: int = 0) -> tuple[int, int]:
    """(x_hop, y_hop) an event routed to the host from the chip at ``position`` carries when read back."""
    return HOST_X_HOP + 1 + int(position[0]), int(y_hop)


def is_marker(tag: int, x_hop: int, y_hop: int) -> bool:
    """A returned marker (tag 2047 with the marker's y hop; neurons' host routes have y_hop 0)."""
    return tag == MARKER_TAG and y_hop == HOST_X_HOP


def wrap(t_us: np.ndarray | int, start_us: int):
    """Relative µs → absolute FPGA timestamps (uint32, wrapped)."""
    return (np.asarray(t_us, np.int64) + int(start_us)) % CLOCK_WRAP_US


def unwrap(timestamp, start_us: int):
    """Absolute FPGA timestamps → µs since ``start_us`` (handles one wrap of the clock in between)."""
    return (np.asarray(timestamp, np.int64) - int(start_us)) % CLOCK_WRAP_US


def _positions(cfg) -> dict[int, tuple[int, int]]:
    return {c.chip: tuple(c.position) for c in cfg.chips}


def _input_routes(cfg) -> np.ndarray:
    """[R, 5] int64 (input channel, tag, core mask, x, y): every FPGA destination of the config's input channels,
    in channel order (``cfg.inputs[i].destinations``)."""
    pos = _positions(cfg)
    rows = [(i, d.tag, core_mask_to_int(d.core), *pos[d.chip]) for i, ch in enumerate(cfg.inputs) for d in ch.destinations]
    return np.asarray(rows, np.int64).reshape(-1, 5)


def _sent(t_us: np.ndarray, channel: np.ndarray, cfg) -> np.ndarray:
    """One event [K, 5] (EVENT_COLUMNS) per input spike (at ``t_us`` µs, of ``channel``) and FPGA destination of its
    channel, sorted by time (stable: the spikes' order, then the destinations')."""
    r = _input_routes(cfg)
    per = np.bincount(r[:, 0], minlength=len(cfg.inputs))                    # destinations per channel
    first = np.r_[0, np.cumsum(per)[:-1]]
    n = per[channel]
    row = np.repeat(first[channel], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    ev = np.concatenate([np.repeat(t_us, n)[:, None], r[row, 1:]], axis=1)
    return ev[np.argsort(ev[:, 0], kind="stable")]


def raster_events(raster: np.ndarray, dt: float, cfg) -> np.ndarray:
    """Counts [T, n_inputs] → input events [K, 5] (EVENT_COLUMNS), sorted by time (stable).

    Bin t's events are sent at t·dt; a count c sends c events; each event goes to every FPGA
    destination of its channel (``cfg.inputs[i].destinations``). Order within a µs: channel,
    destination, repeat.
    """
    counts = np.rint(np.asarray(raster)).astype(np.int64)
    t, ch = np.nonzero(counts)
    c = counts[t, ch]
    t, ch = np.repeat(t, c), np.repeat(ch, c)                                  # one row per event, (t, channel) order
    return _sent(np.rint(t * dt * 1e6).astype(np.int64), ch, cfg)


def time_events(times, channels, cfg) -> np.ndarray:
    """Input spikes by their times (``times`` s, ``channels`` the config's input channels; one sample of
    :class:`~neurodeploy.input_times.SpikeTimes`) → input events [K, 5] (EVENT_COLUMNS), each sent at its own µs,
    rint(t·10⁶), to every FPGA destination of its channel; sorted by time (stable: spike order, then destination)."""
    return _sent(np.rint(np.asarray(times, np.float64) * 1e6).astype(np.int64), np.asarray(channels, np.int64), cfg)


def raw_events(events: np.ndarray, cfg) -> np.ndarray:
    """Input file events [K, 4] (timestamp µs, tag, chip, core mask) → [K, 5] (EVENT_COLUMNS), sorted."""
    pos = _positions(cfg)
    ev = np.asarray(events, np.int64).reshape(-1, 4)
    missing = sorted({int(c) for c in ev[:, 2]} - set(pos))
    if missing:
        raise BackendError(f"events: chip {missing[0]} is not in the config's $.chips (chips {sorted(pos)})")
    if ev.size and (ev[:, 0].min() < 0 or ev[:, 1].min() < 0 or ev[:, 1].max() > MARKER_TAG
                    or ev[:, 3].min() < 0 or ev[:, 3].max() > 15):
        raise BackendError("events: timestamps must be ≥ 0, tags 0..2047 and core masks 0..15")
    xy = np.asarray([pos[int(c)] for c in ev[:, 2]], np.int64).reshape(-1, 2)
    out = np.stack([ev[:, 0], ev[:, 1], ev[:, 3], xy[:, 0], xy[:, 1]], axis=1)
    return out[np.argsort(out[:, 0], kind="stable")]


def peak_rate(t_us: np.ndarray, window_us: int = 1000) -> float:
    """Highest event rate (events/s) over any ``window_us`` window of the sorted times ``t_us``."""
    t = np.asarray(t_us, np.int64)
    if t.size == 0:
        return 0.0
    n = np.searchsorted(t, t + window_us, side="left") - np.arange(t.size)
    return float(n.max()) * 1e6 / window_us


def host_visible(cfg) -> np.ndarray:
    """[n_out] bool: whether each config output's neuron holds an SRAM destination reaching the host."""
    routed = {(chip.chip, core.core, n.neuron) for chip in cfg.chips for core in chip.cores for n in core.neurons
              if any(reaches_host(d.x_hop, d.core) for d in n.destinations)}
    return np.array([(o.chip, o.core, o.neuron) in routed for o in cfg.outputs], bool)


def unrouted_outputs(cfg) -> list[str]:
    """The config's outputs that the host cannot see, one ``"name (chip C core K neuron N)"`` each."""
    seen = host_visible(cfg)
    return [f"{o.name or f'$.outputs[{i}]'} (chip {o.chip} core {o.core} neuron {o.neuron})"
            for i, o in enumerate(cfg.outputs) if not seen[i]]


def unrouted_note(names: list[str]) -> str:
    """One line naming outputs without a host route (empty when there are none)."""
    if not names:
        return ""
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (f"{len(names)} output(s) have no SRAM route to the host (x_hop -7 with a core bit set) and report no spikes, "
            f"as on a board: {shown}; re-map the model with `neurodeploy map`")


@dataclass
class OutputDecoder:
    """Read-back events → the config's observed neurons, model outputs and model neuron names.

    A neuron is observed when it has a host route (:func:`~neurodeploy.device.profile.reaches_host`); its events come back
    with :func:`readback_hops` of its chip and the route's tag, which the mapper makes unique per
    chip (core · 256 + neuron). Decoding goes through the config's outputs and placement record.
    """

    sites: np.ndarray               # [M, 3] (chip, core, neuron) of observed neurons, sorted
    keys: dict                      # (x_hop, y_hop, tag) → row of ``sites``
    outputs: np.ndarray             # [n_out] row of each model output
    names: list[str]                # [M] model name of each observed neuron ("pop[i]", or "" if unplaced)

    @classmethod
    def from_config(cls, cfg) -> "OutputDecoder":
        found: dict = {}
        for chip in cfg.chips:
            for core in chip.cores:
                for n in core.neurons:
                    for d in n.destinations:
                        if reaches_host(d.x_hop, d.core):
                            key = readback_hops(chip.position, d.y_hop) + (d.tag,)
                            site = (chip.chip, core.core, n.neuron)
                            if key in found and found[key] != site:
                                raise BackendError(
                                    f"chip {chip.chip} core {core.core} neuron {n.neuron} and chip {found[key][0]} core "
                                    f"{found[key][1]} neuron {found[key][2]} send host events with the same tag {d.tag}: the "
                                    f"board cannot tell them apart (re-map, or give them different host tags)")
                            found[key] = site
        order = sorted(set(found.values()))
        row = {s: i for i, s in enumerate(order)}
        sites = np.asarray(order, np.int64).reshape(-1, 3)
        outs = []
        for i, o in enumerate(cfg.outputs):
            s = (o.chip, o.core, o.neuron)
            if s not in row:
                raise BackendError(f"$.outputs[{i}] ({o.name or s}): chip {o.chip} core {o.core} neuron {o.neuron} has no "
                                   f"route to the host (x_hop {HOST_X_HOP} with a core bit set), so the board cannot report it; re-map the model")
            outs.append(row[s])
        names = [""] * len(order)
        for p in cfg.placement:
            for j, s in enumerate(zip(p.chip, p.core, p.neuron)):
                if s in row:
                    names[row[s]] = f"{p.population}[{j}]"
        return cls(sites, {k: row[s] for k, s in found.items()}, np.asarray(outs, np.int64), names)

    def decode(self, t_us, tag, x_hop, y_hop, n_steps: int, dt: float):
        """Returned events (relative µs, tag, hops) → (spikes [T, M] counts, events [K, 4] (µs, chip, core,
        neuron), number of unknown events, number after the end). Markers must be removed before."""
        t_us = np.asarray(t_us, np.int64)
        rows = np.asarray([self.keys.get((int(x), int(y), int(g)), -1) for x, y, g in zip(x_hop, y_hop, tag)], np.int64)
        b = np.floor(t_us / (dt * 1e6) + 1e-9).astype(np.int64)
        known = rows >= 0
        inside = known & (b >= 0) & (b < n_steps)
        spikes = np.zeros((n_steps, len(self.sites)), np.int64)
        np.add.at(spikes, (b[inside], rows[inside]), 1)
        o = np.argsort(t_us[inside], kind="stable")
        ev = np.concatenate([t_us[inside][o, None], self.sites[rows[inside][o]]], axis=1) if inside.any() else np.zeros((0, 4), np.int64)
        return spikes, ev, int((~known).sum()), int((known & ~inside).sum())
