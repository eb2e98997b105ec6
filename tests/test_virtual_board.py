"""The virtual board (tests/fake_samna/virtual.py): samna objects in, the emulator's answer out.

The host class here does what a program driving a board does — clock probe (markers stamped 0), input
events, end markers, reads until the end marker returns — so these tests pin the board double itself;
one test also drives it through :class:`neurodeploy.backends.samna_board.SamnaBackend`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

import fake_samna
from fake_samna.virtual import VirtualBoard, VirtualClock
from samna_helpers import ROOT, chain_config, example_config

WRAP = 1 << 32
DT = 1e-3


# ---- configs -------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def dc_config():
    """Two DC-driven populations on two cores of chip 0 ("a": core 0, neurons 0-1; "b": core 1, neuron 0),
    firing at ~160/s without any input."""
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.network import network_from_dict

    prof = load_profile("dynapse2")
    d = prof.default_currents()
    idc = 3 * d["Ispkthr"] * (d["Itau_mem"] + prof.analog.I_0) / d["Igain_mem"]     # 3× the threshold's DC
    network = network_from_dict({"name": "dc", "dt": DT, "n_inputs": 1,
                           "populations": [{"name": "a", "size": 2, "Idc": idc},
                                           {"name": "b", "size": 1, "Idc": idc, "Itau_mem": 1.5 * d["Itau_mem"]}],
                           "projections": [{"source": "input", "target": "a", "weight_scale": 1e-7, "weight": [[0.5, 0.5]]}],
                           "outputs": [{"population": "a"}, {"population": "b"}]})
    cfg = deploy(network, prof).config
    assert [(p.population, p.core) for p in cfg.placement] == [("a", [0, 0]), ("b", [1])]
    return cfg


# ---- a host driving the board --------------------------------------------------------------------
def set_host_cores(scfg, core):
    """Give every host route (x_hop −7) of a samna configuration the core mask ``core``."""
    for chip in scfg.chips:
        for k in chip.cores:
            for n in k.neurons:
                dst = n.destinations
                if any(d.x_hop == -7 for d in dst):
                    for d in dst:
                        if d.x_hop == -7:
                            d.core = list(core)
                    n.destinations = dst
    return scfg


def flash(samna, board, cfg, host_core=(True,) * 4):
    """Write ``cfg`` into samna objects (host routes with ``host_core``) and apply them."""
    from neurodeploy.backends.samna import to_samna

    scfg = set_host_cores(to_samna(cfg, samna), host_core)
    assert board.get_model().apply_configuration(scfg)
    return scfg


class Host:
    def __init__(self, samna, board, clock):
        self.se2, self.board, self.clock = samna.dynapse2, board, clock

    def event(self, tag, core_bits, x_hop, y_hop, timestamp):
        d = self.se2.Dynapse2Destination()
        d.tag, d.core, d.x_hop, d.y_hop = int(tag), [bool((int(core_bits) >> k) & 1) for k in range(4)], int(x_hop), int(y_hop)
        e = self.se2.NormalGridEvent()
        e.event, e.timestamp = d, int(timestamp) % WRAP
        return e

    def markers(self, timestamp):
        return [self.event(2047, 15, -7, -7, timestamp) for _ in range(3)]

    def read(self):
        return [(int(e.timestamp), int(e.event.tag), int(e.event.x_hop), int(e.event.y_hop)) for e in self.board.read_events()]

    def probe(self) -> int:
        self.board.input_interface_write_events(0, self.markers(0))
        for _ in range(1000):
            marks = [t for t, g, x, y in self.read() if g == 2047 and y == -7]
            if marks:
                assert len(marks) == 3
                return marks[-1]
            self.clock.sleep(1e-3)
        raise AssertionError("no probe echo")

    def run(self, ev, t_end_us, offset_us=100_000):
        """Input events ``ev`` [K, 5] (µs from the start, tag, core mask, x_hop, y_hop) → (start, returned
        non-marker events [K', 4] (timestamp, tag, x_hop, y_hop), end-marker echo timestamps)."""
        t0 = self.probe()
        start = (t0 + offset_us) % WRAP
        if len(ev):
            self.board.input_interface_write_events(0, [self.event(g, m, x, y, start + t) for t, g, m, x, y in np.asarray(ev).tolist()])
        self.board.input_interface_write_events(0, self.markers(start + t_end_us))
        got, ends = [], []
        for _ in range(100_000):
            for t, g, x, y in self.read():
                if g == 2047 and y == -7:
                    assert (t - start) % WRAP < WRAP // 2
                    ends.append(t)
                else:
                    got.append((t, g, x, y))
            if len(ends) == 3:
                return start, np.asarray(got, np.int64).reshape(-1, 4), ends
            self.clock.sleep(1e-3)
        raise AssertionError("no end-marker echo")


def decode(cfg, start, got, T):
    from neurodeploy.backends.fpga import OutputDecoder

    dec = OutputDecoder.from_config(cfg)
    rel = (got[:, 0] - start) % WRAP
    spikes, _, unknown, late = dec.decode(rel, got[:, 1], got[:, 2], got[:, 3], T, DT)
    assert unknown == 0 and late == 0
    return spikes, dec.sites


def fpga_events(cfg, raster):
    """raster [T, n_in] → the events the FPGA is sent [K, 5] and the same as raw input events [K, 4]
    (timestamp, tag, chip, core mask) for the emulator (chip h sits at (h, 0))."""
    from neurodeploy.backends.fpga import raster_events

    ev = raster_events(raster, DT, cfg)
    return ev, np.stack([ev[:, 0], ev[:, 1], ev[:, 3], ev[:, 2]], axis=1)


def emulated(cfg, raw, T, sites, profile):
    from neurodeploy.backends.emulator import EmulatorBackend

    b = EmulatorBackend(profile)
    b.load(cfg)
    res = b.run({"events": raw, "dt": DT, "duration": T * DT})
    assert res.spikes.shape[1] == T
    row = {tuple(s): i for i, s in enumerate(np.asarray(res.sites).tolist())}
    return np.asarray(res.spikes)[0][:, [row[tuple(s)] for s in sites.tolist()]], res


@pytest.fixture
def make(monkeypatch):
    """make(n_chips, **board options) → (samna, board, clock, host) with the board installed as samna's only device."""
    def _make(n_chips=1, **kw):
        clock = kw.pop("clock", VirtualClock())
        board = VirtualBoard("VB-1", n_chips=n_chips, clock=clock, **kw)
        samna = fake_samna.install(monkeypatch, [board], n_chips=n_chips)
        return samna, board, clock, Host(samna, board, clock)
    return _make


def frozen_noise(T):
    z = np.load(ROOT / "examples/frozen_noise/inputs.npz")
    x = z["spikes"][0, :T].astype(np.float32)
    return x


# ---- tests ---------------------------------------------------------------------------------------
def test_run_across_the_clock_wrap_matches_the_emulator(make, profile):
    from neurodeploy.backends.emulator import EmulatorBackend

    T = 300
    samna, board, clock, host = make(1, start_us=WRAP - 150_000, read_cost=1e-4)
    cfg = example_config()
    flash(samna, board, cfg)
    x = frozen_noise(T)
    ev, raw = fpga_events(cfg, x)
    start, got, ends = host.run(ev, T * 1000)
    assert start > WRAP - 100_000 and ends == [(start + T * 1000) % WRAP] * 3     # the run crosses the wrap; the end
    assert ((got[:, 0] - start) % WRAP < T * 1000).all() and (got[:, 0] < start).any()   # markers come back last
    spikes, sites = decode(cfg, start, got, T)
    ref, _ = emulated(cfg, raw, T, sites, profile)
    assert spikes.sum() >= 5
    np.testing.assert_array_equal(spikes, ref)
    b = EmulatorBackend(profile)                                                  # = `neurodeploy emulate` on the raster
    b.load(cfg)
    np.testing.assert_array_equal(spikes, np.asarray(b.run({"spikes": x[None], "dt": DT}).spikes)[0])
    run = board.runs[-1]
    assert (run["start_us"], run["steps"]) == ((start - 100_000) % WRAP, T + 100)    # the chip ran from the clock probe on
    assert (run["input_events"], run["output_events"]) == (len(ev), spikes.sum())


def test_host_routes_with_an_empty_core_mask_send_nothing(make, profile):
    T = 300
    samna, board, clock, host = make(1)
    cfg = example_config()
    flash(samna, board, cfg, host_core=(False,) * 4)
    ev, raw = fpga_events(cfg, frozen_noise(T))
    start, got, ends = host.run(ev, T * 1000)
    assert len(got) == 0 and len(ends) == 3                                       # markers still come back
    assert board.contents().host == {}
    from neurodeploy.backends.fpga import OutputDecoder

    ref, _ = emulated(cfg, raw, T, OutputDecoder.from_config(cfg).sites, profile)
    assert ref.sum() >= 5                                                         # the neurons did fire


def test_dc_neurons_send_events_between_runs(make, profile):
    from neurodeploy.backends.emulator import EmulatorBackend

    samna, board, clock, host = make(1, read_cost=1e-3)
    cfg = dc_config()
    flash(samna, board, cfg)
    t_apply = board.clock_us
    got = []
    for _ in range(100):                                                          # 1 s: read every 10 ms
        clock.sleep(9e-3)
        got += host.read()
    elapsed = (board.clock_us - t_apply) / 1e6
    got = np.asarray(got, np.int64)
    spikes, sites = decode(cfg, t_apply, got, 2000)
    b = EmulatorBackend(profile)                                                  # the rates without input
    b.load(cfg)
    idle = np.asarray(b.run({"spikes": np.zeros((1, 200, 1), np.float32), "dt": DT}).spikes)[0, 100:]
    row = {tuple(s): i for i, s in enumerate(np.asarray(b.emulator.decoded.sites).tolist())}
    rate = idle[:, [row[tuple(s)] for s in sites.tolist()]].sum(axis=0) / 0.1
    assert (rate > 100).all()
    np.testing.assert_allclose(spikes.sum(axis=0), rate * elapsed, atol=1.0)
    for s in range(len(sites)):                                                   # evenly spaced
        ts = np.sort(got[got[:, 1] == sites[s, 1] * 256 + sites[s, 2], 0])
        assert np.ptp(np.diff(ts)) <= 1
    # a run with no input (probe .. end marker) is emulated from rest; activity goes on after it
    start, during, ends = host.run(np.zeros((0, 5), np.int64), 50_000)         # window: the probe .. start + 50 ms
    assert len(during) > 0 and ((during[:, 0] - (start - 100_000)) % WRAP < 150_000).all()
    clock.sleep(0.1)
    after = np.asarray(host.read(), np.int64)
    assert len(after) > 0 and ((after[:, 0] - ends[0]) % WRAP < WRAP // 2).all()


def test_a_read_loop_until_empty_trips_the_guard(make):
    samna, board, clock, host = make(1, read_cost=0.01, max_busy_reads=300)
    assert VirtualBoard(clock=VirtualClock()).max_busy_reads == 10_000
    flash(samna, board, dc_config())
    clock.sleep(0.05)                                                             # the neurons are firing
    with pytest.raises(AssertionError, match="unbounded read loop"):
        for _ in range(1000):                                                     # `while board.read_events(): pass`,
            if not board.read_events():                                           # bounded here in case the guard fails
                break
    for _ in range(600):                                                          # waiting between reads is fine
        board.read_events()
        clock.sleep(0.005)
    with pytest.raises(ValueError, match="VirtualClock"):
        VirtualBoard(read_cost=0.01)                                              # the host's real clock cannot be advanced


def test_a_dead_core_stays_silent_while_the_others_fire(make):
    cfg = dc_config()
    for dead, silent in (((), set()), ({(0, 1)}, {(0, 1, 0)})):
        samna, board, clock, host = make(1, dead_cores=dead)
        flash(samna, board, cfg)
        clock.sleep(0.5)
        got = []
        while True:                                                               # reads cost no time here: this ends
            more = host.read()
            if not more:
                break
            got += more
        got = np.asarray(got, np.int64)
        start, during, _ = host.run(np.zeros((0, 5), np.int64), 50_000)
        for rows in (got, during):
            spikes, sites = decode(cfg, int(rows[:, 0].min()), rows, 1000)
            fired = {tuple(s) for s, n in zip(sites.tolist(), spikes.sum(axis=0)) if n > 0}
            assert fired == {(0, 0, 0), (0, 0, 1), (0, 1, 0)} - silent
    killed = [n.latch_soif_kill for k in board.contents().cfg.chips[0].cores for n in k.neurons]
    assert killed == [False, False, True]


def test_two_chips_with_cross_chip_synapses_match_the_emulator(make, profile):
    T = 100
    samna, board, clock, host = make(2, read_cost=1e-4)
    cfg = chain_config()
    assert {p.chip[0] for p in cfg.placement} == {0, 1}
    flash(samna, board, cfg)
    rng = np.random.default_rng(1)
    x = (rng.random((T, 4)) < 0.2).astype(np.float32)
    x[0, 0] = 1
    ev, raw = fpga_events(cfg, x)
    start, got, _ = host.run(ev, T * 1000)
    assert set(got[:, 2].tolist()) == {-6, -5}                                    # chip 0 reads back x_hop −6, chip 1 −5
    spikes, sites = decode(cfg, start, got, T)
    ref, _ = emulated(cfg, raw, T, sites, profile)
    assert spikes[:, sites[:, 0] == 1].sum() > 0                                  # spikes crossed to chip 1
    np.testing.assert_array_equal(spikes, ref)
    # the FPGA told to address one chip: chip 1 is not there, its neurons never answer
    assert board.get_number_of_chips() == 2
    board.set_number_of_chip(1)
    assert board.get_number_of_chips() == 1 and board.contents().held == {0}
    start, got, _ = host.run(ev, T * 1000)
    assert set(got[:, 2].tolist()) == {-6}
    with pytest.raises(ValueError):
        board.set_number_of_chip(3)


def test_the_samna_backend_on_the_virtual_board_is_emulate(make, profile, tmp_path, monkeypatch):
    from neurodeploy.backends.emulator import EmulatorBackend
    from neurodeploy.backends.samna_board import SamnaBackend

    bit = tmp_path / "Dynapse2Stack.bit"
    bit.write_bytes(b"bitstream")
    monkeypatch.setenv("NEURODEPLOY_BITFILE", str(bit))
    samna, board, clock, host = make(1, read_cost=1e-4)
    cfg = example_config()
    x = frozen_noise(300)[None]
    backend = SamnaBackend(clock=clock, sleep=clock.sleep)
    backend.load(cfg)
    res = backend.run({"spikes": x, "dt": DT})
    backend.close()
    ref = EmulatorBackend(profile)
    ref.load(cfg)
    np.testing.assert_array_equal(res.outputs, np.asarray(ref.run({"spikes": x, "dt": DT}).outputs))
    assert res.outputs.sum() >= 5
