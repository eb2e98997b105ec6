"""The fake board and model of the samna test double (see ``fake_samna.__doc__``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import Dynapse2Configuration, NormalGridEvent, ResetType, destination

MARKER_TAG = 2047
WRAP = 1 << 32


@dataclass
class DeviceInfo:
    serial_number: str
    device_type_name: str = "DYNAP-SE2"
    usb_bus_number: int = 1
    usb_device_address: int = 2
    logic_version: int = 0
    daughter_board_num: int = 0


class FakeModel:
    """Holds the applied configuration; ``applied`` records a copy of each; ``corrupt(cfg)`` (if set)
    alters the stored copy, as a board that did not take a write would."""

    def __init__(self, n_chips: int):
        self._config = Dynapse2Configuration(n_chips)
        self.n_chips = n_chips
        self.applied: list = []
        self.resets: list = []
        self.errors_cleared = 0
        self.corrupt = None

    def get_configuration(self):
        return self._config.copy()

    def apply_configuration(self, cfg) -> bool:
        if not isinstance(cfg, Dynapse2Configuration):
            raise TypeError(f"apply_configuration: incompatible type {type(cfg).__name__}")
        if len(cfg.chips) != self.n_chips:
            raise ValueError(f"apply_configuration: {len(cfg.chips)} chips, the board has {self.n_chips}")
        self.applied.append(cfg.copy())
        self._config = cfg.copy()
        if self.corrupt is not None:
            self.corrupt(self._config)
        return True

    def clear_error_queue(self) -> None:
        self.errors_cleared += 1

    def reset(self, reset_type, chip_mask: int) -> bool:
        if not isinstance(reset_type, ResetType) or isinstance(chip_mask, bool) or not isinstance(chip_mask, int):
            raise TypeError("reset(ResetType, int)")
        self.resets.append((reset_type, chip_mask))
        if reset_type is ResetType.ConfigReset:
            fresh = Dynapse2Configuration(self.n_chips)
            for h in range(self.n_chips):
                if (chip_mask >> h) & 1:
                    self._config.chips[h] = fresh.chips[h]
        return True


def record_write(board, stream, events) -> None:
    """Check a write's events as the bindings do and record a copy in ``board.written``."""
    if not isinstance(events, list) or not all(isinstance(e, NormalGridEvent) for e in events):
        raise TypeError("events: expected a list of NormalGridEvent")
    board.written.append((stream, [e.copy() for e in events]))


class BoardCalls:
    """The calls both test boards answer alike (argument checks as the bindings make them); events
    written go to ``self._write``. Needs ``bitfiles``, ``fpga_resets`` and ``model``."""

    def configure_opal_kelly(self, bitfile) -> bool:
        if not isinstance(bitfile, str):
            raise TypeError("configure_opal_kelly(str)")
        self.bitfiles.append(bitfile)
        return os.path.isfile(bitfile)

    def reset_fpga(self) -> bool:
        self.fpga_resets += 1
        return True

    def get_model(self):
        return self.model

    def input_interface_write_events(self, stream: int, events) -> None:
        if isinstance(stream, bool) or not isinstance(stream, int):
            raise TypeError("input_interface_write_events(int, list[NormalGridEvent])")
        self._write(stream, events)

    def grid_bus_write_events(self, events) -> None:
        self._write(None, events)


class FakeBoard(BoardCalls):
    """A board whose chips replay ``replay`` — (delay µs, tag, x_hop, y_hop) events, delays counted from
    the first input event written after each clock probe — and echo marker events (tag 2047, y_hop −7)
    with x_hop + 1: a marker stamped 0 returns at the board's ``clock_us`` (the FPGA time), any other
    at its own timestamp, after the replayed events of the run it closes. The clock advances 1 ms per
    write call. ``get_number_of_chips``/``set_number_of_chip`` are the board's chip-count calls. ``written`` records every
    event written, ``read_chunk`` bounds what one ``read_events`` returns."""

    def __init__(self, serial: str = "fake-0", n_chips: int = 4, clock_us: int = 5_000_000, replay=(), read_chunk: int = 5,
                 host_clock=None):
        self.info = DeviceInfo(serial)
        self.opened = False
        self.model = FakeModel(n_chips)
        self.n_chips = n_chips
        self.clock_us, self.replay, self.read_chunk = clock_us, list(replay), read_chunk
        self.bitfiles: list = []
        self.fpga_resets = 0
        self.written: list = []         # (stream, [events]) per write call
        self._queue: list = []
        self._anchor = None
        self.echo_end_markers = True    # False: a board that loses the markers closing a run
        self.host_clock = host_clock    # a callable (s): the FPGA clock then also runs with the host's time
        self._host0 = host_clock() if host_clock is not None else 0.0

    def now_us(self) -> int:
        """The FPGA time (µs, wrapped)."""
        if self.host_clock is None:
            return self.clock_us
        return (self.clock_us + int((self.host_clock() - self._host0) * 1e6)) % WRAP

    def get_number_of_chips(self) -> int:
        return self.n_chips

    def set_number_of_chip(self, n) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n:
            raise TypeError("set_number_of_chip(int ≥ 1)")
        self.n_chips = n

    def _write(self, stream, events) -> None:
        record_write(self, stream, events)
        for e in events:
            d = e.event
            if d.tag == MARKER_TAG and d.y_hop == -7:
                if e.timestamp != 0 and self._anchor is not None:
                    for delay, tag, x, y in self.replay:
                        self._emit((self._anchor + delay) % WRAP, destination(tag, [False] * 4, x, y))
                    self._anchor = None
                if e.timestamp == 0 or self.echo_end_markers:
                    self._emit(e.timestamp or self.now_us(), destination(MARKER_TAG, d.core, d.x_hop + 1, d.y_hop))
            elif self._anchor is None:
                self._anchor = e.timestamp
        self.clock_us = (self.clock_us + 1000) % WRAP

    def _emit(self, timestamp: int, dest) -> None:
        ev = NormalGridEvent()
        ev.event, ev.timestamp = dest, int(timestamp)
        self._queue.append(ev)

    def read_events(self) -> list:
        out, self._queue = self._queue[:self.read_chunk], self._queue[self.read_chunk:]
        return out
