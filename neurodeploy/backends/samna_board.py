"""A Dynap-SE2 board through samna: list, open, flash (apply + compare samna's copy), run.

Opening: ``samna.device.get_unopened_devices()`` (boards whose ``device_type_name`` contains
"DYNAP-SE2"), ``open_device(info)``, ``configure_opal_kelly(bitfile)`` with SynSense's
``Dynapse2Stack.bit`` (``--bitfile`` or ``$NEURODEPLOY_BITFILE``; never bundled), ``reset_fpga()``,
a settle wait, ``get_model()``. The number of chips on the stack is set (``set_number_of_chip``, with
``--chips``) or read (``get_number_of_chips``) and checked against the config's chips.

Flashing: ``model.reset(ResetType.ConfigReset, chip mask)``, ``clear_error_queue()``, the
configuration ``get_configuration()`` returns with the config written into it
(:func:`~neurodeploy.backends.samna.to_samna`), ``apply_configuration``, a settle wait, then
``get_configuration()`` again and a field-by-field comparison. samna documents that
``get_configuration`` returns a copy of the last applied configuration, not the silicon's state:
the comparison catches an apply that samna rejected or altered, not a faulty chip (``neurodeploy
selftest`` makes the chip answer).

Running (per input sample; the FPGA conventions are in :mod:`neurodeploy.backends.fpga`):
``model.reset(LogicReset)`` flushes the chips' buffers once after loading. Before each sample the
chip is discharged (on by default): a copy of the configuration with every leak at its maximum
(SOIF_LEAK_N, DEAM/DENM_ETAU_P, DEGA/DESC_ITAU_P at coarse 5, fine 255 — the state reset Rockpool's
Dynap-SE2 interface and the public lab scripts use, since the analog state cannot be reset otherwise)
is applied, the chip settles, and the configuration is applied again. Each sample probes the FPGA
clock with marker events (after a time-bounded drain of whatever the chip sent meanwhile: a chip
with DC input or self-sustained activity never falls silent), refuses a run that would cross the
2^32 µs clock wrap (or waits for the wrap with ``wait_for_clock``, as lab practice does), schedules
its input ``START_OFFSET_S`` later, writes it in chunks no more than ``LEAD_S`` ahead of the board's
time (progress bar for inputs longer than 2 s), appends end markers after the input's duration and
reads events until they return (or ``timeout`` s after the input ended: exit 1). Every read loop is
bounded in time. Returned events are decoded through the config's host routes, outputs and placement
record.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from .base import Backend, RunResult
from .fpga import (CLOCK_WRAP_US, HOST_X_HOP, MARKER_COPIES, MARKER_TAG, MAX_INPUT_RATE, START_OFFSET_S, OutputDecoder,
                   is_marker, peak_rate, raster_events, raw_events, time_events, unwrap, wrap)
from ..errors import BackendError
from .samna import BoardError, diff_samna, require_samna, to_samna

BOARD_TYPE = "DYNAP-SE2"
BITFILE_ENV = "NEURODEPLOY_BITFILE"
LEAD_S = 1.0            # input is written at most this far ahead of the board's time
CHUNK_S = 0.5           # input duration per write
SETTLE_S = 0.1          # wait after an FPGA reset, a chip reset or an apply (the lab scripts wait 0.1-1 s)
DRAIN_S = 0.25          # at most this long to drain leftover events before a clock probe
CLOCK_MARGIN_S = 1.0    # a run must end at least this long before the clock wraps
#: the leak biases set to their maximum to discharge the chip's capacitors between samples
DISCHARGE_PARAMETERS = ("SOIF_LEAK_N", "DEAM_ETAU_P", "DENM_ETAU_P", "DEGA_ITAU_P", "DESC_ITAU_P")
DISCHARGE_CODE = (5, 255)


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


def open_board(samna, device: str | None = None, bitfile: str | None = None, settle=None):
    """Open the board with serial ``device`` (or the only/first one) and configure its FPGA → board.
    ``settle()`` is called after the bitfile is loaded and after the FPGA reset."""
    path = resolve_bitfile(bitfile)
    boards = list_boards(samna)
    if device is not None:
        boards = [b for b in boards if str(b.serial_number) == str(device)]
        if not boards:
            raise BackendError(f"no unopened Dynap-SE2 board with serial {device!r} (`neurodeploy devices` lists them)")
    if not boards:
        raise BackendError("no unopened Dynap-SE2 board found (`neurodeploy devices` lists them; is it plugged in, "
                           "or opened by another process? on Linux, can your user access the USB device?)")
    board = samna.device.open_device(boards[0])
    try:
        if not board.configure_opal_kelly(path):
            raise BoardError(f"{path}: the board refused the FPGA bitfile (configure_opal_kelly failed)")
        if settle:
            settle()
        board.reset_fpga()
        if settle:
            settle()
    except BaseException:
        samna.device.close_device(board)
        raise
    return board


def board_chips(board, chips: int | None = None) -> int | None:
    """Set the number of chips on the stack (``chips`` given) and return what the board reports
    (None when the samna build has no chip-count call)."""
    if chips is not None:
        if not hasattr(board, "set_number_of_chip"):
            raise BackendError("--chips: this samna build cannot set the number of chips (no set_number_of_chip)")
        board.set_number_of_chip(int(chips))
    if not hasattr(board, "get_number_of_chips"):
        return chips
    n = int(board.get_number_of_chips())
    if chips is not None and n != int(chips):
        raise BoardError(f"the board was told it holds {chips} chips but reports {n}")
    return n


def chip_mask(cfg) -> int:
    return sum(1 << c.chip for c in cfg.chips)


def flash(samna, model, cfg, settle=None) -> tuple[list[str], object]:
    """Reset the config's chips, apply ``cfg``, settle, compare samna's copy → (differences one line each
    (empty = identical), the applied samna configuration)."""
    model.reset(samna.dynapse2.ResetType.ConfigReset, chip_mask(cfg))
    model.clear_error_queue()
    expected = to_samna(cfg, model.get_configuration())
    if model.apply_configuration(expected) is False:
        raise BoardError("samna refused the configuration (apply_configuration returned False)")
    if settle:
        settle()
    return diff_samna(expected, model.get_configuration()), expected


def make_leaky(scfg, cfg):
    """Set the leak biases of ``cfg``'s cores in the samna configuration ``scfg`` (a copy from
    ``get_configuration()``) to their maximum, in place → ``scfg``."""
    for chip in cfg.chips:
        for core in chip.cores:
            params = scfg.chips[chip.chip].cores[core.core].parameters
            for name in DISCHARGE_PARAMETERS:
                params[name].coarse_value, params[name].fine_value = DISCHARGE_CODE
    return scfg


class SamnaBackend(Backend):
    """A Dynap-SE2 board as a :class:`~neurodeploy.backends.base.Backend` (see module doc).

    ``chips``: the number of chips on the stack (set on the board; None = what the board reports);
    ``discharge``: discharge the chip before every sample; ``settle``: seconds to wait after resets and
    applies; ``wait_for_clock``: wait for the FPGA clock to wrap instead of refusing a run that would
    cross it. ``clock``/``sleep`` are the host's (replaceable in tests); ``log`` receives warnings
    (default: :func:`neurodeploy.log.warn`); ``progress`` None shows a bar on a terminal or with ``-v``.
    """

    name = "samna"

    def __init__(self, profile=None, *, device=None, bitfile=None, timeout: float = 10.0, start_offset: float = START_OFFSET_S,
                 max_input_rate: float = MAX_INPUT_RATE, progress: bool | None = None, poll_step: float = 1e-3,
                 chips: int | None = None, discharge: bool = True, settle: float = SETTLE_S, wait_for_clock: bool = False,
                 clock=time.monotonic, sleep=time.sleep, log=None):
        self.profile, self.device, self.bitfile = profile, device, bitfile
        self.timeout, self.start_offset, self.max_input_rate = timeout, start_offset, max_input_rate
        self.progress, self.poll_step, self.clock, self.sleep = progress, poll_step, clock, sleep
        self.chips, self.discharge, self.settle, self.wait_for_clock = chips, discharge, settle, wait_for_clock
        if log is None:
            from ..log import warn as log
        self.log = log
        self.samna = self.board = self.model = self.cfg = self.decoder = self.applied = None
        self.n_chips: int | None = None

    def _settle(self) -> None:
        if self.settle > 0:
            self.sleep(self.settle)

    # ---- board -----------------------------------------------------------------------------
    def open(self):
        if self.board is None:
            self.samna = require_samna()
            self.board = open_board(self.samna, self.device, self.bitfile, settle=self._settle)
            try:
                self.n_chips = board_chips(self.board, self.chips)
                self.model = self.board.get_model()
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        if self.board is not None:
            self.samna.device.close_device(self.board)
            self.board = self.model = None

    def load(self, cfg) -> None:
        """Flash ``cfg`` (samna's copy must match, else :class:`BoardError` listing the differences)."""
        if self.profile is not None:
            from ..errors import ConfigError
            from ..rules import check_config_profile

            errors, _ = check_config_profile(cfg, self.profile)
            if errors:
                raise ConfigError("config", lines=[f"config: {e}" for e in errors])
        decoder = OutputDecoder.from_config(cfg)
        self.open()
        if self.n_chips is not None:
            beyond = sorted(c.chip for c in cfg.chips if c.chip >= self.n_chips)
            if beyond:
                raise BoardError(f"the config uses chip {beyond[0]} but the board reports {self.n_chips} chip(s) "
                                 f"(0..{self.n_chips - 1}): pass --chips N if the stack holds more, or map for "
                                 f"--chips {self.n_chips}")
        diff, applied = flash(self.samna, self.model, cfg, settle=self._settle)
        if diff:
            raise BoardError("read-back differs from the config", lines=[f"read-back differs: {d}" for d in diff])
        self.model.reset(self.samna.dynapse2.ResetType.LogicReset, chip_mask(cfg))
        self._settle()
        self.cfg, self.decoder, self.applied = cfg, decoder, applied

    def discharge_chip(self) -> None:
        """Apply the configuration with every leak at its maximum, settle, apply the configuration again, settle."""
        self.model.clear_error_queue()
        self.model.apply_configuration(make_leaky(self.model.get_configuration(), self.cfg))
        self._settle()
        self.model.apply_configuration(self.applied)
        self._settle()

    # ---- events ----------------------------------------------------------------------------
    def _event(self, tag, core_bits, x_hop, y_hop, timestamp):
        se2 = self.samna.dynapse2
        d = se2.Dynapse2Destination()
        d.tag, d.core, d.x_hop, d.y_hop = int(tag), [bool((int(core_bits) >> k) & 1) for k in range(4)], int(x_hop), int(y_hop)
        e = se2.NormalGridEvent()
        e.event, e.timestamp = d, int(timestamp)
        return e

    def _markers(self, timestamp: int) -> list:
        return [self._event(MARKER_TAG, 15, HOST_X_HOP, HOST_X_HOP, timestamp) for _ in range(MARKER_COPIES)]

    def _read(self) -> list[tuple[int, int, int, int]]:
        return [(int(e.timestamp), int(e.event.tag), int(e.event.x_hop), int(e.event.y_hop)) for e in self.board.read_events()]

    def _drain(self) -> int:
        """Read and drop what the chip sent since the last run, for at most ``DRAIN_S`` → events dropped."""
        deadline = self.clock() + DRAIN_S
        dropped = 0
        while self.clock() < deadline:
            got = self.board.read_events()
            if not got:
                break
            dropped += len(got)
        return dropped

    def _probe(self) -> int:
        """The FPGA's current time (µs): send markers stamped 0 (due at once), return the echo's timestamp."""
        self._drain()
        self.board.input_interface_write_events(0, self._markers(0))
        deadline = self.clock() + self.timeout
        while True:
            marks = [t for t, g, x, y in self._read() if is_marker(g, x, y)]
            if marks:
                return marks[-1]
            if self.clock() > deadline:
                raise BoardError(f"the FPGA did not answer the clock probe within {self.timeout} s (is the bitfile loaded?)")
            self.sleep(self.poll_step)

    def _start_time(self, t_end_us: int, sample: int) -> int:
        """Probe the clock → the run's start (absolute µs) such that the run ends before the clock wraps;
        refuses (or, with ``wait_for_clock``, waits for the wrap) otherwise."""
        need = self.start_offset + t_end_us / 1e6 + CLOCK_MARGIN_S
        if need * 1e6 >= CLOCK_WRAP_US // 2:
            raise BackendError(f"sample {sample}: {need:.0f} s of input do not fit between two wraps of the FPGA clock "
                               f"(2^32 µs ≈ 71.6 min): split the input into shorter samples")
        for _ in range(3):
            t0 = self._probe()
            left = (CLOCK_WRAP_US - t0) / 1e6
            if t0 + need * 1e6 < CLOCK_WRAP_US:
                return t0 + int(round(self.start_offset * 1e6))
            if not self.wait_for_clock:
                raise BoardError(f"sample {sample}: the run needs {need:.1f} s but the FPGA clock wraps in {left:.1f} s; "
                                 f"wait {left + 1:.0f} s and run again, or pass --wait-for-clock")
            self.log(f"waiting {left + 1:.0f} s for the FPGA clock to wrap (--wait-for-clock)")
            self.sleep(left + 1.0)
        raise BoardError("the FPGA clock did not wrap when expected (is the board's clock running?)")

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
        elif "spike_times" in data:     # input spikes by their times: each sent at its own µs
            st = data["spike_times"]
            T = st.steps
            samples = [time_events(t, c, self.cfg) for t, c in st.per_sample()]
        else:
            T = data["spikes"].shape[1]
            samples = [raster_events(x, dt, self.cfg) for x in data["spikes"]]
        spikes, tables, info = [], [], {"unknown_events": 0, "events_after_end": 0, "events_before_start": 0}
        for b, ev in enumerate(samples):
            if self.discharge:
                self.discharge_chip()
            rate = peak_rate(ev[:, 0])
            if rate > self.max_input_rate:
                self.log(f"sample {b}: input peaks at {rate:.3g} events/s (over 1 ms), above the {self.max_input_rate:.3g} "
                         f"events/s the board's link is assumed to carry; events may arrive late")
            s, table = self._run_one(ev, T, dt, info, b)
            spikes.append(s)
            tables.append(np.concatenate([np.full((len(table), 1), b, np.int64), table], axis=1))
        spikes = np.stack(spikes)
        for key in [k for k, v in info.items() if v]:
            self.log(f"{info[key]} {key.replace('_', ' ')} (not counted)")
        return RunResult(spikes, spikes[..., self.decoder.outputs], self.decoder.sites, dt,
                         np.concatenate(tables) if tables else np.zeros((0, 5), np.int64), info)

    def _run_one(self, ev: np.ndarray, T: int, dt: float, info: dict, sample: int = 0):
        """One sample: probe, schedule, stream, collect until the end marker returns → (spikes [T, M], [K, 4])."""
        t_end = max(int(round(T * dt * 1e6)), int(ev[-1, 0]) + 1 if ev.size else 0)
        start = self._start_time(t_end, sample)
        w0 = self.clock()
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
