"""The design-rule registry: one test per rule (a minimal violating input → the rule's name and message)."""

import copy
import json

import numpy as np
import pytest

from neurodeploy import rules
from neurodeploy.config.config_json import config_from_dict
from neurodeploy.errors import ConfigError, MappingError
from neurodeploy.deployment import deploy
from neurodeploy.quantize.quantizer import quantize_network
from neurodeploy.network import network_from_dict

from test_validate import _config


def _net(n=2, n_inputs=4, pre=(0,), post=(0,), pops=None, **kw):
    return network_from_dict({"n_inputs": n_inputs, "populations": pops or [{"name": "p", "size": n}],
                           "projections": [{"source": "input", "target": (pops or [{"name": "p"}])[0]["name"],
                                            "pre": list(pre), "post": list(post), "w": [0.5] * len(pre)}], **kw})


def _map_error(network, profile, **kw) -> MappingError:
    with pytest.raises(MappingError) as e:
        deploy(network, profile, **kw)
    return e.value


# ---- network rules ---------------------------------------------------------------------------------------
def test_chips(profile):
    e = _map_error(_net(), profile, chips=5)
    assert e.rule == "chips" and str(e) == ("[chips] --chips 5 exceeds the board's 4 chips (profile dynapse2); "
                                            "use at most 4 or a profile with a larger max_chips")


def test_fan_in_counts_cam_entries_a_repeated_source_counting_again(profile):
    # 60 inputs on AMPA + inputs 0..4 again on NMDA (a second projection): 65 synapses = 65 CAM entries
    def network():
        return network_from_dict({"n_inputs": 60, "populations": [{"name": "p", "size": 2}], "projections": [
            {"source": "input", "target": "p", "pre": list(range(60)), "post": [1] * 60, "w": [0.5] * 60},
            {"source": "input", "target": "p", "synapse": "nmda", "pre": list(range(5)), "post": [1] * 5, "w": [0.5] * 5}]})
    e = _map_error(network(), profile)
    assert e.rule == "fan-in"
    assert str(e) == ("[fan-in] neuron p[1] has 65 incoming synapses (projection 0 (input→p): 60, projection 1 (input→p): 5) "
                      "but a neuron has 64 CAM entries; reduce its fan-in or pass --prune to keep the 64 largest |w|")
    assert quantize_network(network(), profile, prune=True).report["pruned"]["synapses"] == 1   # --prune: allowed


def test_bias_range(profile):
    network = _net(pops=[{"name": "hid", "size": 3, "Itau_mem": [5e-12, 1e-3, 5e-12]}])
    e = _map_error(network, profile)
    assert e.rule == "bias-range"
    assert str(e).startswith("[bias-range] neuron hid[1]: Itau_mem = 0.001 A cannot be produced by SOIF_LEAK_N")
    assert "change Itau_mem of population 'hid' to a value inside the range" in str(e)


def test_cores(profile):
    e = _map_error(_net(n=1025), profile, chips=1)
    assert e.rule == "cores" and str(e).startswith("[cores] the network has 1025 neurons but 4 cores hold at most 1024; "
                                                   "use more chips (--chips, board maximum 4)")


def test_shared_parameters(profile):
    pops = [{"name": f"p{i}", "size": 1, "Itau_mem": 5e-12 * (1 + i)} for i in range(5)]
    e = _map_error(_net(pops=pops), profile, chips=1, strict=True)
    assert e.rule == "shared-parameters"
    assert str(e).startswith("[shared-parameters] the network's neurons have 5 distinct parameter sets needing 5 cores, "
                             "but only 4 cores are available")
    deploy(_net(pops=pops), profile, chips=1)        # without --strict-parameters: clustered, reported


def test_every_network_violation_at_once(profile):
    network = _net(n_inputs=70, pre=list(range(70)), post=[0] * 70,
                pops=[{"name": "p", "size": 2, "Itau_mem": [1e-3, 5e-12]}])
    e = _map_error(network, profile, chips=7)
    assert [ln.split("]")[0] + "]" for ln in e.lines] == ["[chips]", "[fan-in]", "[bias-range]"]
    assert e.rule == "chips"


# ---- placement rules -------------------------------------------------------------------------------------
def test_tags(profile):
    # 40 neurons on one core, each from 60 of 2400 distinct input channels: 2400 sources reach that core
    n_in = 2400
    pre = np.arange(n_in).tolist()
    post = (np.arange(n_in) // 60).tolist()
    e = _map_error(_net(n=40, n_inputs=n_in, pre=pre, post=post), profile)
    assert e.rule == "tags" and str(e).startswith("[tags] chip 0 core 0 is reached by 2400 distinct sources but a core "
                                                  "has 2048 tags")


def test_fan_out(profile):
    n = 4 * 1024
    network = network_from_dict({"n_inputs": 1, "populations": [{"name": "p", "size": n}],
                           "projections": [{"source": "p", "target": "p", "pre": [0] * 16,
                                            "post": [c * 256 + 5 for c in range(16)], "w": [0.5] * 16}],
                           "outputs": [{"population": "p", "indices": [0]}]})
    e = _map_error(network, profile)
    assert e.rule == "fan-out"
    assert str(e) == ("[fan-out] neuron p[0] needs 5 SRAM destinations (targets on chips [0, 1, 2, 3] + host monitor) "
                      "but a neuron has 4; place its targets on fewer chips")


def test_cam_defects(profile):
    from networks import random_network
    from test_mapping import DATA

    e = _map_error(random_network(256, 48, seed=5), profile, cam_profiles={0: str(DATA / "cam_profile_chip_red.json.gz")})
    assert e.rule == "cam-defects" and "working CAM slots but the CAM profile" in str(e) and "--prune" in str(e)


def test_cam_profile(profile, tmp_path):
    e = _map_error(_net(), profile, cam_profiles={2: str(tmp_path / "none.json")})
    assert e.rule == "cam-profile" and str(e) == f"[cam-profile] {tmp_path / 'none.json'}: CAM profile not found"
    from test_mapping import DATA

    e = _map_error(_net(), profile, cam_profiles={2: str(DATA / "cam_profile_chip_red.json.gz")})
    assert str(e).startswith("[cam-profile] CAM profile given for chip 2, but the network uses chips 0..0")


# ---- config rules ----------------------------------------------------------------------------------------
def _two_chips():
    c = _config()
    c["chips"].append(copy.deepcopy(c["chips"][0]) | {"chip": 1, "position": [1, 0]})
    return c


def _mutate(name, c):
    chip = c["chips"][0]
    core = chip["cores"][0]
    neuron = core["neurons"][0]
    if name == "unique-chip":
        c["chips"][1]["chip"] = 0
    elif name == "unique-position":
        c["chips"][1]["position"] = [0, 0]
    elif name == "unique-core":
        chip["cores"].append(copy.deepcopy(core))
    elif name == "unique-neuron":
        core["neurons"].append(copy.deepcopy(neuron))
    elif name == "synapse-flags":
        neuron["synapse_flags"] = {"5": ["stp"]}
    elif name == "hop-target":
        neuron["destinations"][0]["x_hop"] = 3
    elif name == "empty-destination":
        neuron["destinations"].append({"tag": 9, "core": [False] * 4, "x_hop": -7, "y_hop": 0})
    elif name == "input-channels":
        c["inputs"][0]["channel"] = 1
    elif name == "input-chip":
        c["inputs"][0]["destinations"][0]["chip"] = 9
    elif name == "output-target":
        c["outputs"][0]["neuron"] = 4
    elif name == "finite":
        c["metadata"] = {"x": float("nan")}
    elif name == "placement":
        c["placement"][0]["neuron"] = [7]
    return c


CONFIG_EXPECT = {
    "unique-chip": "$.chips[1].chip: [unique-chip] chip 0 listed twice (also $.chips[0])",
    "unique-position": "$.chips[1].position: [unique-position] position [0, 0] already used by $.chips[0]",
    "unique-core": "$.chips[0].cores[1].core: [unique-core] core 0 listed twice on chip 0",
    "unique-neuron": "$.chips[0].cores[0].neurons[1].neuron: [unique-neuron] neuron 3 listed twice",
    "synapse-flags": "$.chips[0].cores[0].neurons[0].synapse_flags: [synapse-flags] entry 5 flagged, but the neuron has "
                     "2 CAM entries (indices 0..1)",
    "hop-target": "$.chips[0].cores[0].neurons[0].destinations[0]: [hop-target] hop (3, 0) from chip 0 at [0, 0] "
                  "reaches [3, 0], where no chip is configured",
    "empty-destination": "$.chips[0].cores[0].neurons[0].destinations[1].core: [empty-destination] empty core mask: the "
                         "chip does not send this destination (tag 9, hop (-7, 0)); a host route needs core [true, true, "
                         "true, true] — configs mapped before host routes carried all four core bits must be re-mapped",
    "input-channels": "$.inputs[0].channel: [input-channels] expected channel 0: input channels are listed 0, 1, 2, ... in order",
    "input-chip": "$.inputs[0].destinations[0].chip: [input-chip] chip 9 is not in $.chips",
    "output-target": "$.outputs[0]: [output-target] chip 0 core 0 neuron 4 is not a configured neuron",
    "finite": "$.metadata.x: [finite] numbers must be finite, got nan",
    "placement": "$.placement[0].neuron[0]: [placement] out[0] placed on chip 0 core 0 neuron 7, which is not configured",
}


@pytest.mark.parametrize("name", sorted(CONFIG_EXPECT))
def test_config_rule(name):
    config_from_dict(_two_chips())                       # the unmutated config is valid
    with pytest.raises(ConfigError) as e:
        config_from_dict(_mutate(name, _two_chips()), "c.json")
    assert f"c.json: {CONFIG_EXPECT[name]}" in e.value.lines, e.value.lines


# ---- profile rules (a config against a smaller profile) --------------------------------------------------
PROFILE_EXPECT = {
    "max-chips": "$.chips: [max-chips] 2 chips, the profile allows at most 1",
    "cores-per-chip": "$.chips[0].cores: [cores-per-chip] 2 cores, the profile has 1",
    "core-range": "$.chips[0].cores[1].core: [core-range] core 1, the profile has cores 0..0",
    "parameter-name": "$.chips[0].cores[0].parameters.SOIF_LEEK_N: [parameter-name] unknown parameter for profile 'dynapse2'",
    "code-range": "$.chips[0].cores[0].parameters.SOIF_LEAK_N: [code-range] (0, 27) outside coarse 0..5, fine 0..19",
    "neurons-per-core": "$.chips[0].cores[0].neurons: [neurons-per-core] 5 neurons, the profile has 4",
    "neuron-range": "$.chips[0].cores[0].neurons[0].neuron: [neuron-range] neuron 3, the profile has 0..2",
    "fan-in": "$.chips[0].cores[0].neurons[0].synapses: [fan-in] 2 CAM entries, the profile has 1 per neuron",
    "fan-out": "$.chips[0].cores[0].neurons[0].destinations: [fan-out] 1 SRAM entries, the profile has 0 per neuron",
    "tag-range": "$.chips[0].cores[0].neurons[0].synapses[0][0]: [tag-range] tag 17, the profile has 0..15",
    "hop-range": "$.chips[0].cores[0].neurons[0].destinations[0]: [hop-range] hop (1, 0), the profile allows ±0",
    "profile-hash": "warning: $.profile.sha256: [profile-hash] the config was made with profile sha256 000000000000...",
    "chip-level-parameter": "$.chips[0].cores[0].parameters.LBWR_VB_P: [chip-level-parameter] LBWR_VB_P is a chip-level "
                            "shared parameter of profile 'dynapse2', not a core parameter (samna's chips[h].shared_parameters01 "
                            "and shared_parameters23): move it to $.chips[0].shared_parameters.01",
    "chip-parameter-name": "$.chips[0].sadc_group_parameters.23[2].LBWR_VB_P: [chip-parameter-name] LBWR_VB_P is not a "
                           "sadc_group parameter (sadc_group_parameters01[0..2] and sadc_group_parameters23[0..2]): it is a "
                           "shared parameter: move it to $.chips[0].shared_parameters.23",
}


def _small_profile(profile, name):
    g = {"max-chips": dict(max_chips=1), "cores-per-chip": dict(cores_per_chip=1), "core-range": dict(cores_per_chip=1),
         "neurons-per-core": dict(neurons_per_core=4), "neuron-range": dict(neurons_per_core=3),
         "fan-in": dict(cam_entries_per_neuron=1), "fan-out": dict(sram_entries_per_neuron=0),
         "tag-range": dict(n_tags=16), "hop-range": dict(max_hop=0)}.get(name, {})
    prof = profile.model_copy(update={"geometry": profile.geometry.model_copy(update=g)})
    if name == "code-range":
        prof = prof.model_copy(update={"bias_generator": prof.bias_generator.model_copy(update={"fine_levels": 20})})
    return prof


@pytest.mark.parametrize("name", sorted(PROFILE_EXPECT))
def test_profile_rule(profile, name):
    c = _config()
    if name == "max-chips":
        c = _two_chips()
    elif name in ("cores-per-chip", "core-range"):
        c["chips"][0]["cores"].append(copy.deepcopy(c["chips"][0]["cores"][0]) | {"core": 1})
    elif name == "neurons-per-core":
        c["chips"][0]["cores"][0]["neurons"] = [dict(c["chips"][0]["cores"][0]["neurons"][0], neuron=i) for i in range(5)]
    elif name == "parameter-name":
        c["chips"][0]["cores"][0]["parameters"] = {"SOIF_LEEK_N": {"coarse": 0, "fine": 2}}
    elif name == "hop-range":
        c = _two_chips()
        c["chips"][0]["cores"][0]["neurons"][0]["destinations"][0]["x_hop"] = 1
    elif name == "profile-hash":
        c["profile"]["sha256"] = "0" * 64
    elif name == "chip-level-parameter":
        c["chips"][0]["cores"][0]["parameters"]["LBWR_VB_P"] = {"coarse": 5, "fine": 255}
    elif name == "chip-parameter-name":
        c["chips"][0]["sadc_group_parameters"] = {"23": [{}, {}, {"LBWR_VB_P": {"coarse": 5, "fine": 255}}]}
    assert rules.check_config_profile(config_from_dict(_config()), profile) == ([], [])
    cfg = config_from_dict(c)
    errors, warnings = rules.check_config_profile(cfg, _small_profile(profile, name))
    found = warnings if name == "profile-hash" else errors
    assert any(ln.startswith(PROFILE_EXPECT[name]) for ln in found), found


def _with_chip_groups(c):
    c["chips"][0]["global_parameters"] = {"R2R_BUFFER_AMPB": {"coarse": 5, "fine": 255}}
    c["chips"][0]["shared_parameters"] = {"01": {"LBWR_VB_P": {"coarse": 5, "fine": 255}}, "23": {}}
    c["chips"][0]["sadc_group_parameters"] = {"01": [{}, {"NCCF_BIAS_P": {"coarse": 5, "fine": 200}}, {}]}
    return c


def test_chip_level_parameters_in_their_groups_pass(profile):
    assert rules.check_config_profile(config_from_dict(_with_chip_groups(_config())), profile) == ([], [])


def test_a_chip_level_parameter_in_a_core_is_one_error_naming_where_it_goes(profile):
    c = _config()
    c["chips"][0]["cores"][0]["parameters"]["NCCF_BIAS_P"] = {"coarse": 5, "fine": 200}
    c["chips"][0]["cores"][0]["core"] = 3
    c["outputs"], c["placement"] = [], []
    errors, _ = rules.check_config_profile(config_from_dict(c), profile)
    assert errors == [
        "$.chips[0].cores[0].parameters.NCCF_BIAS_P: [chip-level-parameter] NCCF_BIAS_P is a chip-level sadc_group "
        "parameter of profile 'dynapse2', not a core parameter (samna's chips[h].sadc_group_parameters01[0..2] and "
        "sadc_group_parameters23[0..2]): move it to $.chips[0].sadc_group_parameters.23[i] (sADC group i = 0..2)"]


def test_chip_parameter_names_unknown_or_misplaced(profile):
    c = _with_chip_groups(_config())
    c["chips"][0]["global_parameters"]["SOIF_LEAK_N"] = {"coarse": 0, "fine": 27}
    c["chips"][0]["shared_parameters"]["23"]["LBWR_VB_Q"] = {"coarse": 1, "fine": 1}
    errors, _ = rules.check_config_profile(config_from_dict(c), profile)
    assert errors == [
        "$.chips[0].global_parameters.SOIF_LEAK_N: [chip-parameter-name] SOIF_LEAK_N is not a global parameter "
        "(global_parameters): it is a core parameter: move it to $.chips[0].cores[k].parameters",
        "$.chips[0].shared_parameters.23.LBWR_VB_Q: [chip-parameter-name] LBWR_VB_Q is not a shared parameter "
        "(shared_parameters01 and shared_parameters23): unknown to profile 'dynapse2', whose chip_parameters.shared are "
        "LBWR_VB_P, PG_BUF_N, NCCF_CAL_OFFBIAS_P, SYAM_STDWAMPB, SYAM_STDWCCB: correct the name or remove it"]


def test_chip_level_codes_outside_the_bias_generator(profile):
    c = _with_chip_groups(_config())
    c["chips"][0]["cores"][0]["parameters"] = {}
    errors, _ = rules.check_config_profile(config_from_dict(c), _small_profile(profile, "code-range"))   # fine 0..19
    assert errors == [
        "$.chips[0].global_parameters.R2R_BUFFER_AMPB: [code-range] (5, 255) outside coarse 0..5, fine 0..19: set a code within them",
        "$.chips[0].shared_parameters.01.LBWR_VB_P: [code-range] (5, 255) outside coarse 0..5, fine 0..19: set a code within them",
        "$.chips[0].sadc_group_parameters.01[1].NCCF_BIAS_P: [code-range] (5, 200) outside coarse 0..5, fine 0..19: "
        "set a code within them"]


def test_validate_names_a_core_parameter_that_is_chip_level(run_cli, tmp_path):
    c = _config()
    c["chips"][0]["cores"][0]["parameters"]["LBWR_VB_P"] = {"coarse": 5, "fine": 255}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(c))
    code, out, err = run_cli("validate", p)
    assert code == 2
    assert (f"{p}: $.chips[0].cores[0].parameters.LBWR_VB_P: [chip-level-parameter] LBWR_VB_P is a chip-level shared "
            f"parameter") in err
    assert "[parameter-name]" not in err


def _delayed(delay, **proj):
    proj = proj or {"pre": [0, 1], "post": [0, 1], "w": [0.5, 0.5]}
    return network_from_dict({"n_inputs": 4, "populations": [{"name": "p", "size": 2}],
                           "projections": [{"source": "input", "target": "p", **proj, "delay": delay}]})


def _short_delay_profile(profile):
    """The built-in profile with 100× smaller delay capacitors: its stages reach at most ~26.5 ms."""
    a = profile.analog.model_copy(update={"C_dly0": 1e-14, "C_dly1": 1e-14, "C_dly2": 1e-14})
    return profile.model_copy(update={"analog": a})


def test_delays_beyond_what_the_stages_produce_are_named(profile, run_cli, tmp_path):
    short = _short_delay_profile(profile)
    network = _delayed([[0.0, 0.0], [0.0, 0.05], [0.004, 0.0], [0.0, 0.0]], weight=[[0, 0], [0, 0.5], [0.5, 0], [0, 0]])
    e = _map_error(network, short)
    assert e.rule == "delays"
    assert str(e) == ("[delays] projection 0 (input→p), synapse input 1 → p[1]: delay 50 ms exceeds the 26.55 ms the "
                      "chip's delay stages can produce (t₀ + t₁ + t₂, every SYPD_DLYi_P at its longest; uncalibrated "
                      "model of dynapse2); 1 synapse(s) affected — shorten the projection's 'delay' to at most 26.55 ms"), str(e)
    with pytest.raises(MappingError, match=r"^\[delays\] projection 0"):
        quantize_network(network, short)
    # the same delays are within the built-in profile's stages (up to 2.65 s); zero delays are no delays
    assert "delays" not in [n for n, _ in rules.check_network(rules.NetworkFacts(network, profile))]
    assert "delays" not in [n for n, _ in rules.check_network(rules.NetworkFacts(_delayed(0.0), short))]
    # a profile without delay stages cannot take a delayed network
    from types import SimpleNamespace
    from neurodeploy.rules.network import delays as delays_rule
    blind = SimpleNamespace(models_delays=False, name="blind")
    assert delays_rule(rules.NetworkFacts(network, blind)) == [
        "the network has synaptic delays but profile blind models no delay stages (Idly_0..Idly_2, SYPD_DLY0..2_P); use "
        "a profile that does, or remove the projections' 'delay' to deploy without delays"]
    p = tmp_path / "m.json"
    p.write_text(_delayed(0.2 - 0.1, weight=[[0.5, 0], [0, 0], [0, 0], [0, 0]]).dumps())
    code, out, err = run_cli("map", p, "-o", tmp_path / "c.json")       # 100 ms: within the built-in stages
    assert code == 0, err


def test_every_rule_has_a_test():
    tested = {"chips", "fan-in", "weight-range", "bias-range", "cores", "shared-parameters", "tags", "fan-out", "cam-defects",
              "cam-profile", "delays", "time-scale"} | set(CONFIG_EXPECT) | set(PROFILE_EXPECT)  # time-scale: test_nir_timescale
    assert set(rules.RULES) == tested


def test_rules_command_lists_the_registry(run_cli):
    code, out, err = run_cli("rules")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(rules.RULES)
    assert [ln.split()[0] for ln in lines] == list(rules.RULES)
    assert any(ln.split()[:2] == ["fan-in", "network/profile"] for ln in lines)


def test_validate_warns_of_network_rules(run_cli, tmp_path):
    network = _net(n_inputs=70, pre=list(range(70)), post=[0] * 70)
    p = tmp_path / "m.json"
    network.save(p)
    code, out, err = run_cli("validate", p)
    assert code == 0 and out.startswith("OK network")
    assert err.startswith(f"{p}: warning: [fan-in] neuron p[0] has 70 incoming synapses")


def test_weight_range(profile):
    network = network_from_dict({"n_inputs": 2, "populations": [{"name": "p", "size": 1}],
                           "projections": [{"source": "input", "target": "p", "pre": [0, 1], "post": [0, 0],
                                            "w": [1.0, 0.5], "weight_scale": 1e-3}]})
    e = _map_error(network, profile)
    assert e.rule == "weight-range"
    assert str(e).startswith("[weight-range] projection 0 (input→p), synapse input 0 → p[0]: weight current 0.001 A exceeds")
    assert str(e).endswith("2 synapse(s) affected — lower |w| or weight_scale")
