"""Every input gets a clear answer: one line and exit 2 for each hostile input below (malformed, nested,
out-of-range and corrupt files), no file left behind, flags that do not apply refused, files outside the model's folder refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in err and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    from neurodeploy.cli import main

    d = tmp_path_factory.mktemp("mapped")
    with pytest.raises(SystemExit) as e:
        main(["map", str(EX / "model.json"), "-o", str(d / "config.json"), "--quantized", str(d / "q.json")])
    assert e.value.code == 0
    return d


def _model(tmp_path, edit):
    m = json.loads((EX / "model.json").read_text())
    edit(m)
    (tmp_path / "m.json").write_text(json.dumps(m))
    return tmp_path / "m.json"


@pytest.mark.parametrize("value", ["abc", [], {}])
def test_non_numeric_time_constant(run_cli, tmp_path, value):
    def edit(m):
        del m["populations"][0]["Itau_mem"]
        m["populations"][0]["tau_mem"] = value
    f = _model(tmp_path, edit)
    for cmd in (["map", f, "-o", tmp_path / "c.json"], ["quantize", f, "-o", tmp_path / "q.json"],
                ["export", f, "-o", tmp_path / "m.nir"]):
        one_line_error(*run_cli(*cmd)[::2], "$.populations[0].tau_mem")
    assert not list(tmp_path.glob("[cqm].*[!n]")) and not (tmp_path / "c.json").exists()


def test_deeply_nested_json(run_cli, tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    one_line_error(*run_cli("map", tmp_path / "deep.json", "-o", tmp_path / "c.json")[::2], "deep.json")


def test_unreachable_weight_is_named(run_cli, tmp_path):
    def edit(m):
        m["projections"][0]["weight"][3][1] = 1e6
    f = _model(tmp_path, edit)
    code, out, err = run_cli("map", f, "-o", tmp_path / "c.json")
    one_line_error(code, err, "[weight-range]", "input 3 → neurons[1]")
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("field, value", [("weight_scale", 1e300), ("weight", 1e308)])
def test_huge_weights_never_print_nan(run_cli, tmp_path, field, value):
    def edit(m):
        if field == "weight":
            m["projections"][1]["weight"][0][1] = -value
        else:
            m["projections"][1]["weight_scale"] = value
    code, out, err = run_cli("map", _model(tmp_path, edit), "-o", tmp_path / "c.json")
    one_line_error(code, err, "[weight-range]")
    assert "nan" not in (out + err).lower()


@pytest.mark.parametrize("key, value", [("cores_per_chip", 2), ("cam_entries_per_neuron", 128), ("neurons_per_core", 512)])
def test_unsupported_profile_geometry(run_cli, tmp_path, key, value):
    import yaml

    from neurodeploy.device.profile import load_profile

    doc = yaml.safe_load(Path(load_profile().source).read_text())
    doc["geometry"][key] = value
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    one_line_error(*run_cli("map", EX / "model.json", "--profile", tmp_path / "p.yaml", "-o", tmp_path / "c.json")[::2],
                   f"{key} = {value}")
    code, out, err = run_cli("validate", tmp_path / "p.yaml")
    assert code == 2 and f"{key} = {value}" in err


def test_profile_nested_deep(run_cli, tmp_path):
    (tmp_path / "p.yaml").write_text("a: " + "[" * 2000 + "]" * 2000 + "\n")
    one_line_error(*run_cli("map", EX / "model.json", "--profile", tmp_path / "p.yaml", "-o", tmp_path / "c.json")[::2])


def test_copied_profile_works_and_tables_stay_inside(run_cli, tmp_path):
    from neurodeploy.device.profile import load_profile

    src = Path(load_profile().source)
    shutil.copy(src, tmp_path / "my_chip.yaml")             # the README's "copy the YAML" — without the CSVs
    code, out, err = run_cli("map", EX / "model.json", "--profile", tmp_path / "my_chip.yaml", "-o", tmp_path / "c.json")
    assert code == 0, err
    evil = src.read_text().replace("table_file: ", "table_file: ../../../../etc/passwd # ", 1)
    (tmp_path / "evil.yaml").write_text(evil)
    code, out, err = run_cli("validate", tmp_path / "evil.yaml")
    assert code == 2 and "plain file name" in err and "root:" not in err


def test_profile_path_and_copy(run_cli, tmp_path):
    code, out, err = run_cli("profile", "path", "dynapse2")
    assert code == 0 and out.strip().endswith("dynapse2.yaml") and Path(out.strip()).is_file()
    code, out, err = run_cli("profile", "copy", "dynapse2", tmp_path / "chip" / "mine.yaml", "--with-tables")
    assert code == 0, err
    assert {p.name for p in (tmp_path / "chip").iterdir()} >= {"mine.yaml", "dynapse2_bias_table.csv"}
    code, out, err = run_cli("validate", tmp_path / "chip" / "mine.yaml")
    assert code == 0, err


def test_sidecar_outside_model_folder_refused(run_cli, tmp_path):
    def edit(m):
        m["projections"][0].pop("weight")
        m["projections"][0]["sidecar"] = {"path": "/etc/passwd", "key": "w", "sha256": "0" * 64}
    code, out, err = run_cli("validate", _model(tmp_path, edit))
    assert code == 2 and "outside the model's folder" in err
    import hashlib
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() not in err


def test_sidecar_string_weights_refused(run_cli, tmp_path):
    w = np.full((60, 2), "0.1")
    np.savez(tmp_path / "w.npz", w=w)
    import hashlib
    digest = hashlib.sha256((tmp_path / "w.npz").read_bytes()).hexdigest()

    def edit(m):
        m["projections"][0].pop("weight")
        m["projections"][0]["sidecar"] = {"path": "w.npz", "key": "w", "sha256": digest}
    code, out, err = run_cli("validate", _model(tmp_path, edit))
    assert code == 2 and "weights must be numbers" in err


def test_map_quantized_refuses_model_flags(run_cli, mapped, tmp_path):
    code, out, err = run_cli("map", mapped / "q.json", "--chips", "3", "--prune", "--seed", "5", "-O", "dt=0.5",
                             "-o", tmp_path / "c.json")
    one_line_error(code, err, "--chips", "--prune", "--seed", "-O")
    assert not (tmp_path / "c.json").exists()


def test_validate_import_options_and_quantized(run_cli, mapped):
    code, out, err = run_cli("validate", EX / "model.json", "-O", "dt=0.5")
    assert code == 2 and "only apply to .npz/.nir imports" in err
    code, out, err = run_cli("validate", mapped / "q.json")
    assert code == 0 and out.startswith("OK quantized"), out + err


@pytest.mark.parametrize("edit, where", [
    (lambda q: q["synapses"]["src"].__setitem__(0, 10 ** 6), "$.synapses.src[0]"),
    (lambda q: q["synapses"]["dst"].__setitem__(0, -1), "$.synapses.dst[0]"),
    (lambda q: q["cores"][0].__setitem__("neurons", []), "$.cores[0].neurons"),
    (lambda q: q["synapses"]["mask"].__setitem__(0, 16), "$.synapses.mask[0]"),
    (lambda q: q["synapses"]["spare_dendrite"].__setitem__(0, "ampa:1"), "$.synapses.spare_dendrite[0]"),
    (lambda q: (q["synapses"]["mask"].__setitem__(0, 0), q["synapses"]["spare_mask"].__setitem__(0, 3)),
     "$.synapses.spare_mask[0]: a spare entry on a synapse without an entry"),
    (lambda q: q.__setitem__("format", "neurodeploy.quantized/1"), "re-run `neurodeploy quantize`"),
    (lambda q: q["outputs"].__setitem__(0, 99), "$.outputs[0]"),
    (lambda q: q["report"]["biases"]["Itau_mem"].__setitem__("max_rel_error", {}), "$.report.biases.Itau_mem"),
    (lambda q: q["populations"][0].__setitem__("size", 2 ** 31), "$.cores"),
])
def test_quantized_edits(run_cli, mapped, tmp_path, edit, where):
    q = json.loads((mapped / "q.json").read_text())
    edit(q)
    (tmp_path / "q.json").write_text(json.dumps(q))
    code, out, err = run_cli("map", tmp_path / "q.json", "-o", tmp_path / "c.json")
    assert code == 2 and where in err and "internal error" not in err, err
    assert not (tmp_path / "c.json").exists()


def test_quantized_nan_rejected(run_cli, mapped, tmp_path):
    text = (mapped / "q.json").read_text()
    q = json.loads(text)
    q["synapses"]["target"][0] = float("nan")
    (tmp_path / "q.json").write_text(json.dumps(q))
    code, out, err = run_cli("map", tmp_path / "q.json", "-o", tmp_path / "c.json")
    one_line_error(code, err, "NaN")


@pytest.mark.parametrize("kind", ["truncated", "not-gzip", "tags-as-strings"])
def test_cam_profile_errors(run_cli, tmp_path, kind):
    import gzip

    raw = (Path(__file__).parent / "data" / "cam_profile_chip_red.json.gz").read_bytes()
    if kind == "truncated":
        data = raw[:100]
    elif kind == "not-gzip":
        data = b"{}"
    else:
        doc = json.loads(gzip.decompress(raw))
        doc["tags"] = [[["1"], []]] * 4
        data = gzip.compress(json.dumps(doc).encode())
    (tmp_path / "cam.json.gz").write_bytes(data)
    code, out, err = run_cli("map", EX / "model.json", "--cam-profile", tmp_path / "cam.json.gz", "-o", tmp_path / "c.json")
    one_line_error(code, err, "cam.json.gz")
    assert not (tmp_path / "c.json").exists()


INPUTS = {
    "dt of wrong shape": ({"spikes": np.zeros((1, 5, 60)), "dt": np.array([1e-3, 1e-3])}, "$.dt"),
    "string spikes": ({"spikes": np.array([["a"]]), "dt": 1e-3}, "$.spikes"),
    "complex spikes": ({"spikes": np.zeros((1, 5, 60), complex), "dt": 1e-3}, "$.spikes"),
    "datetime spikes": ({"spikes": np.zeros((1, 5, 60), "datetime64[s]"), "dt": 1e-3}, "$.spikes"),
    "half counts": ({"spikes": np.full((1, 5, 60), 0.5), "dt": 1e-3}, "integers"),
    "no time steps": ({"spikes": np.zeros((1, 0, 60)), "dt": 1e-3}, "time step"),
    "dt as a string": ({"spikes": np.zeros((1, 5, 60)), "dt": np.array("0.001")}, "$.dt"),
    "events at 1e15 us": ({"events": np.array([[10 ** 15, 0, 0, 1]]), "dt": 1e-3}, "limit"),
    "duration 1e12 s": ({"events": np.array([[10, 0, 0, 1]]), "dt": 1e-3, "duration": 1e12}, "limit"),
    "NaN duration": ({"events": np.array([[10, 0, 0, 1]]), "dt": 1e-3, "duration": np.nan}, "$.duration"),
    "negative duration": ({"events": np.array([[10, 0, 0, 1]]), "dt": 1e-3, "duration": -1.0}, "$.duration"),
}


@pytest.mark.parametrize("name", list(INPUTS))
def test_bad_input_files(run_cli, mapped, tmp_path, name):
    arrays, needle = INPUTS[name]
    np.savez(tmp_path / "x.npz", **arrays)
    code, out, err = run_cli("emulate", mapped / "config.json", "--input", tmp_path / "x.npz", "-o", tmp_path / "o.npz")
    one_line_error(code, err, needle)
    assert not (tmp_path / "o.npz").exists()
    if "spikes" in arrays:
        code, out, err = run_cli("verify", EX / "model.json", mapped / "config.json", "--input", tmp_path / "x.npz",
                                 "--trials", "2")
        one_line_error(code, err)


def test_corrupt_zip_member(run_cli, mapped, tmp_path):
    import zipfile

    np.savez(tmp_path / "x.npz", spikes=np.zeros((1, 5, 60)), dt=1e-3)
    raw = bytearray((tmp_path / "x.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "x.npz") as z:
        info = z.getinfo("spikes.npy")
    raw[info.header_offset + 60: info.header_offset + 90] = b"\xff" * 30
    (tmp_path / "x.npz").write_bytes(bytes(raw))
    code, out, err = run_cli("emulate", mapped / "config.json", "--input", tmp_path / "x.npz", "-o", tmp_path / "o.npz")
    one_line_error(code, err, "x.npz")


def test_config_position_and_synapse_flags(run_cli, mapped, tmp_path):
    cfg = json.loads((mapped / "config.json").read_text())
    cfg["chips"][0]["position"] = [1e30, 0]
    (tmp_path / "pos.json").write_text(json.dumps(cfg))
    code, out, err = run_cli("validate", tmp_path / "pos.json")
    assert code == 2 and "position" in err
    cfg = json.loads((mapped / "config.json").read_text())
    n = cfg["chips"][0]["cores"][0]["neurons"][0]
    n["synapse_flags"] = {str(len(n["synapses"]) + 5): ["stp"]}
    (tmp_path / "flags.json").write_text(json.dumps(cfg))
    code, out, err = run_cli("validate", tmp_path / "flags.json")
    assert code == 2 and "synapse-flags" in err
    code, out, err = run_cli("emulate", tmp_path / "flags.json", "--input", EX / "inputs.npz", "-o", tmp_path / "o.npz")
    assert code == 2 and "synapse-flags" in err


def test_output_paths(run_cli, tmp_path):
    (tmp_path / "regular").write_text("x")
    (tmp_path / "adir").mkdir()
    for out, needle in ((tmp_path / "regular" / "c.json", "not a directory"), ("", "empty output path"),
                        (tmp_path / "adir", "is a directory"), ("/dev/null", "special file")):
        code, o, err = run_cli("map", EX / "model.json", "-o", out)
        one_line_error(code, err, needle)
    assert Path("/dev/null").is_char_device()
    # a symlink is written through: the link stays, its target gets the config
    (tmp_path / "target.json").write_text("old")
    os.symlink(tmp_path / "target.json", tmp_path / "link.json")
    code, o, err = run_cli("map", EX / "model.json", "-o", tmp_path / "link.json")
    assert code == 0, err
    assert (tmp_path / "link.json").is_symlink() and "neurodeploy.config/1" in (tmp_path / "target.json").read_text()


def test_map_writes_nothing_when_a_later_output_fails(run_cli, tmp_path):
    (tmp_path / "regular").write_text("x")
    code, out, err = run_cli("map", EX / "model.json", "-o", tmp_path / "c.json", "--report", tmp_path / "regular" / "r.json")
    one_line_error(code, err, "--json")
    assert not (tmp_path / "c.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regular"]


def test_stale_temp_file_of_a_dead_process_is_removed(tmp_path):
    from neurodeploy.fileio import atomic_write_text

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.json.{dead.pid}.abcd.tmp"
    stale.write_text("half")
    alive = tmp_path / f".out.json.{os.getpid() if False else 1}.efgh.tmp"   # pid 1 runs: not stale
    alive.write_text("other writer")
    atomic_write_text(tmp_path / "out.json", "{}\n")
    assert not stale.exists() and alive.exists()
    assert (tmp_path / "out.json").read_text() == "{}\n"


def test_sigterm_during_write_leaves_no_temp_file(tmp_path):
    """A SIGTERM while an output is being written removes the temp file (the CLI turns it into SystemExit)."""
    code = f"""
import os, signal, sys
sys.argv = ["x"]
from neurodeploy import cli, fileio
cli._exit_on_sigterm()
real = os.fdopen
def slow_fdopen(*a, **k):
    f = real(*a, **k)
    os.kill(os.getpid(), signal.SIGTERM)
    return f
fileio.os.fdopen = slow_fdopen
fileio.atomic_write_text({str(tmp_path / 'o.json')!r}, "x")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_json_flag_on_every_summary_command(run_cli, mapped, tmp_path):
    from neurodeploy.fileio import dumps_json  # noqa: F401

    runs = {
        "map": ["map", EX / "model.json", "-o", tmp_path / "c.json", "--json", tmp_path / "map.json"],
        "quantize": ["quantize", EX / "model.json", "-o", tmp_path / "q.json", "--json", tmp_path / "quantize.json"],
        "validate": ["validate", EX / "model.json", mapped / "config.json", "--json", tmp_path / "validate.json"],
        "emulate": ["emulate", mapped / "config.json", "--input", EX / "inputs.npz", "-o", tmp_path / "e.npz",
                    "--json", tmp_path / "emulate.json"],
    }
    for name, args in runs.items():
        code, out, err = run_cli(*args)
        assert code == 0, (name, err)
        assert json.loads((tmp_path / f"{name}.json").read_text()), name
    assert json.loads((tmp_path / "map.json").read_text())["placement"]["neurons"] == 2
    assert json.loads((tmp_path / "validate.json").read_text())["ok"] is True
    assert sum(json.loads((tmp_path / "emulate.json").read_text())["output_spike_counts"].values()) > 0


def test_verbose_and_quiet(run_cli, tmp_path):
    code, out, err = run_cli("-v", "map", EX / "model.json", "-o", tmp_path / "c.json")
    assert code == 0 and "quantize -> map -> config: done in" in err
    code, out, err = run_cli("-q", "map", EX / "model.json", "-o", tmp_path / "c2.json")
    assert code == 0 and err == ""
    assert (tmp_path / "c.json").read_bytes() == (tmp_path / "c2.json").read_bytes()


def test_plots(run_cli, mapped, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, err = run_cli("map", EX / "model.json", "-o", tmp_path / "c.json", "--plot", tmp_path / "p")
    assert code == 0, err
    code, out, err = run_cli("verify", EX / "model.json", tmp_path / "c.json", "--input", EX / "inputs.npz",
                             "--labels", EX / "labels.npy", "--trials", "3", "--plot", tmp_path / "p")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == ["map_memory_use.png", "map_weight_error.png", "verify_accuracy.png", "verify_rasters.png",
                     "verify_rates.png"]
    assert all((tmp_path / "p" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)


def test_plot_without_matplotlib_is_one_line(run_cli, tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    code, out, err = run_cli("map", EX / "model.json", "-o", tmp_path / "c.json", "--plot", tmp_path / "p")
    one_line_error(code, err, "--plot needs matplotlib: pip install matplotlib")
    assert not (tmp_path / "c.json").exists()


def test_nir_declaring_a_huge_weight_is_refused_before_reading(run_cli, tmp_path):
    import resource

    import h5py

    shutil.copy(EX / "model.nir", tmp_path / "big.nir")
    with h5py.File(tmp_path / "big.nir", "r+") as f:
        names = []
        f.visititems(lambda n, it: names.append(n) if isinstance(it, h5py.Dataset) and n.endswith("weight") else None)
        del f[names[0]]
        f.create_dataset(names[0], shape=(10000, 5000), dtype="f8", chunks=(1000, 500), compression="gzip")  # 400 MB declared
    assert (tmp_path / "big.nir").stat().st_size < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = run_cli("validate", tmp_path / "big.nir", "-O", "dt=0.001")
    assert code == 2 and "more than a Dynap-SE2 board can hold" in err, err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000      # KiB: nothing big was allocated


def test_simulate_takes_import_options(run_cli, tmp_path):
    code, out, err = run_cli("simulate", EX / "model.nir", "-O", "dt=0.001", "--input", EX / "inputs.npz",
                             "-o", tmp_path / "s.npz")
    assert code == 0, err
    assert np.load(tmp_path / "s.npz")["spikes"].shape[-1] == 2
    code, out, err = run_cli("simulate", EX / "model.json", "-O", "dt=0.001", "--input", EX / "inputs.npz",
                             "-o", tmp_path / "s2.npz")
    one_line_error(code, err, "only apply to .npz/.nir imports")
