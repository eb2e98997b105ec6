"""Imported framework files behave as in their framework: the DPI model's per-neuron spike counts against the
framework's own simulation of the same input (tests/data/nir/*.npz, written by tools/make_nir_testdata.py)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.importers import load_network
from neurodeploy.importers.nir.fidelity import compare

DATA = Path(__file__).resolve().parent / "data" / "nir"
MANIFEST = json.loads((DATA / "MANIFEST.json").read_text())
REFERENCES = sorted(p.name for p in DATA.glob("*.npz"))


@pytest.mark.parametrize("name", REFERENCES)
def test_imported_network_fires_as_in_its_framework(name, profile):
    nir_file = DATA / name.replace(".npz", ".nir")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # IF nodes warn (tested in test_importers_nir)
        network = load_network(nir_file, dt=1e-3, convention=MANIFEST[nir_file.name]["tool"], profile=profile)
    rows = compare(network, DATA / name, profile)
    assert len(rows) == 2                                   # hidden and output layer
    for row in rows:
        assert row.reference > 50, row.line()               # the reference is not silent
        assert row.r >= 0.9, row.line()
        assert 1 / 1.5 <= row.ratio <= 1.5, row.line()


def test_validate_compare_prints_the_table(run_cli, tmp_path):
    code, out, err = run_cli("validate", DATA / "norse_lifbox_lif.nir", "-O", "dt=0.001", "-O", "convention=norse",
                             "--compare", DATA / "norse_lifbox_lif.npz")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("OK network") and "per-layer" not in lines[0]
    assert lines[2].split() == ["population", "neurons", "reference", "DPI", "ratio", "r"]
    assert [ln.split()[0] for ln in lines[3:5]] == ["p_1", "p_3"]
    assert lines[5].startswith("min r ")
    with np.load(DATA / "norse_lifbox_lif.npz") as z:
        np.savez(tmp_path / "bad.npz", spikes=z["spikes"][:, :3], dt=z["dt"])
    code, out, err = run_cli("validate", DATA / "norse_lifbox_lif.nir", "-O", "dt=0.001", "-O", "convention=norse",
                             "--compare", tmp_path / "bad.npz")
    assert code == 2 and "bad.npz: $.spikes: expected shape [T, 16], got [400, 3]" in err and len(err.strip().splitlines()) == 1
