"""Hardware commands and the board backend, against the samna test double (tests/fake_samna)."""

import subprocess
import sys

import numpy as np
import pytest

import fake_samna
from samna_helpers import ROOT, example_config, four_chip_config

WRAP = 1 << 32


class HostClock:
    """The host's clock for the backend: sleeping advances it at once (no real waiting)."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += max(s, 1e-4)


@pytest.fixture
def make_board(monkeypatch, tmp_path):
    """A fake board with ``n_chips`` chips (1 for the 1-core example keeps the tests fast), installed as samna."""
    bit = tmp_path / "Dynapse2Stack.bit"
    bit.write_bytes(b"bitstream")
    monkeypatch.setenv("NEURODEPLOY_BITFILE", str(bit))

    def make(n_chips=1):
        b = fake_samna.FakeBoard("SN-7", n_chips=n_chips)
        fake_samna.install(monkeypatch, [b], n_chips=n_chips)
        return b
    return make


@pytest.fixture
def board(make_board):
    return make_board(1)


def backend(**kw):
    from neurodeploy.backends.samna_board import SamnaBackend

    clock = HostClock()
    return SamnaBackend(clock=clock, sleep=clock.sleep, **kw)


def host_event(cfg, output_index, delay_us):
    """What a chip sends the FPGA when model output ``output_index`` spikes (its host route)."""
    o = cfg.outputs[output_index]
    return (delay_us, o.core * 256 + o.neuron, -6 + o.chip, 0)


def test_flash_writes_reads_back_and_reports_ok(make_board, run_cli, tmp_path):
    from neurodeploy.backends.samna import from_samna

    board = make_board(4)
    cfg = four_chip_config()
    path = tmp_path / "config.json"
    cfg.save(path)
    code, out, err = run_cli("flash", path)
    assert code == 0, err
    assert "configuration matches" in out and "4 chip(s)" in out
    assert len(board.model.applied) == 1 and from_samna(board.model.applied[0], cfg).dumps() == cfg.dumps()
    rt = fake_samna.ResetType
    assert board.model.resets == [(rt.ConfigReset, 0b1111), (rt.LogicReset, 0b1111)]
    assert board.bitfiles and board.fpga_resets == 1 and not board.opened        # closed again


def test_flash_reports_a_read_back_difference_field_by_field(board, run_cli, tmp_path):
    cfg = example_config()
    path = tmp_path / "config.json"
    cfg.save(path)
    n0 = cfg.chips[0].cores[0].neurons[0]

    def corrupt(scfg):                   # the board keeps a different tag in one CAM entry and one bias
        n = scfg.chips[0].cores[0].neurons[0]
        syn = n.synapses
        syn[2].tag = (syn[2].tag + 5) % 2048
        n.synapses = syn
        scfg.chips[0].cores[0].parameters["SOIF_GAIN_N"].coarse_value = 5

    board.model.corrupt = corrupt
    code, out, err = run_cli("flash", path, "--device", "SN-7")
    assert code == 1
    lines = err.strip().splitlines()
    gain = cfg.chips[0].cores[0].parameters["SOIF_GAIN_N"].coarse
    assert gain != 5
    assert lines == [f"error: read-back differs: chip 0 core 0 parameter SOIF_GAIN_N coarse_value: wrote {gain}, read back 5",
                     f"error: read-back differs: chip 0 core 0 neuron 0 synapse[2] tag: wrote {n0.synapses[2][0]}, "
                     f"read back {(n0.synapses[2][0] + 5) % 2048}"]
    assert not board.opened


def test_flash_validates_first_and_needs_a_bitfile(board, run_cli, tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    d = example_config().model_dump(mode="json")
    d["chips"][0]["cores"][0]["parameters"]["SOIF_LEAK_N"]["coarse"] = 6
    import json

    bad.write_text(json.dumps(d))
    code, out, err = run_cli("flash", bad)
    assert code == 2 and "coarse" in err and not board.model.applied
    good = tmp_path / "good.json"
    example_config().save(good)
    monkeypatch.delenv("NEURODEPLOY_BITFILE")
    code, out, err = run_cli("flash", good)
    assert code == 2 and "--bitfile" in err and "NEURODEPLOY_BITFILE" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("flash", good, "--device", "nope", "--bitfile", str(tmp_path / "missing.bit"))
    assert code == 2 and "missing.bit" in err


def test_devices_lists_boards(board, run_cli):
    code, out, err = run_cli("devices")
    assert code == 0 and out.split() == ["SN-7", "DYNAP-SE2"]


def expected_input_events(cfg, raster, start, dt=1e-3):
    """(timestamp, tag, core mask, x_hop, y_hop) the FPGA must receive, from config.json's meaning alone."""
    pos = {c.chip: c.position for c in cfg.chips}
    out = []
    for t in range(raster.shape[0]):
        for i in range(raster.shape[1]):
            for _ in range(int(raster[t, i])):
                for d in cfg.inputs[i].destinations:
                    out.append(((start + round(t * dt * 1e6)) % WRAP, d.tag, tuple(d.core), pos[d.chip][0], pos[d.chip][1]))
    return out


def written(board, markers=False):
    return [(e.timestamp, e.event.tag, tuple(e.event.core), e.event.x_hop, e.event.y_hop)
            for _, batch in board.written for e in batch if (e.event.tag == 2047) == markers]


def wrap_test_input(cfg, T=60):
    rng = np.random.default_rng(1)
    raster = (rng.random((T, len(cfg.inputs))) < 0.2).astype(np.float32) * rng.integers(1, 3, (T, len(cfg.inputs)))
    raster[0, 0] = 1                                         # the first input event starts the replay
    return raster


def test_a_run_that_would_cross_the_clock_wrap_is_refused_with_the_time_to_wait(make_board):
    from neurodeploy.backends.samna import BoardError

    board = make_board(4)
    cfg = four_chip_config()
    board.clock_us = WRAP - 40_000                           # the clock wraps 40 ms from now
    b = backend()
    b.load(cfg)
    with pytest.raises(BoardError, match=r"the FPGA clock wraps in 0\.0 s; wait 1 s and run again, or pass --wait-for-clock"):
        b.run({"spikes": wrap_test_input(cfg)[None], "dt": 1e-3})
    assert not written(board)                                # no input was sent


def test_wait_for_clock_runs_after_the_wrap_and_decodes_outputs(make_board):
    board = make_board(4)
    cfg = four_chip_config()
    T = 60
    raster = wrap_test_input(cfg, T)
    clock = HostClock()
    board.replay = [host_event(cfg, 0, 5_500), host_event(cfg, 3, 20_000), host_event(cfg, 3, 20_999),
                    host_event(cfg, 4, 59_999), host_event(cfg, 0, 61_000),        # after the end: not counted
                    (7_000, 1234, -6, 0)]                                          # no neuron sends this: not counted
    from neurodeploy.backends.samna_board import SamnaBackend

    logs = []
    b = SamnaBackend(clock=clock, sleep=clock.sleep, wait_for_clock=True, discharge=False, log=logs.append)
    b.load(cfg)
    board.host_clock, board._host0 = clock, clock()           # from now on the FPGA clock runs with the host's
    board.clock_us = WRAP - 40_000                           # and wraps 40 ms from now
    res = b.run({"spikes": raster[None], "dt": 1e-3})
    assert any("waiting" in m and "wrap" in m for m in logs)
    probes = written(board, markers=True)
    start = next(t for t, *_ in written(board))              # the first input event is at the start
    assert start < 10_000_000                                # after the wrap
    assert written(board) == expected_input_events(cfg, raster, start)
    assert [m[0] for m in probes if m[0] != 0] == [start + T * 1000] * 3   # end markers after the input
    out = np.zeros((1, T, len(cfg.outputs)), np.int64)
    out[0, 5, 0] = 1
    out[0, 20, 3] = 2
    out[0, 59, 4] = 1
    np.testing.assert_array_equal(res.outputs, out)
    assert res.info["unknown_events"] == 1 and res.info["events_after_end"] == 1
    chip3 = [(int(t), int(c), int(k), int(n)) for _, t, c, k, n in res.events() if c == 3]
    o3 = cfg.outputs[3]
    assert chip3[:2] == [(20_000, 3, o3.core, o3.neuron), (20_999, 3, o3.core, o3.neuron)]


def test_run_file_writes_the_one_npz_format_with_model_names(board, tmp_path, run_cli):
    cfg = example_config()
    board.replay = [host_event(cfg, 1, 3_000), host_event(cfg, 1, 4_000), host_event(cfg, 0, 9_000)]
    cpath = tmp_path / "config.json"
    cfg.save(cpath)
    x = np.zeros((2, 20, len(cfg.inputs)), np.float32)
    x[:, 0, :] = 1
    np.savez(tmp_path / "in.npz", spikes=x, dt=1e-3)
    code, out, err = run_cli("run", cpath, "--input", tmp_path / "in.npz", "-o", tmp_path / "board.npz", "--backend", "samna")
    assert code == 0, err
    z = np.load(tmp_path / "board.npz")
    assert sorted(z.files) == ["dt", "events", "neurons", "output_names", "outputs", "sites", "spikes"]
    assert z["outputs"].shape == (2, 20, 2) and z["outputs"][:, 3, 1].tolist() == [1, 1] and z["outputs"][:, 9, 0].tolist() == [1, 1]
    assert list(z["neurons"]) == [f"neurons[{i}]" for i in range(2)] and list(z["output_names"]) == ["neurons[0]", "neurons[1]"]
    assert z["events"][:, 0].tolist() == [0, 0, 0, 1, 1, 1] and z["events"][:3, 1].tolist() == [3000, 4000, 9000]


def test_run_emulator_is_emulate(tmp_path, run_cli):
    cfg = example_config()
    cpath = tmp_path / "config.json"
    cfg.save(cpath)
    z = np.load(ROOT / "examples/frozen_noise/inputs.npz")
    inp = tmp_path / "in.npz"
    np.savez(inp, spikes=z["spikes"][:2, :100], dt=z["dt"])
    assert run_cli("run", cpath, "--input", inp, "-o", tmp_path / "a.npz", "--seed", "2", "--mismatch", "0.1")[0] == 0
    assert run_cli("emulate", cpath, "--input", inp, "-o", tmp_path / "b.npz", "--seed", "2", "--mismatch", "0.1")[0] == 0
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert "neurons" in np.load(tmp_path / "a.npz").files


def test_long_input_is_streamed_in_chunks_with_a_progress_bar(board, capsys):
    cfg = example_config()
    T = 3000                                                  # 3 s at 1 ms: above the 2 s progress-bar threshold
    raster = np.zeros((T, len(cfg.inputs)), np.float32)
    raster[::7, 3] = 1
    raster[0, 0] = 1
    logs = []
    b = backend(log=logs.append, max_input_rate=100.0, progress=True)
    b.load(cfg)
    b.run({"spikes": raster[None], "dt": 1e-3})
    start = (5_000_000 + 100_000) % WRAP
    assert written(board) == expected_input_events(cfg, raster, start)
    input_writes = [batch for _, batch in board.written if batch and batch[0].event.tag != 2047]
    assert len(input_writes) == 6                             # 0.5 s of input per write
    assert "board run" in capsys.readouterr().err             # tqdm's bar on stderr
    assert any("events/s" in m and "above" in m for m in logs)   # 100 events/s assumed limit exceeded


def test_raw_fpga_events_input(board):
    cfg = example_config()
    d = cfg.inputs[2].destinations[0]
    ev = np.array([[0, d.tag, d.chip, 0b0001], [2500, d.tag, d.chip, 0b0011], [2500, 5, d.chip, 0b1000]], np.int64)
    board.replay = [host_event(cfg, 0, 1_000)]
    b = backend()
    b.load(cfg)
    res = b.run({"events": ev, "dt": 1e-3, "duration": 0.01})
    start = (5_000_000 + 100_000) % WRAP
    assert written(board) == [(start, d.tag, (True, False, False, False), 0, 0), (start + 2500, d.tag, (True, True, False, False), 0, 0),
                              (start + 2500, 5, (False, False, False, True), 0, 0)]
    assert res.outputs.shape == (1, 10, 2) and res.outputs[0, 1, 0] == 1


def test_verify_backend_samna_judges_one_board_run(board, run_cli, tmp_path):
    import json

    cfg = example_config()
    cpath = tmp_path / "config.json"
    cfg.save(cpath)
    z = np.load(ROOT / "examples/frozen_noise/inputs.npz")
    T = z["spikes"].shape[1]
    board.replay = [host_event(cfg, i % 2, 1_000 * (3 + 5 * i)) for i in range(T // 6)]
    np.savez(tmp_path / "in.npz", spikes=z["spikes"][:4], dt=z["dt"])
    code, out, err = run_cli("verify", ROOT / "examples/frozen_noise/model.json", cpath, "--input",
                             tmp_path / "in.npz", "--backend", "samna", "--mismatch", "0",
                             "--json", tmp_path / "v.json")
    assert code in (0, 1), err
    rep = json.loads((tmp_path / "v.json").read_text())
    assert rep["backend"] == "samna" and "board" in rep and "quantization_and_mismatch" not in rep
    assert "board (one real chip)" in out
    assert len(board.model.applied) == 1 + 2 * 4              # flash, then per sample: discharge and restore


NO_SAMNA = "import sys; sys.modules['samna'] = None; from neurodeploy.cli import main; main(sys.argv[1:])"


def test_without_samna_every_hardware_command_fails_in_one_line(tmp_path):
    cfg = tmp_path / "config.json"
    example_config().save(cfg)
    np.savez(tmp_path / "in.npz", spikes=np.zeros((5, len(example_config().inputs))), dt=1e-3)
    for args in (["devices"], ["flash", str(cfg)], ["flash", str(cfg), "--samna-json", str(tmp_path / "s.json")],
                 ["run", str(cfg), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz"), "--backend", "samna"]):
        p = subprocess.run([sys.executable, "-c", NO_SAMNA, *args], capture_output=True, text=True, timeout=300,
                           env={"NEURODEPLOY_BITFILE": str(cfg), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.count("\n") == 1 and "pip install 'samna" in p.stderr and "--index-url" in p.stderr, (args, p.stderr)
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "s.json").exists()


def test_package_and_cli_never_import_samna():
    code = ("import sys, neurodeploy, neurodeploy.cli, neurodeploy.backends.base, neurodeploy.backends.samna, "
            "neurodeploy.backends.samna_board, neurodeploy.backends.fpga, neurodeploy.commands.hardware\n"
            "assert 'samna' not in sys.modules, 'samna imported'\nprint('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_a_run_whose_end_marker_never_returns_fails(board, run_cli, tmp_path):
    cfg = example_config()
    cpath = tmp_path / "config.json"
    cfg.save(cpath)
    board.echo_end_markers = False
    np.savez(tmp_path / "in.npz", spikes=np.ones((1, 5, len(cfg.inputs))), dt=1e-3)
    code, out, err = run_cli("run", cpath, "--input", tmp_path / "in.npz", "-o", tmp_path / "o.npz", "--backend", "samna",
                             "--timeout", "0.2")
    assert code == 1 and "end-of-run marker did not return within 0.2 s" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.npz").exists() and not board.opened


def test_flash_samna_json_offline(board, run_cli, tmp_path):
    from neurodeploy.backends.samna import from_samna

    cfg = example_config()
    cpath = tmp_path / "config.json"
    cfg.save(cpath)
    code, out, err = run_cli("flash", cpath, "--samna-json", tmp_path / "samna.json")
    assert code == 0 and not board.model.applied and not board.opened
    import samna

    offline = samna.dynapse2.Dynapse2Configuration()
    offline.from_json((tmp_path / "samna.json").read_text())
    assert from_samna(offline, cfg).dumps() == cfg.dumps()


def test_run_checks_the_config_against_the_profile_before_opening_the_board(board, run_cli, tmp_path):
    import json

    d = example_config().model_dump(mode="json")
    d["chips"][0]["cores"][0]["parameters"]["NOT_A_PARAMETER"] = {"coarse": 1, "fine": 1}
    (tmp_path / "c.json").write_text(json.dumps(d))
    np.savez(tmp_path / "in.npz", spikes=np.ones((1, 5, len(d["inputs"]))), dt=1e-3)
    code, out, err = run_cli("run", tmp_path / "c.json", "--input", tmp_path / "in.npz", "-o", tmp_path / "o.npz",
                             "--backend", "samna")
    assert code == 2 and "NOT_A_PARAMETER" in err and "parameter-name" in err
    assert not board.model.applied and not board.opened and board.bitfiles == []
