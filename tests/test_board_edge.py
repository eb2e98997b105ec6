"""The chip's edge: host routes as public Dynap-SE2 code writes them, the emulator and verify seeing
outputs only through them, samna's PyPI installer stub, and a board session that cannot hang or carry
state over (against the samna test double)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fake_samna
from samna_helpers import example_config, four_chip_config

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def without_host_routes(cfg_dict: dict) -> dict:
    """config.json with every SRAM entry that leaves the mesh to the host (x_hop −7) removed."""
    d = json.loads(json.dumps(cfg_dict))
    for chip in d["chips"]:
        for core in chip["cores"]:
            for n in core["neurons"]:
                n["destinations"] = [x for x in n["destinations"] if x["x_hop"] != -7]
    return d


# ---- host routes ----------------------------------------------------------------------------------
def test_host_routes_set_all_four_core_bits():
    cfg = example_config()
    outputs = {(o.chip, o.core, o.neuron) for o in cfg.outputs}
    routes = {}
    for chip in cfg.chips:
        for core in chip.cores:
            for n in core.neurons:
                for d in n.destinations:
                    if d.x_hop == -7:
                        routes[(chip.chip, core.core, n.neuron)] = (list(d.core), d.y_hop)
    assert set(routes) == outputs
    assert all(v == ([True, True, True, True], 0) for v in routes.values())


def test_a_destination_with_an_empty_core_mask_is_refused_by_name(tmp_path, run_cli):
    d = example_config().model_dump(mode="json")
    n = d["chips"][0]["cores"][0]["neurons"][0]
    n["destinations"] = [{"tag": 7, "core": [False] * 4, "x_hop": -7, "y_hop": 0}]
    (tmp_path / "c.json").write_text(json.dumps(d))
    code, out, err = run_cli("validate", tmp_path / "c.json")
    assert code != 0
    assert "[empty-destination]" in out + err and "destinations[0].core" in out + err
    assert "core [true, true, true, true]" in out + err


def test_the_board_decoder_needs_a_core_bit():
    from neurodeploy.backends.fpga import OutputDecoder
    from neurodeploy.config.config_json import HardwareConfig
    from neurodeploy.errors import BackendError

    cfg = example_config()
    assert OutputDecoder.from_config(cfg).outputs.size == len(cfg.outputs)
    bare = HardwareConfig.model_validate(without_host_routes(cfg.model_dump(mode="json")))
    with pytest.raises(BackendError, match="has no route to the host"):
        OutputDecoder.from_config(bare)


# ---- the emulator and verify at the chip's edge ---------------------------------------------------
@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("edge")
    cfg = example_config()
    cfg.save(d / "config.json")
    (d / "bare.json").write_text(json.dumps(without_host_routes(cfg.model_dump(mode="json"))))
    return d


def test_emulate_without_host_routes_reports_no_output_spikes_and_says_why(run_cli, demo_files, tmp_path):
    code, out, err = run_cli("emulate", demo_files / "config.json", "--input", EX / "inputs.npz", "-o", tmp_path / "a.npz")
    assert code == 0, err
    assert np.load(tmp_path / "a.npz")["outputs"].sum() > 0 and "no SRAM route to the host" not in out
    code, out, err = run_cli("emulate", demo_files / "bare.json", "--input", EX / "inputs.npz", "-o", tmp_path / "b.npz",
                             "--json", tmp_path / "b.json")
    assert code == 0, err
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert b["outputs"].sum() == 0
    np.testing.assert_array_equal(a["spikes"], b["spikes"])        # the neurons still fire; the host cannot see them
    assert "2 output(s) have no SRAM route to the host" in out and "neurons[0] (chip 0 core 0 neuron" in out
    assert json.loads((tmp_path / "b.json").read_text())["output_spike_counts"] == {"neurons[0]": 0, "neurons[1]": 0}


def test_verify_fails_a_config_whose_outputs_cannot_reach_the_host(run_cli, demo_files, tmp_path):
    args = ("--input", EX / "inputs.npz", "--labels", EX / "labels.npy", "--trials", "3")
    code, out, err = run_cli("verify", EX / "model.json", demo_files / "config.json", *args, "--json", tmp_path / "ok.json")
    assert code == 0, out + err
    ok = {c["name"]: c for c in json.loads((tmp_path / "ok.json").read_text())["checks"]}["host_routes"]
    assert ok == {"name": "host_routes", "value": "2/2 outputs routed", "limit": "all", "passed": True}
    code, out, err = run_cli("verify", EX / "model.json", demo_files / "bare.json", *args, "--json", tmp_path / "bad.json")
    assert code == 1 and out.strip().endswith("FAIL")
    check = {c["name"]: c for c in json.loads((tmp_path / "bad.json").read_text())["checks"]}["host_routes"]
    assert not check["passed"] and "no SRAM route to the host" in check["note"]
    assert "[FAIL] host_routes = 0/2 outputs routed" in out


# ---- samna's PyPI installer stub -----------------------------------------------------------------
STUB = '''"""A stand-in for PyPI's samna wheel: marked as it is, installing the real package at import."""
import subprocess
import sys

PYPI_SAMNA = True


def install_real_samna():
    open({flag!r}, "w").close()                      # the import ran the installer
    subprocess.check_call([sys.executable, "-c", "raise SystemExit(1)"])


install_real_samna()
'''


def _cli(args, pythonpath, tmp_path):
    env = {"PYTHONPATH": str(pythonpath), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "neurodeploy.cli", *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)


def test_the_pypi_installer_stub_is_recognised_and_never_imported(tmp_path):
    flag = tmp_path / "installer-ran"
    pkg = tmp_path / "site" / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(STUB.format(flag=str(flag)))
    p = _cli(["devices"], tmp_path / "site", tmp_path)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and "installer stub" in p.stderr and "--index-url" in p.stderr, p.stderr
    assert not flag.exists()                                         # pip was never run


def test_any_failure_importing_samna_is_one_line_exit_2(tmp_path):
    pkg = tmp_path / "site" / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("import subprocess, sys\n"
                                     "subprocess.check_call([sys.executable, '-c', 'raise SystemExit(1)'])\n")
    p = _cli(["devices"], tmp_path / "site", tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "importing samna failed (CalledProcessError" in p.stderr and "--index-url" in p.stderr


# ---- the board session ---------------------------------------------------------------------------
class HostClock:
    def __init__(self):
        self.t = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += max(s, 1e-4)


class ChattyBoard(fake_samna.FakeBoard):
    """A board whose chip fires on its own (DC input): every read returns events, and each read takes 1 ms."""

    def __init__(self, clock, **kw):
        super().__init__(host_clock=clock, **kw)
        self.clock, self.reads = clock, 0

    def read_events(self):
        self.reads += 1
        if self.reads > 100_000:
            raise AssertionError("unbounded read loop")
        self.clock.t += 1e-3
        out = super().read_events()
        return out or [self._spontaneous()]

    def _spontaneous(self):
        ev = fake_samna.NormalGridEvent()
        ev.event, ev.timestamp = fake_samna.destination(5, [False] * 4, -6, 0), self.now_us()
        return ev


@pytest.fixture
def bitfile(monkeypatch, tmp_path):
    bit = tmp_path / "Dynapse2Stack.bit"
    bit.write_bytes(b"bitstream")
    monkeypatch.setenv("NEURODEPLOY_BITFILE", str(bit))
    return bit


def test_a_chip_that_never_falls_silent_does_not_hang_the_clock_probe(monkeypatch, bitfile):
    from neurodeploy.backends.samna_board import SamnaBackend

    clock = HostClock()
    board = ChattyBoard(clock, serial="SN-1", n_chips=1)
    fake_samna.install(monkeypatch, [board], n_chips=1)
    cfg = example_config()
    b = SamnaBackend(clock=clock, sleep=clock.sleep, discharge=False)
    b.load(cfg)
    res = b.run({"spikes": np.zeros((1, 20, len(cfg.inputs)), np.float32), "dt": 1e-3})
    assert res.outputs.shape == (1, 20, 2)
    assert 200 <= board.reads < 400                       # the drain before the probe stopped after its 0.25 s


def test_the_chip_is_discharged_before_every_sample_and_settles_after_each_apply(monkeypatch, bitfile):
    from neurodeploy.backends.samna_board import DISCHARGE_PARAMETERS, SamnaBackend

    clock = HostClock()
    board = fake_samna.FakeBoard("SN-1", n_chips=1)
    fake_samna.install(monkeypatch, [board], n_chips=1)
    cfg = example_config()
    b = SamnaBackend(clock=clock, sleep=clock.sleep, settle=0.25)
    b.load(cfg)
    assert clock.sleeps.count(0.25) == 4                  # bitfile, FPGA reset, apply, logic reset
    x = np.zeros((3, 10, len(cfg.inputs)), np.float32)
    b.run({"spikes": x, "dt": 1e-3})
    applied = board.model.applied
    assert len(applied) == 1 + 2 * 3
    core = cfg.chips[0].cores[0].core
    for k in range(3):
        leaky, restored = applied[1 + 2 * k], applied[2 + 2 * k]
        p = leaky.chips[0].cores[core].parameters
        assert all((p[n].coarse_value, p[n].fine_value) == (5, 255) for n in DISCHARGE_PARAMETERS)
        assert restored.to_json() == applied[0].to_json()   # the configuration itself, unchanged
    assert clock.sleeps.count(0.25) == 4 + 2 * 3
    board.model.applied.clear()
    nb = SamnaBackend(clock=clock, sleep=clock.sleep, discharge=False)
    b.close()
    nb.load(cfg)
    nb.run({"spikes": x, "dt": 1e-3})
    assert len(board.model.applied) == 1                  # --no-discharge: the flash only


def test_the_chip_count_is_set_and_checked(monkeypatch, bitfile, run_cli, tmp_path):
    board = fake_samna.FakeBoard("SN-1", n_chips=4)
    board.n_chips = 2                                      # the board reports 2 chips on its stack
    fake_samna.install(monkeypatch, [board], n_chips=4)
    path = tmp_path / "config.json"
    four_chip_config().save(path)
    code, out, err = run_cli("flash", path)
    assert code == 1 and "the config uses chip 2 but the board reports 2 chip(s) (0..1)" in err and "--chips" in err
    assert not board.model.applied and not board.opened
    code, out, err = run_cli("flash", path, "--chips", "4")
    assert code == 0, err
    assert board.n_chips == 4 and len(board.model.applied) == 1
