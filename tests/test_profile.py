import shutil

import pytest

from neurodeploy.errors import ProfileError
from neurodeploy.device.profile import NEURON_QUANTITIES, load_profile


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


def test_chip_level_parameters_by_group(profile):
    """The chip-level groups samna holds per chip, with lab-practice defaults; none of them is a core parameter."""
    groups = profile.chip_parameters.groups()
    assert {g: list(ps) for g, ps in groups.items()} == {
        "global": ["R2R_BUFFER_AMPB", "R2R_BUFFER_CCB"],
        "shared": ["LBWR_VB_P", "PG_BUF_N", "NCCF_CAL_OFFBIAS_P", "SYAM_STDWAMPB", "SYAM_STDWCCB"],
        "sadc_group": ["NCCF_PWLK_P", "NCCF_HYS_P", "NCCF_BIAS_P", "NCCF_REF_L_V", "NCCF_REF_H_V"]}
    assert profile.chip_parameters.defaults("global") == {"R2R_BUFFER_AMPB": (5, 255), "R2R_BUFFER_CCB": (5, 255)}
    assert profile.chip_parameters.defaults("shared") == {"LBWR_VB_P": (5, 255), "PG_BUF_N": (0, 100), "NCCF_CAL_OFFBIAS_P": (1, 255)}
    assert profile.chip_parameters.defaults("sadc_group") == {"NCCF_PWLK_P": (5, 160), "NCCF_HYS_P": (0, 0), "NCCF_BIAS_P": (5, 200),
                                                             "NCCF_REF_L_V": (0, 100), "NCCF_REF_H_V": (3, 80)}
    group_of = profile.chip_parameters.group_of
    assert group_of["LBWR_VB_P"] == "shared" and group_of["NCCF_BIAS_P"] == "sadc_group"
    assert not set(profile.chip_parameters.group_of) & set(profile.parameters)
    for name in ("LBWR_VB_P", "NCCF_PWLK_P", "NCCF_HYS_P", "NCCF_BIAS_P", "NCCF_CAL_OFFBIAS_P"):
        assert name not in profile.parameters
    assert "SYSA_VRES_N" in profile.parameters and "SYSA_VB_P" in profile.parameters     # these stay per core
    assert groups["shared"]["LBWR_VB_P"].type == "P" and groups["shared"]["PG_BUF_N"].type == "N"
    assert groups["global"]["R2R_BUFFER_AMPB"].type is None                              # the name carries no N/P
    for ps in groups.values():
        for network in ps.values():
            assert network.source.startswith(("haoran215/dynapse2 ", "Maryada-27/dynapse_homeostasis ")), network.source


def test_profile_without_chip_parameters_loads(tmp_path):
    y = _copy_profile(tmp_path, lambda s: s.split("\nchip_parameters:")[0] + "\n")
    prof = load_profile(y)
    assert prof.chip_parameters.group_of == {} and prof.chip_parameters.defaults("shared") == {}


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
        # chip-level parameters: a name both core and chip-level, in two groups, a default outside the levels
        (lambda s: s.replace("parameters:\n  SOIF_LEAK_N:", "parameters:\n  LBWR_VB_P: {type: P, constant_scale: 1.0}\n  SOIF_LEAK_N:"),
         "$.chip_parameters.shared.LBWR_VB_P: also listed in $.parameters"),
        (lambda s: s.replace("    PG_BUF_N: ", "    R2R_BUFFER_CCB: "),
         "$.chip_parameters.shared.R2R_BUFFER_CCB: also listed in group 'global'"),
        (lambda s: s.replace("NCCF_HYS_P:         {type: P,    default: [0, 0]", "NCCF_HYS_P:         {type: P,    default: [0, 256]"),
         "$.chip_parameters.sadc_group.NCCF_HYS_P.default: (0, 256) outside coarse 0..5, fine 0..255"),
        (lambda s: s.replace("  sadc_group:\n", "  sadc_groups:\n"), "$.chip_parameters.sadc_groups: unknown field"),
        (lambda s: s.replace("R2R_BUFFER_AMPB:    {type: null,", "R2R_BUFFER_AMPB:    {type: X,"),
         "$.chip_parameters.global.R2R_BUFFER_AMPB.type"),
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
