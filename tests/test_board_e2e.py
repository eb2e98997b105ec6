"""End to end on the virtual board (tests/fake_samna/virtual.py): the CLI's board path — to_samna, event
encoding, the board session, decoding — gives the emulator's answer, and `selftest` finds a dead core.

The CLI runs with the host's real clock, so each board run takes its real duration (inputs kept short)."""

import json

import numpy as np
import pytest

import fake_samna
from fake_samna.virtual import VirtualBoard
from samna_helpers import ROOT, chain_config, example_config


@pytest.fixture
def install(monkeypatch, tmp_path):
    bit = tmp_path / "Dynapse2Stack.bit"
    bit.write_bytes(b"bitstream")
    monkeypatch.setenv("NEURODEPLOY_BITFILE", str(bit))

    def _install(n_chips=1, **kw):
        board = VirtualBoard("VB-1", n_chips=n_chips, **kw)
        fake_samna.install(monkeypatch, [board], n_chips=n_chips)
        return board
    return _install


def _board_vs_emulate(run_cli, tmp_path, cfg, x):
    cpath, inp = tmp_path / "config.json", tmp_path / "in.npz"
    cfg.save(cpath)
    np.savez(inp, spikes=x, dt=1e-3)
    code, out, err = run_cli("run", cpath, "--input", inp, "-o", tmp_path / "board.npz", "--backend", "samna", "--settle", "0.02")
    assert code == 0, err
    code, out2, err = run_cli("emulate", cpath, "--input", inp, "-o", tmp_path / "emu.npz")
    assert code == 0, err
    board, emu = np.load(tmp_path / "board.npz"), np.load(tmp_path / "emu.npz")
    return board, emu


def test_run_on_the_virtual_board_equals_emulate_for_the_demo_config(install, run_cli, tmp_path):
    board_dev = install(1)
    z = np.load(ROOT / "examples/frozen_noise/inputs.npz")
    x = z["spikes"][:2, :250].astype(np.float32)
    board, emu = _board_vs_emulate(run_cli, tmp_path, example_config(), x)
    assert emu["outputs"].sum() > 10
    np.testing.assert_array_equal(board["outputs"], emu["outputs"])
    assert list(board["output_names"]) == list(emu["output_names"])
    assert len(board_dev.runs) == 2 and all(r["input_events"] > 0 for r in board_dev.runs)


def test_run_on_the_virtual_board_equals_emulate_across_two_chips(install, run_cli, tmp_path):
    install(2)
    cfg = chain_config()
    assert {c.chip for c in cfg.chips} == {0, 1}
    rng = np.random.default_rng(3)
    x = (rng.random((1, 150, len(cfg.inputs))) < 0.3).astype(np.float32)
    board, emu = _board_vs_emulate(run_cli, tmp_path, cfg, x)
    chip1 = [i for i, o in enumerate(cfg.outputs) if o.chip == 1]
    assert chip1 and emu["outputs"][..., chip1].sum() > 0          # activity crossed to chip 1
    np.testing.assert_array_equal(board["outputs"], emu["outputs"])


def test_selftest_on_the_virtual_board_all_cores_ok(install, run_cli, tmp_path):
    install(2)
    code, out, err = run_cli("selftest", "--settle", "0.02", "--json", tmp_path / "st.json")
    assert code == 0, out + err
    rows = [ln for ln in out.splitlines() if ln.split()[:1] in (["0"], ["1"]) and ln.strip().endswith(" OK")]
    assert len(rows) == 8 and "all cores OK" in out
    rep = json.loads((tmp_path / "st.json").read_text())
    assert rep["passed"] and rep["chips"] == 2 and all(c["ok"] for c in rep["cores"])


def test_selftest_names_a_dead_core_and_exits_1(install, run_cli, tmp_path):
    install(1, dead_cores={(0, 2)})
    code, out, err = run_cli("selftest", "--settle", "0.02")
    assert code == 1, out + err
    dead = [ln for ln in out.splitlines() if ln.split()[:2] == ["0", "2"]]
    assert len(dead) == 1 and dead[0].strip().endswith("DEAD")
    assert sum(ln.split()[:1] == ["0"] and ln.strip().endswith(" OK") for ln in out.splitlines()) == 3
    assert "1 core(s) failing: chip 0 core 2 (dc, ampa, nmda, gaba, shunt, route)" in out


def test_selftest_on_the_emulator(run_cli):
    code, out, err = run_cli("selftest", "--backend", "emulator")
    assert code == 0 and "all cores OK" in out


def test_run_on_the_virtual_board_takes_spike_times_at_their_own_microseconds(install, run_cli, tmp_path):
    """An input of spike times ('times', 'channels', 'samples'): the board is sent each spike at its own µs (the
    virtual board counts it in its step, as `emulate` counts the file), two samples one after the other."""
    board_dev = install(1)
    cfg = example_config()
    x = np.load(ROOT / "examples/frozen_noise/inputs.npz")["spikes"][:2, :250].astype(int)
    b, t, c = np.nonzero(x)
    b, t, c = np.repeat(b, x[b, t, c]), np.repeat(t, x[b, t, c]), np.repeat(c, x[b, t, c])
    us = t * 1000 + np.random.default_rng(5).integers(1, 1000, t.size)
    cpath, inp = tmp_path / "config.json", tmp_path / "times.npz"
    cfg.save(cpath)
    np.savez(inp, times=us * 1e-6, channels=c, samples=b, duration=0.25, dt=1e-3)
    code, out, err = run_cli("run", cpath, "--input", inp, "-o", tmp_path / "board.npz", "--backend", "samna",
                             "--settle", "0.02")
    assert code == 0, err
    assert run_cli("emulate", cpath, "--input", inp, "-o", tmp_path / "emu.npz")[0] == 0
    board, emu = np.load(tmp_path / "board.npz"), np.load(tmp_path / "emu.npz")
    assert emu["outputs"].sum() > 10
    np.testing.assert_array_equal(board["outputs"], emu["outputs"])
    routed = np.array([len(ch.destinations) for ch in cfg.inputs])[c]
    assert [r["input_events"] for r in board_dev.runs] == [int(routed[b == k].sum()) for k in (0, 1)]
