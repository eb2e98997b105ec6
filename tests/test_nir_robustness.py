"""NIR files the importer cannot use get one line and exit 2 from every command that reads them (never an
"internal error"); a NIR import whose currents are out of the chip's range names the likely cause, the convention."""

import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "frozen_noise"
NIR = ROOT / "tests" / "data" / "nir"


def _edited(tmp_path, src, edit):
    import h5py

    shutil.copy(src, tmp_path / "bad.nir")
    with h5py.File(tmp_path / "bad.nir", "r+") as f:
        edit(f)
    return tmp_path / "bad.nir"


def _replace(name, value):
    def edit(f):
        del f[name]
        f[name] = value
    return edit


def _weight_as_text(tmp_path):
    return _edited(tmp_path, EX / "model.nir", _replace("node/nodes/w0_input_to_neurons/weight", np.bytes_(b"0.1 0.2")))


def _type_as_bools(tmp_path):
    return _edited(tmp_path, EX / "model.nir", _replace("node/nodes/neurons/type", np.array([True, False])))


def _name_not_utf8(tmp_path):
    """One changed byte turns the node name 'w_rec' into bytes that are not UTF-8 (h5py then gives the name as
    bytes, and nir.read cannot read the file)."""
    raw = bytearray((NIR / "nir1.0.4_nested_scalar.nir").read_bytes())
    raw[raw.rfind(b"w_rec") + 2] = 0xD1
    (tmp_path / "bad.nir").write_bytes(bytes(raw))
    return tmp_path / "bad.nir"


CASES = {
    "weight stored as text": (_weight_as_text, "node/nodes/w0_input_to_neurons/weight: Affine weight must be numbers"),
    "type replaced by a bool array": (_type_as_bools, "node/nodes/neurons/type: a node's type must be text"),
    "node name not UTF-8": (_name_not_utf8, "refers to node 'rnn.w_rec', which is not in the graph"),
}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    from neurodeploy.deployment import deploy
    from neurodeploy.device.profile import load_profile
    from neurodeploy.importers import load_network

    d = tmp_path_factory.mktemp("nir_cfg")
    deploy(load_network(EX / "model.json"), load_profile()).config.save(d / "config.json")
    return d / "config.json"


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_nir_is_one_line_for_every_command(run_cli, tmp_path, config, case):
    make, needle = CASES[case]
    bad = make(tmp_path)
    out = tmp_path / "out"
    opt = ["-O", "dt=0.001"]
    commands = [["validate", bad, *opt], ["map", bad, *opt, "-o", out / "c.json"],
                ["quantize", bad, *opt, "-o", out / "q.json"], ["export", bad, *opt, "-o", out / "m.json"],
                ["simulate", bad, *opt, "--input", EX / "inputs.npz", "-o", out / "s.npz"],
                ["verify", bad, config, *opt, "--input", EX / "inputs.npz", "--trials", "1"],
                ["train", "frozen-noise", "--init", bad, "--epochs", "1", "-o", out / "t.json"]]
    for cmd in commands:
        code, stdout, err = run_cli(*cmd)
        assert code == 2, (cmd[0], code, err)
        assert "internal error" not in err and "Traceback" not in err, err
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        if cmd[0] != "validate":
            assert len(lines) == 1, (cmd[0], err)
        assert "bad.nir" in err and needle in err, (cmd[0], err)
    assert not out.exists() or not any(out.iterdir())


def test_the_tree_check_names_the_hdf5_path(tmp_path):
    """A numeric field in text, a shape of bools, the graph's dt as two numbers: NetworkError naming file and path."""
    from neurodeploy.errors import NetworkError
    from neurodeploy.importers import load_network

    for name, value, needle in [
        ("node/nodes/neurons/tau_mem", np.array([b"a", b"b"]), "node/nodes/neurons/tau_mem: CubaLIF tau_mem must be "
                                                                 "numbers (integers or floats), got a text array"),
        ("node/nodes/input/shape", np.array([True]), "node/nodes/input/shape: Input shape must be numbers"),
        ("node/metadata/dt", np.array([1e-3, 2e-3]), "node/metadata/dt: the time step must be one number (s)"),
        ("node/nodes/input/shape", np.array([np.nan]), "shape [nan] must hold whole numbers >= 0"),
    ]:
        bad = _edited(tmp_path, EX / "model.nir", _replace(name, value))
        with pytest.raises(NetworkError) as e:
            load_network(bad, dt=1e-3)
        assert str(e.value).startswith(f"{bad}: ") and needle in str(e.value), str(e.value)


def test_an_unforeseen_failure_is_still_a_network_error(monkeypatch):
    """The last resort: an unexpected exception while interpreting the graph is a NetworkError naming the file."""
    import neurodeploy.importers.nir as nir_import
    from neurodeploy.errors import NetworkError
    from neurodeploy.importers import load_network

    def broken(*a, **k):
        raise KeyError("surprise")
    monkeypatch.setattr(nir_import, "layer_sizes", broken)
    with pytest.raises(NetworkError, match=r"model\.nir: cannot interpret the NIR graph \(KeyError: 'surprise'\)"):
        load_network(EX / "model.nir", dt=1e-3)


def test_out_of_range_nir_import_names_the_convention(run_cli, tmp_path):
    """The Norse file imported with the default convention has weights far out of range: the message says why."""
    model = NIR / "norse_lifbox_lif.nir"
    for cmd in (["map", model, "-O", "dt=0.001", "-o", tmp_path / "c.json"], ["validate", model, "-O", "dt=0.001"]):
        code, out, err = run_cli(*cmd)
        assert code == 2 and "[weight-range]" in err, err
        assert ("norse_lifbox_lif.nir was imported with convention 'nir': if it was written by snnTorch, Norse, "
                "Sinabs, SpikingJelly or Rockpool, try -O convention=snntorch|norse|sinabs|spikingjelly|rockpool") in err
    code, out, err = run_cli("map", model, "-O", "dt=0.001", "-O", "convention=norse", "-o", tmp_path / "c.json")
    assert code == 0, err
    # another convention, or a network not imported from NIR: no such hint
    code, out, err = run_cli("map", model, "-O", "dt=0.001", "-O", "convention=sinabs", "-o", tmp_path / "c2.json")
    assert code == 2 and "range]" in err and "convention" not in err, err


def test_the_hint_is_only_for_nir_imports(run_cli, tmp_path):
    import json

    m = json.loads((EX / "model.json").read_text())
    m["projections"][0]["weight"][3][1] = 1e6
    (tmp_path / "m.json").write_text(json.dumps(m))
    code, out, err = run_cli("map", tmp_path / "m.json", "-o", tmp_path / "c.json")
    assert code == 2 and "[weight-range]" in err and "convention" not in err, err
