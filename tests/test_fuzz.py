"""Property-based fuzzing of every file kind against every command that reads it.

Each example mutates one valid file (a field replaced by a hostile value, deleted, or the bytes
truncated), runs a command through the CLI's real entry point, and checks the CLI's promises:
exit 0 or 2 (verify also 1 = FAIL), never 3 ("internal error"), never a traceback, and after a
failure no file left in the output directory. ``ND_FUZZ_EXAMPLES`` raises the number of examples per
property (the nightly-style run: ``ND_FUZZ_EXAMPLES=300 pytest -m fuzz tests/test_fuzz.py``).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"
N_EXAMPLES = int(os.environ.get("ND_FUZZ_EXAMPLES", "12"))
FUZZ = settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
pytestmark = pytest.mark.fuzz

HOSTILE = ["abc", "", "0.001", "NaN", [], {}, [[[]]], None, True, False, -1, 0, 0.5, 2 ** 31, 10 ** 30,
           1e308, -1e308, 1e-300, [1, "x"], {"a": 1}]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            yield from _paths(v, prefix + (i,))


def _mutated(doc, data):
    """One hostile edit of ``doc``: a value replaced or a key/element deleted."""
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths), label="path")
    d = copy.deepcopy(doc)
    if not path:
        return data.draw(st.sampled_from(HOSTILE), label="document")
    parent = d
    for k in path[:-1]:
        parent = parent[k]
    if data.draw(st.booleans(), label="delete"):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(st.sampled_from(HOSTILE), label="value")
    return d


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Valid files of every kind: model, config, quantized network, input, labels, profile, CAM profile."""
    from neurodeploy.cli import main  # noqa: F401  (import once; commands run in-process)

    d = tmp_path_factory.mktemp("fuzz")
    for f in ("model.json",):
        shutil.copy(EX / f, d / f)
    with np.load(EX / "inputs.npz") as z:
        np.savez(d / "inputs.npz", spikes=z["spikes"][:2, :60], dt=z["dt"])
    np.save(d / "labels.npy", np.array([0, 1]))
    shutil.copy(Path(__file__).parent / "data" / "cam_profile_chip_red.json.gz", d / "cam.json.gz")
    from neurodeploy.device.profile import load_profile

    prof_src = Path(load_profile("dynapse2").source)
    shutil.copy(prof_src, d / "profile.yaml")
    return d


def _run(run_cli, args, out_dir: Path, ok_codes=(0, 2)):
    code, out, err = run_cli(*args)
    assert code in ok_codes, f"exit {code} for {args}: {err[-500:]}"
    assert "internal error" not in err and "Traceback" not in err, err[-500:]
    if code != 0:
        left = sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []
        assert not left, f"files left behind after exit {code}: {left} ({err[-300:]})"
    return code, err


@pytest.fixture(scope="module")
def mapped(files, tmp_path_factory):
    from neurodeploy.cli import main

    d = tmp_path_factory.mktemp("mapped")
    with pytest.raises(SystemExit) as e:
        main(["map", str(files / "model.json"), "-o", str(d / "config.json"), "--quantized", str(d / "quantized.json")])
    assert e.value.code == 0
    return d


def _fresh_out(tmp_path_factory):
    return tmp_path_factory.mktemp("out")


@FUZZ
@given(data=st.data(), command=st.sampled_from(["map", "quantize", "export", "validate"]))
def test_fuzz_model_json(run_cli, files, tmp_path_factory, data, command):
    doc = json.loads((files / "model.json").read_text())
    src = _fresh_out(tmp_path_factory)
    (src / "model.json").write_text(json.dumps(_mutated(doc, data)))
    out = src / "out"
    args = {"map": ["map", src / "model.json", "-o", out / "c.json", "--report", out / "r.json"],
            "quantize": ["quantize", src / "model.json", "-o", out / "q.json"],
            "export": ["export", src / "model.json", "-o", out / "m.nir"],
            "validate": ["validate", src / "model.json"]}[command]
    _run(run_cli, args, out)


@FUZZ
@given(data=st.data(), command=st.sampled_from(["validate", "emulate"]))
def test_fuzz_config_json(run_cli, files, mapped, tmp_path_factory, data, command):
    doc = json.loads((mapped / "config.json").read_text())
    src = _fresh_out(tmp_path_factory)
    (src / "config.json").write_text(json.dumps(_mutated(doc, data)))
    out = src / "out"
    args = {"validate": ["validate", src / "config.json"],
            "emulate": ["emulate", src / "config.json", "--input", files / "inputs.npz", "-o", out / "e.npz"]}[command]
    _run(run_cli, args, out)


@FUZZ
@given(data=st.data(), command=st.sampled_from(["map", "validate"]))
def test_fuzz_quantized_json(run_cli, mapped, tmp_path_factory, data, command):
    doc = json.loads((mapped / "quantized.json").read_text())
    src = _fresh_out(tmp_path_factory)
    (src / "q.json").write_text(json.dumps(_mutated(doc, data)))
    out = src / "out"
    args = {"map": ["map", src / "q.json", "-o", out / "c.json"], "validate": ["validate", src / "q.json"]}[command]
    _run(run_cli, args, out)


@FUZZ
@given(data=st.data())
def test_fuzz_profile_yaml(run_cli, files, tmp_path_factory, data):
    doc = yaml.safe_load((files / "profile.yaml").read_text())
    src = _fresh_out(tmp_path_factory)
    (src / "p.yaml").write_text(yaml.safe_dump(_mutated(doc, data)))
    out = src / "out"
    _run(run_cli, ["map", files / "model.json", "--profile", src / "p.yaml", "-o", out / "c.json"], out)


def _input_variants():
    base = {"spikes": np.zeros((2, 60, 60), np.uint8), "dt": np.float64(1e-3)}
    spikes = [np.array([["a"]]), np.zeros((2, 3, 60), "datetime64[s]"), np.zeros((2, 3, 60), complex),
              np.full((2, 3, 60), 0.5), np.full((2, 3, 60), np.nan), -np.ones((2, 3, 60)), np.zeros((2, 0, 60)),
              np.zeros((60,)), np.zeros((2, 3, 7)), np.ones((1, 4, 60), bool)]
    dts = [np.array([1e-3, 1e-3]), np.array("0.001"), np.float64(np.nan), np.float64(-1), np.float64(0), np.float64(0.5)]
    events = [{"events": np.array([[10 ** 15, 0, 0, 1]]), "dt": np.float64(1e-3)},
              {"events": np.array([[10, 0, 0, 1]]), "dt": np.float64(1e-3), "duration": np.float64(1e12)},
              {"events": np.array([[10, 0, 0, 1]]), "dt": np.float64(1e-3), "duration": np.float64(np.nan)},
              {"events": np.array([[10, 0, 0, 1]]), "dt": np.float64(1e-3), "duration": np.float64(-1)},
              {"events": np.array([[10, 5000, 0, 1]]), "dt": np.float64(1e-3)},
              {"events": np.array([[1.5, 0, 0, 1]]), "dt": np.float64(1e-3)}]
    return ([dict(base, spikes=s) for s in spikes] + [dict(base, dt=d) for d in dts] + events
            + [{"dt": np.float64(1e-3)}, {"spikes": base["spikes"]}])


@FUZZ
@given(variant=st.sampled_from(range(len(_input_variants()))),
       command=st.sampled_from(["emulate", "verify", "simulate"]), corrupt=st.booleans())
def test_fuzz_input_npz(run_cli, files, mapped, tmp_path_factory, variant, command, corrupt):
    src = _fresh_out(tmp_path_factory)
    np.savez(src / "x.npz", **_input_variants()[variant])
    if corrupt:   # a corrupt zip member: keep the header, cut the data
        b = (src / "x.npz").read_bytes()
        (src / "x.npz").write_bytes(b[: max(64, len(b) // 2)])
    out = src / "out"
    args = {"emulate": ["emulate", mapped / "config.json", "--input", src / "x.npz", "-o", out / "e.npz"],
            "verify": ["verify", files / "model.json", mapped / "config.json", "--input", src / "x.npz",
                       "--trials", "2", "--json", out / "v.json"],
            "simulate": ["simulate", files / "model.json", "--input", src / "x.npz", "-o", out / "s.npz"]}[command]
    _run(run_cli, args, out, ok_codes=(0, 1, 2))


@FUZZ
@given(labels=st.sampled_from([np.array(["a", "b"]), np.array([np.nan, 0]), np.array([0.5, 1.0]), np.array([0, 7]),
                               np.array([-1, 0]), np.array([0, 1, 1]), np.array([[0], [1]]), np.array([0, 1])]))
def test_fuzz_labels(run_cli, files, mapped, tmp_path_factory, labels):
    src = _fresh_out(tmp_path_factory)
    np.save(src / "l.npy", labels)
    out = src / "out"
    _run(run_cli, ["verify", files / "model.json", mapped / "config.json", "--input", files / "inputs.npz",
                   "--labels", src / "l.npy", "--trials", "2", "--json", out / "v.json"], out, ok_codes=(0, 1, 2))


@FUZZ
@given(kind=st.sampled_from(["truncated", "not-gzip", "tags-as-strings", "wrong-shape", "rates-out-of-range"]))
def test_fuzz_cam_profile(run_cli, files, tmp_path_factory, kind):
    import gzip

    src = _fresh_out(tmp_path_factory)
    raw = (files / "cam.json.gz").read_bytes()
    if kind == "truncated":
        data = raw[: len(raw) // 3]
    elif kind == "not-gzip":
        data = b"{}"
    else:
        doc = json.loads(gzip.decompress(raw))
        if kind == "tags-as-strings":
            doc["tags"] = [[["1", "2"], []]] * 4
        elif kind == "wrong-shape":
            doc["cams"] = doc["cams"][:2]
        else:
            doc["cams"][0][0][0] = [5.0, -1.0]
        data = gzip.compress(json.dumps(doc).encode(), mtime=0)
    (src / "cam.json.gz").write_bytes(data)
    out = src / "out"
    _run(run_cli, ["map", files / "model.json", "--cam-profile", src / "cam.json.gz", "-o", out / "c.json"], out)


@FUZZ
@given(cut=st.floats(0.05, 0.95))
def test_fuzz_truncated_nir(run_cli, tmp_path_factory, cut):
    src = _fresh_out(tmp_path_factory)
    raw = (EX / "model.nir").read_bytes()
    (src / "m.nir").write_bytes(raw[: int(len(raw) * cut)])
    out = src / "out"
    _run(run_cli, ["map", src / "m.nir", "-O", "dt=0.001", "-o", out / "c.json"], out)


NIR_FILES = [EX / "model.nir", Path(__file__).parent / "data" / "nir" / "nir1.0.4_nested_scalar.nir"]


def _nir_values():
    """What a damaged or hand-edited NIR file can hold in place of a number (or of a node's type)."""
    import h5py

    return [np.bytes_(b"0.1 0.2"), np.array([True, False]), np.bool_(True),
            np.array([b"a", b"b"], dtype=h5py.string_dtype()), np.array([b"1", b"2"]), np.zeros((0,)),
            np.array([np.nan]), np.array([1e308, -1e308]), np.ones((2, 2, 2)), np.int64(-3)]


def _datasets(path):
    import h5py

    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, it: names.append(n) if isinstance(it, h5py.Dataset) else None)
    return sorted(names)


def _nir_command(command, model, out, files, mapped):
    return {"map": ["map", model, "-O", "dt=0.001", "-o", out / "c.json"],
            "validate": ["validate", model, "-O", "dt=0.001"],
            "export": ["export", model, "-O", "dt=0.001", "-o", out / "m.json"],
            "simulate": ["simulate", model, "-O", "dt=0.001", "--input", files / "inputs.npz", "-o", out / "s.npz"],
            "verify": ["verify", model, mapped / "config.json", "-O", "dt=0.001", "--input", files / "inputs.npz",
                       "--trials", "1", "--json", out / "v.json"]}[command]


@FUZZ
@given(data=st.data(), command=st.sampled_from(["map", "validate", "export", "simulate"]))
def test_fuzz_nir_dataset_types(run_cli, files, mapped, tmp_path_factory, data, command):
    """A dataset of a NIR file (a weight, a time constant, a shape, a node's type, the graph's dt, an edge list)
    replaced by text, bools, an object/text array, an empty, NaN, huge or 3-D array."""
    import h5py

    src_file = data.draw(st.sampled_from(NIR_FILES), label="file")
    name = data.draw(st.sampled_from(_datasets(src_file)), label="dataset")
    values = _nir_values()
    value = values[data.draw(st.integers(0, len(values) - 1), label="value")]
    src = _fresh_out(tmp_path_factory)
    shutil.copy(src_file, src / "m.nir")
    with h5py.File(src / "m.nir", "r+") as f:
        del f[name]
        f[name] = value
    out = src / "out"
    code, err = _run(run_cli, _nir_command(command, src / "m.nir", out, files, mapped), out, ok_codes=(0, 1, 2))
    if code == 2:
        assert "m.nir" in err and len(err.strip().splitlines()) == 1, err


def _name_bytes(path, raw: bytes) -> list[int]:
    """Positions of the bytes of the file's group names (node names): a damaged name is text that is not UTF-8."""
    import re

    import h5py

    names = set()
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, it: names.add(n.rsplit("/", 1)[-1]) if isinstance(it, h5py.Group) else None)
    return sorted({m.start() + i for n in names for m in re.finditer(re.escape(n.encode()), raw) for i in range(len(n))})


@FUZZ
@given(data=st.data(), command=st.sampled_from(["map", "validate", "export"]))
def test_fuzz_nir_random_bytes(run_cli, files, mapped, tmp_path_factory, data, command):
    """Up to 16 bytes of a NIR file changed at random (headers, data and names alike; half of the changes fall
    in the bytes of node names)."""
    src_file = data.draw(st.sampled_from(NIR_FILES), label="file")
    raw = bytearray(src_file.read_bytes())
    where = st.one_of(st.integers(0, len(raw) - 1), st.sampled_from(_name_bytes(src_file, bytes(raw))))
    for pos, byte in data.draw(st.lists(st.tuples(where, st.integers(0, 255)), min_size=1, max_size=16), label="changes"):
        raw[pos] = byte
    src = _fresh_out(tmp_path_factory)
    (src / "m.nir").write_bytes(bytes(raw))
    out = src / "out"
    _run(run_cli, _nir_command(command, src / "m.nir", out, files, mapped), out)
