"""`neurodeploy calibrate --backend samna` on the virtual board (tests/fake_samna/virtual.py): the probes go through
the board path (to_samna, event encoding, the session, decoding) and measure what the emulator measures."""

import numpy as np
import pytest

import fake_samna
from fake_samna.virtual import VirtualBoard


@pytest.fixture
def board(monkeypatch, tmp_path):
    bit = tmp_path / "Dynapse2Stack.bit"
    bit.write_bytes(b"bitstream")
    monkeypatch.setenv("NEURODEPLOY_BITFILE", str(bit))
    dev = VirtualBoard("VB-1", n_chips=1)
    fake_samna.install(monkeypatch, [dev], n_chips=1)
    return dev


def test_calibrate_on_the_virtual_board_measures_what_the_emulator_measures(board, run_cli, tmp_path):
    args = ("calibrate", "--cores", "2", "--neurons", "0-5", "--duration", "0.6", "-o")
    code, out, err = run_cli(*args, tmp_path / "board.yaml", "--backend", "samna", "--settle", "0.02")
    assert code == 0, err
    assert "board time of the probes: 7.9 s" in out and len(board.runs) == 12      # 10 rate runs + 2 delay runs
    code, out, err = run_cli(*args, tmp_path / "emu.yaml", "--backend", "emulator")
    assert code == 0, err
    b, e = np.load(tmp_path / "board.probes.npz"), np.load(tmp_path / "emu.probes.npz")
    assert np.isfinite(b["isi"]).sum() >= 30
    np.testing.assert_allclose(b["isi"], e["isi"], rtol=0.02)
    # the delay probe's latencies through the board path are the emulator's, to the virtual board's 1 ms step
    assert np.isfinite(b["delay_latency"]).all() and np.ptp(e["delay_latency"]) > 0.01
    np.testing.assert_allclose(b["delay_latency"], e["delay_latency"], atol=board.dt + 1e-9)
