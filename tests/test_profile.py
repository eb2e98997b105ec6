import shutil

import pytest

from neurodeploy.errors import ProfileError
from neurodeploy.profile import NEURON_QUANTITIES, load_profile


def test_builtin_profile(profile):
    g = profile.geometry
    assert (g.cores_per_chip, g.neurons_per_core, g.cam_entries_per_neuron, g.sram_entries_per_neuron) == (4, 256, 64, 4)
    assert g.n_tags == 2048 and g.max_hop == 7 and g.max_chips == 4
    assert {k: v.samna_value for k, v in profile.dendrites.items()} == {"none": 0, "ampa": 1024, "gaba": 512, "nmda": 256, "shunt": 128}
    assert profile.analog.C_mem == 3e-12 and profile.analog.C_ahp == 40e-12 and profile.analog.calibrated is False
    assert profile.table.shape == (2, 6, 256)
    for name in ("SOIF_LEAK_N", "SOIF_GAIN_N", "SYPD_EXT_N", "SYAM_W3_P", "DENM_NMREV_N", "SOAD_W_N"):
        assert name in profile.parameters
    assert profile.quantity_to_parameter["Itau_mem"] == "SOIF_LEAK_N"
    assert len(profile.sha256) == 64


def test_default_currents_match_physical_defaults(profile):
    d = profile.default_currents()
    assert set(NEURON_QUANTITIES) <= set(d)
    # tau_mem ≈ 20 ms, tau_ampa ≈ 10 ms, t_pulse ≈ 10 µs from the default codes (within the DAC's grid)
    assert profile.current_to_tau(d["Itau_mem"], "C_mem") == pytest.approx(20e-3, rel=0.03)
    assert profile.current_to_tau(d["Itau_ampa"], "C_ampa") == pytest.approx(10e-3, rel=0.03)
    assert profile.analog.V_th * profile.analog.C_pulse / d["Ipulse"] == pytest.approx(10e-6, rel=0.03)


def _copy_profile(tmp_path, edit):
    src = load_profile("dynapse2").source
    import pathlib

    d = pathlib.Path(src).parent
    for f in d.iterdir():
        if f.name.startswith("dynapse2"):
            shutil.copy(f, tmp_path / f.name)
    y = tmp_path / "dynapse2.yaml"
    y.write_text(edit(y.read_text()))
    return y


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda s: s.replace("C_mem: 3.0e-12", "C_mem: -3.0e-12"), "$.analog.C_mem"),
        (lambda s: s.replace("C_ref: 1.5e-12", "C_ref: .inf"), "$.analog.C_ref"),
        (lambda s: s.replace("  max_hop: 7", "  max_hop: 7\n  warp_drive: 1"), "$.geometry.warp_drive: unknown field"),
        (lambda s: s.replace("quantity: Itau_mem,", "quantity: Itau_foo,"), "unknown simulator quantity 'Itau_foo'"),
        (lambda s: s.replace("geometry:\n", "geometry: [\n"), "YAML syntax error"),
        (lambda s: s.replace("table_file: dynapse2_bias_table.csv", "table_file: nothere.csv"), "$.bias_generator.table_file"),
    ],
)
def test_profile_errors(tmp_path, edit, needle):
    y = _copy_profile(tmp_path, edit)
    with pytest.raises(ProfileError) as e:
        load_profile(y)
    assert str(y) in str(e.value)
    assert needle in str(e.value)


def test_table_wrong_shape(tmp_path):
    y = _copy_profile(tmp_path, lambda s: s)
    t = tmp_path / "dynapse2_bias_table.csv"
    lines = t.read_text().splitlines()
    t.write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(ProfileError, match=r"table_file: .* has shape 253x13, expected 256 fine rows x 13 columns"):
        load_profile(y)


def test_missing_profile():
    with pytest.raises(ProfileError, match="profile not found .*built-in profiles: dynapse2"):
        load_profile("dynapse9")


def test_cli_profile(run_cli, tmp_path):
    code, out, err = run_cli("profile", "show")
    assert code == 0, err
    assert "neurons per core        256" in out and "SOIF_LEAK_N" in out and "UNCALIBRATED" in out
    y = _copy_profile(tmp_path, lambda s: s.replace("C_ref: 1.5e-12", "C_ref: -1"))
    code, out, err = run_cli("profile", "show", str(y))
    assert code == 2
    assert "Traceback" not in err
    assert f"{y}: $.analog.C_ref" in err
