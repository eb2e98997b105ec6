"""A Dynap-SE2 board through samna: list, open, flash (apply + read back + compare), run.

Opening: ``samna.device.get_unopened_devices()`` (boards whose ``device_type_name`` contains
"DYNAP-SE2"), ``open_device(info)``, ``configure_opal_kelly(bitfile)`` with SynSense's
``Dynapse2Stack.bit`` (``--bitfile`` or ``$NEURODEPLOY_BITFILE``; never bundled), ``reset_fpga()``,
``get_model()``.

Flashing: ``model.reset(ResetType.ConfigReset, chip mask)``, ``clear_error_queue()``, the
configuration ``get_configuration()`` returns with the config written into it
(:func:`~neurodeploy.backends.samna.to_samna`), ``apply_configuration``, then
``get_configuration()`` again and a field-by-field comparison. samna documents that
``get_configuration`` returns a copy of the last applied configuration, not the silicon's state:
the comparison catches an apply that samna rejected or altered, not a faulty chip.

Running (per input sample; the FPGA conventions are in :mod:`neurodeploy.backends.fpga`):
``model.reset(LogicReset)`` flushes the chips' buffers once after loading; each sample probes the
FPGA clock with marker events, schedules its input ``START_OFFSET_S`` later, writes it in chunks
no more than ``LEAD_S`` ahead of the board's time (progress bar for inputs longer than 2 s), appends
end markers after the input's duration and reads events until they return (or ``timeout`` s after
the input ended: exit 1). Returned events are decoded through the config's host routes, outputs and
placement record. Samples run one after another; neuron state is not reset between them.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from .base import Backend, RunResult
from .fpga import (CLOCK_WRAP_US, HOST_HOP, MARKER_COPIES, MARKER_TAG, MAX_INPUT_RATE, START_OFFSET_S, OutputDecoder,
                   is_marker, peak_rate, raster_events, raw_events, unwrap, wrap)
from ..errors import BackendError
from .samna import BoardError, diff_samna, require_samna, to_samna

BOARD_TYPE = "DYNAP-SE2"
BITFILE_ENV = "NEURODEPLOY_BITFILE"
LEAD_S = 1.0            # input is written at most this far ahead of the board's time
CHUNK_S = 0.5           # input duration per write


def list_boards(samna, all_devices: bool = False) -> list:
    """Device infos of the Dynap-SE2 boards connected (unopened ones, or all)."""
    infos = samna.device.get_all_devices() if all_devices else samna.device.get_unopened_devices()
    return [i for i in infos if BOARD_TYPE in str(getattr(i, "device_type_name", "")).upper()]


def resolve_bitfile(bitfile: str | None) -> str:
    path = bitfile or os.environ.get(BITFILE_ENV)
    if not path:
        raise BackendError(f"no FPGA bitfile: pass --bitfile PATH/Dynapse2Stack.bit or set {BITFILE_ENV} (the file is "
                           f"shipped by SynSense with samna; neurodeploy does not bundle it)")
    if not os.path.isfile(path):
        raise BackendError(f"{path}: FPGA bitfile not found ({'--bitfile' if bitfile else BITFILE_ENV})")
    return path


def open_board(samna, device: str | None = None, bitfile: str | None = None):
    """Open the board with serial ``device`` (or the only/first one) and configure its FPGA → board."""
    path = resolve_bitfile(bitfile)
    boards = list_boards(samna)
    if device is not None:
        boards = [b for b in boards if str(b.serial_number) == str(device)]
        if not boards:
            raise BackendError(f"no unopened Dynap-SE2 board with serial {device!r} (`neurodeploy devices` lists them)")
    if not boards:
        raise BackendError("no unopened Dynap-SE2 board found (`neurodeploy devices` lists them; is it plugged in, "
                           "or opened by another process?)")
    board = samna.device.open_device(boards[0])
    try:
        if not board.configure_opal_kelly(path):
            raise BoardError(f"{path}: the board refused the FPGA bitfile (configure_opal_kelly failed)")
        board.reset_fpga()
    except BaseException:
        samna.device.close_device(board)
        raise
    return board


def chip_mask(cfg) -> int:
    return sum(1 << c.chip for c in cfg.chips)


def flash(samna, model, cfg) -> list[str]:
    """Reset the config's chips, apply ``cfg``, read back; the differences, one line each (empty = identical)."""
    model.reset(samna.dynapse2.ResetType.ConfigReset, chip_mask(cfg))
    model.clear_error_queue()
    expected = to_samna(cfg, model.get_configuration())
    if model.apply_configuration(expected) is False:
        raise BoardError("samna refused the configuration (apply_configuration returned False)")
    return diff_samna(expected, model.get_configuration())


class SamnaBackend(Backend):
    """A Dynap-SE2 board as a :class:`~neurodeploy.backends.base.Backend` (see module doc).

    ``clock``/``sleep`` are the host's (replaceable in tests); ``log`` receives warnings (default:
    :func:`neurodeploy.log.warn`); ``progress`` None shows a bar on a terminal or with ``-v``.
    """

    name = "samna"

    def __init__(self, profile=None, *, device=None, bitfile=None, timeout: float = 10.0, start_offset: float = START_OFFSET_S,
                 max_input_rate: float = MAX_INPUT_RATE, progress: bool | None = None, poll_step: float = 1e-3,
                 clock=time.monotonic, sleep=time.sleep, log=None):
        self.profile, self.device, self.bitfile = profile, device, bitfile
        self.timeout, self.start_offset, self.max_input_rate = timeout, start_offset, max_input_rate
        self.progress, self.poll_step, self.clock, self.sleep = progress, poll_step, clock, sleep
        if log is None:
            from ..log import warn as log
        self.log = log
        self.samna = self.board = self.model = self.cfg = self.decoder = None

    # ---- board -----------------------------------------------------------------------------
    def open(self):
        if self.board is None:
            self.samna = require_samna()
            self.board = open_board(self.samna, self.device, self.bitfile)
            self.model = self.board.get_model()
        return self

    def close(self) -> None:
        if self.board is not None:
            self.samna.device.close_device(self.board)
            self.board = self.model = None

    def load(self, cfg) -> None:
        """Flash ``cfg`` (read-back must be identical, else :class:`BoardError` listing the differences)."""
        if self.profile is not None:
            from ..errors import ConfigError
            from ..rules import check_config_profile

            errors, _ = check_config_profile(cfg, self.profile)
            if errors:
                raise ConfigError("config", lines=[f"config: {e}" for e in errors])
        decoder = OutputDecoder.from_config(cfg)
        self.open()
        diff = flash(self.samna, self.model, cfg)
        if diff:
            raise BoardError("read-back differs from the config", lines=[f"read-back differs: {d}" for d in diff])
        self.model.reset(self.samna.dynapse2.ResetType.LogicReset, chip_mask(cfg))
        self.cfg, self.decoder = cfg, decoder

    # ---- events ----------------------------------------------------------------------------
    def _event(self, tag, core_bits, x_hop, y_hop, timestamp):
        se2 = self.samna.dynapse2
        d = se2.Dynapse2Destination()
        d.tag, d.core, d.x_hop, d.y_hop = int(tag), [bool((int(core_bits) >> k) & 1) for k in range(4)], int(x_hop), int(y_hop)
        e = se2.NormalGridEvent()
        e.event, e.timestamp = d, int(timestamp)
        return e

    def _markers(self, timestamp: int) -> list:
        return [self._event(MARKER_TAG, 15, HOST_HOP, HOST_HOP, timestamp) for _ in range(MARKER_COPIES)]

    def _read(self) -> list[tuple[int, int, int, int]]:
        return [(int(e.timestamp), int(e.event.tag), int(e.event.x_hop), int(e.event.y_hop)) for e in self.board.read_events()]

    def _probe(self) -> int:
        """The FPGA's current time (µs): send markers stamped 0 (due at once), return the echo's timestamp."""
        while self._read():                                   # drop whatever a previous run left
            pass
        self.board.input_interface_write_events(0, self._markers(0))
        deadline = self.clock() + self.timeout
        while True:
            marks = [t for t, g, x, y in self._read() if is_marker(g, x, y)]
            if marks:
                return marks[-1]
            if self.clock() > deadline:
                raise BoardError(f"the FPGA did not answer the clock probe within {self.timeout} s (is the bitfile loaded?)")
            self.sleep(self.poll_step)

    # ---- running ---------------------------------------------------------------------------
    def run(self, data: dict) -> RunResult:
        if self.cfg is None:
            raise BackendError("samna: load (flash) a config before running input")
        dt = float(data["dt"])
        if "events" in data:
            ev = raw_events(data["events"], self.cfg)
            dur = data.get("duration")
            T = int(np.ceil(dur / dt)) if dur else (int(ev[-1, 0] // (dt * 1e6)) + 1 if ev.size else 1)
            samples = [ev]
        else:
            T = data["spikes"].shape[1]
            samples = [raster_events(x, dt, self.cfg) for x in data["spikes"]]
        spikes, tables, info = [], [], {"unknown_events": 0, "events_after_end": 0, "events_before_start": 0}
        for b, ev in enumerate(samples):
            rate = peak_rate(ev[:, 0])
            if rate > self.max_input_rate:
                self.log(f"sample {b}: input peaks at {rate:.3g} events/s (over 1 ms), above the {self.max_input_rate:.3g} "
                         f"events/s the board's link is assumed to carry; events may arrive late")
            s, table = self._run_one(ev, T, dt, info)
            spikes.append(s)
            tables.append(np.concatenate([np.full((len(table), 1), b, np.int64), table], axis=1))
        spikes = np.stack(spikes)
        for key in [k for k, v in info.items() if v]:
            self.log(f"{info[key]} {key.replace('_', ' ')} (not counted)")
        return RunResult(spikes, spikes[..., self.decoder.outputs], self.decoder.sites, dt,
                         np.concatenate(tables) if tables else np.zeros((0, 5), np.int64), info)

    def _run_one(self, ev: np.ndarray, T: int, dt: float, info: dict):
        """One sample: probe, schedule, stream, collect until the end marker returns → (spikes [T, M], [K, 4])."""
        t_end = max(int(round(T * dt * 1e6)), int(ev[-1, 0]) + 1 if ev.size else 0)
        t0 = self._probe()
        w0 = self.clock()
        start = (t0 + int(round(self.start_offset * 1e6))) % CLOCK_WRAP_US
        got: list = []
        done = False

        def pump():
            nonlocal done
            for t, g, x, y in self._read():
                if is_marker(g, x, y):
                    done = done or t_end <= unwrap(t, start) < CLOCK_WRAP_US // 2      # a probe echo is before start
                else:
                    got.append((t, g, x, y))

        bar = self._bar(t_end / 1e6)
        edges = np.searchsorted(ev[:, 0], np.arange(0, t_end + 1, int(CHUNK_S * 1e6)), side="left").tolist() + [len(ev)]
        for lo, hi in zip(edges[:-1], edges[1:]):
            if hi <= lo:
                continue
            due = w0 + self.start_offset + ev[lo, 0] / 1e6 - LEAD_S
            while self.clock() < due:
                pump()
                self.sleep(min(self.poll_step * 10, max(0.0, due - self.clock())))
            ts = wrap(ev[lo:hi, 0], start).tolist()
            self.board.input_interface_write_events(0, [self._event(r[1], r[2], r[3], r[4], t)
                                                        for r, t in zip(ev[lo:hi].tolist(), ts)])
            if bar is not None:
                bar.update(round(min(ev[hi - 1, 0], t_end) / 1e6 - bar.n, 3))
        self.board.input_interface_write_events(0, self._markers(int(wrap(t_end, start))))
        deadline = w0 + self.start_offset + t_end / 1e6 + self.timeout
        while True:
            pump()
            if done:
                break
            if self.clock() > deadline:
                raise BoardError(f"the end-of-run marker did not return within {self.timeout} s after the input ended "
                                 f"({len(got)} events read so far); output would be incomplete: raise --timeout")
            self.sleep(self.poll_step)
        if bar is not None:
            bar.update(round(t_end / 1e6 - bar.n, 3))
            bar.close()
        return self._decode(got, start, T, dt, info)

    def _decode(self, got, start, T, dt, info):
        arr = np.asarray(got, np.int64).reshape(-1, 4)
        rel = unwrap(arr[:, 0], start)
        before = rel >= CLOCK_WRAP_US // 2
        info["events_before_start"] += int(before.sum())
        arr, rel = arr[~before], rel[~before]
        spikes, table, unknown, late = self.decoder.decode(rel, arr[:, 1], arr[:, 2], arr[:, 3], T, dt)
        info["unknown_events"] += unknown
        info["events_after_end"] += late
        return spikes, table

    def _bar(self, seconds: float):
        from ..log import show_progress

        show = self.progress if self.progress is not None else show_progress()
        if not show or seconds < 2.0:
            return None
        from tqdm import tqdm

        return tqdm(total=round(seconds, 3), unit="s", desc="board run", file=sys.stderr, leave=False,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s")
