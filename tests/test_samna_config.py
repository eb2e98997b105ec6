"""HardwareConfig ↔ samna configuration, against the samna test double (tests/fake_samna)."""

import pytest

import fake_samna
from samna_helpers import example_config, four_chip_config

from neurodeploy.errors import BackendError


@pytest.fixture
def make_samna(monkeypatch):
    return lambda n_chips=1: fake_samna.install(monkeypatch, [fake_samna.FakeBoard(n_chips=n_chips)], n_chips=n_chips)


@pytest.fixture
def samna(make_samna):
    return make_samna(1)


def with_flags(cfg):
    """A copy of ``cfg`` whose first neuron's CAM entries carry delay/stp flags (the mapper never sets them)."""
    d = cfg.model_dump(mode="json")
    n = d["chips"][0]["cores"][0]["neurons"][0]
    n["synapse_flags"] = {"0": ["stp"], str(len(n["synapses"]) - 1): ["precise_delay", "mismatched_delay"]}
    from neurodeploy.config.config_json import config_from_dict

    return config_from_dict(d)


#: name → (config, chips of the double's board)
CONFIGS = {"frozen_noise_1core": (example_config, 1), "four_chips_with_flags": (lambda: with_flags(four_chip_config()), 4)}


def expected_neuron(nc):
    """The double's state tuple a neuron must hold for config neuron ``nc`` (None: cleared) — written
    independently of the backend from config.json's documented meaning."""
    blank_syn = (0, "none", (False,) * 4, False, False, False)
    blank_dst = (0, (False,) * 4, 0, 0)
    if nc is None:
        return (False,) * 14, (blank_syn,) * 64, (blank_dst,) * 4
    lat = tuple(getattr(nc, latch) for latch in fake_samna.LATCHES)
    syn = []
    for i, (tag, dend, mask) in enumerate(nc.synapses):
        flags = nc.synapse_flags.get(i, [])
        syn.append((tag, dend, tuple(c == "1" for c in mask), "precise_delay" in flags, "mismatched_delay" in flags, "stp" in flags))
    dst = [(d.tag, tuple(d.core), d.x_hop, d.y_hop) for d in nc.destinations]
    return lat, tuple(syn) + (blank_syn,) * (64 - len(syn)), tuple(dst) + (blank_dst,) * (4 - len(dst))


@pytest.mark.parametrize("name", CONFIGS)
def test_to_samna_writes_every_entry_and_nothing_else(make_samna, name):
    from neurodeploy.backends.samna import to_samna

    samna = make_samna(CONFIGS[name][1])
    cfg = CONFIGS[name][0]()
    scfg = to_samna(cfg, samna)
    by_core = {(c.chip, k.core): k for c in cfg.chips for k in c.cores}
    n_set = 0
    for h, chip in enumerate(scfg.chips):
        for k, core in enumerate(chip.cores):
            kc = by_core.get((h, k))
            for pname, p in core.parameters.items():
                want = kc.parameters[pname] if kc is not None and pname in kc.parameters else None
                got = (p.coarse_value, p.fine_value)
                assert got == ((want.coarse, want.fine) if want else fake_samna.DEFAULT_CODE), (h, k, pname)
            listed = {n.neuron: n for n in kc.neurons} if kc is not None else {}
            for n, neuron in enumerate(core.neurons):
                assert neuron.state() == expected_neuron(listed.get(n)), (h, k, n)
                n_set += n in listed
    assert n_set == sum(len(k.neurons) for c in cfg.chips for k in c.cores)
    if name == "four_chips_with_flags":
        assert {c.chip for c in cfg.chips} == {0, 1, 2, 3}


def test_unused_neurons_are_cleared_in_a_used_configuration(make_samna):
    from neurodeploy.backends.samna import to_samna

    samna = make_samna(4)
    base = samna.dynapse2.Dynapse2Configuration()
    stale = base.chips[2].cores[3].neurons[7]
    stale.latch_so_dc = True
    syn = stale.synapses
    syn[5].tag, syn[5].dendrite = 99, samna.dynapse2.Dendrite.gaba
    stale.synapses = syn
    out = to_samna(example_config(), base)
    assert out is base and base.chips[2].cores[3].neurons[7].state() == expected_neuron(None)


@pytest.mark.parametrize("name", CONFIGS)
def test_read_back_round_trip_is_identical(make_samna, name):
    from neurodeploy.backends.samna import from_samna, to_samna, to_samna_json

    samna = make_samna(CONFIGS[name][1])
    cfg = CONFIGS[name][0]()
    assert from_samna(to_samna(cfg, samna), cfg).dumps() == cfg.dumps()
    if CONFIGS[name][1] > 1:
        return                                                             # the JSON path once, on the small board
    offline = samna.dynapse2.Dynapse2Configuration()
    offline.from_json(to_samna_json(cfg))                                   # samna's own JSON, offline
    assert from_samna(offline, cfg).dumps() == cfg.dumps()


def test_diff_names_every_changed_field(samna):
    from neurodeploy.backends.samna import diff_samna, to_samna

    cfg = example_config()
    wrote = to_samna(cfg, samna)
    back = wrote.copy()
    core = back.chips[0].cores[0]
    core.parameters["SOIF_LEAK_N"].fine_value = (core.parameters["SOIF_LEAK_N"].fine_value + 1) % 256
    n1 = core.neurons[1]
    n1.latch_soif_kill = True
    syn = n1.synapses
    old_tag = syn[3].tag
    syn[3].tag = (old_tag + 1) % 2048
    n1.synapses = syn
    dst = n1.destinations
    dst[0].x_hop = 3
    n1.destinations = dst
    core.neurons[200].latch_so_dc = True
    lines = diff_samna(wrote, back)
    leak = wrote.chips[0].cores[0].parameters["SOIF_LEAK_N"].fine_value
    assert lines == [
        f"chip 0 core 0 parameter SOIF_LEAK_N fine_value: wrote {leak}, read back {(leak + 1) % 256}",
        "chip 0 core 0 neuron 1 latch_soif_kill: wrote False, read back True",
        f"chip 0 core 0 neuron 1 synapse[3] tag: wrote {old_tag}, read back {(old_tag + 1) % 2048}",
        f"chip 0 core 0 neuron 1 destination[0] x_hop: wrote {cfg.chips[0].cores[0].neurons[1].destinations[0].x_hop}, read back 3",
        "chip 0 core 0 neuron 200 latch_so_dc: wrote False, read back True",
    ]
    assert diff_samna(wrote, wrote.copy()) == []


def test_config_needing_more_chips_than_the_board_is_refused(make_samna):
    from neurodeploy.backends.samna import to_samna

    small = make_samna(2).dynapse2.Dynapse2Configuration()
    with pytest.raises(BackendError, match="chip 2, but the board has 2 chips"):
        to_samna(four_chip_config(), small)


def test_double_checks_types_like_the_bindings(samna):
    se2 = samna.dynapse2
    n = se2.Dynapse2Configuration().chips[0].cores[0].neurons[0]
    with pytest.raises(TypeError):
        n.synapses = [se2.Dynapse2Synapse() for _ in range(65)]
    with pytest.raises(TypeError):
        n.destinations = [se2.Dynapse2Destination() for _ in range(3)]
    s, d = se2.Dynapse2Synapse(), se2.Dynapse2Destination()
    with pytest.raises(ValueError):
        s.tag = 2048
    with pytest.raises(TypeError):
        s.dendrite = 1024
    with pytest.raises(TypeError):
        d.core = [True, False, True]
    with pytest.raises(ValueError):
        d.x_hop = -8
    p = se2.Dynapse2Configuration().chips[0].cores[0].parameters["SOIF_LEAK_N"]
    with pytest.raises(ValueError):
        p.coarse_value = 6
    with pytest.raises(ValueError):
        p.fine_value = 256
    with pytest.raises(KeyError):
        se2.Dynapse2Configuration().chips[0].cores[0].parameters["NOT_A_PARAMETER"]
    syn = n.synapses                       # a copy: writing into it does not reach the neuron
    syn[0].tag = 7
    assert n.synapses[0].tag == 0
    model = samna.device.open_device(samna.device.get_unopened_devices()[0]).get_model()
    c = model.get_configuration()
    c.chips[0].cores[0].neurons[0].latch_so_dc = True
    assert model.get_configuration().chips[0].cores[0].neurons[0].latch_so_dc is False


# ---- chip-level parameter maps (global, shared per pair of cores, sADC groups) ----------------------------
def _chip_maps(cfg_chip):
    """(samna map label, {name: (coarse, fine)}) of every chip-level map a config chip lists."""
    out = []
    for _, group, pair, index, codes in cfg_chip.parameter_maps():
        label = {"global": "global_parameters", "shared": f"shared_parameters{pair}",
                 "sadc_group": f"sadc_group_parameters{pair}[{index}]"}[group]
        out.append((label, {n: (c.coarse, c.fine) for n, c in codes.items()}))
    return out


def test_to_samna_writes_the_chip_level_maps(make_samna):
    from neurodeploy.backends.samna import to_samna

    cfg = four_chip_config()
    scfg = to_samna(cfg, make_samna(4))
    for chip in cfg.chips:
        listed = dict(_chip_maps(chip))
        # every map of every chip: the profile's defaults were written by the encoder
        assert len(listed) == 1 + 2 + 2 * 3
        for label, m in scfg.chips[chip.chip].chip_maps():
            want = listed[label]
            for name, p in m.items():
                assert (p.coarse_value, p.fine_value) == want.get(name, fake_samna.DEFAULT_CODE), (chip.chip, label, name)
        assert listed["shared_parameters23"] == {"LBWR_VB_P": (5, 255), "PG_BUF_N": (0, 100), "NCCF_CAL_OFFBIAS_P": (1, 255)}
        assert listed["sadc_group_parameters01[2]"]["NCCF_BIAS_P"] == (5, 200)
        assert listed["global_parameters"] == {"R2R_BUFFER_AMPB": (5, 255), "R2R_BUFFER_CCB": (5, 255)}
    # none of them is in a core's map
    assert not {"LBWR_VB_P", "NCCF_BIAS_P", "R2R_BUFFER_AMPB"} & set(scfg.chips[0].cores[0].parameters)


def _edited(cfg):
    """``cfg`` with hand-set chip-level codes on its first chip (a partial set: other names keep samna's values)."""
    from neurodeploy.config.config_json import config_from_dict

    d = cfg.model_dump(mode="json")
    ch = d["chips"][0]
    ch["global_parameters"] = {"R2R_BUFFER_CCB": {"coarse": 4, "fine": 17}}
    ch["shared_parameters"] = {"23": {"LBWR_VB_P": {"coarse": 3, "fine": 255}, "SYAM_STDWAMPB": {"coarse": 5, "fine": 254}}}
    ch["sadc_group_parameters"] = {"01": [{}, {"NCCF_REF_H_V": {"coarse": 5, "fine": 250}}, {"NCCF_HYS_P": {"coarse": 0, "fine": 9}}]}
    return config_from_dict(d)


def test_chip_level_maps_round_trip_and_partial_maps_keep_samna_values(make_samna):
    from neurodeploy.backends.samna import from_samna, to_samna

    samna = make_samna(1)
    cfg = _edited(example_config())
    scfg = to_samna(cfg, samna)
    chip = scfg.chips[0]
    assert (chip.global_parameters["R2R_BUFFER_CCB"].coarse_value, chip.global_parameters["R2R_BUFFER_CCB"].fine_value) == (4, 17)
    ampb = chip.global_parameters["R2R_BUFFER_AMPB"]
    assert (ampb.coarse_value, ampb.fine_value) == fake_samna.DEFAULT_CODE                     # not listed: samna's value
    assert chip.shared_parameters23["SYAM_STDWAMPB"].fine_value == 254
    assert chip.shared_parameters01["LBWR_VB_P"].fine_value == fake_samna.DEFAULT_CODE[1]      # "01" not listed
    assert chip.sadc_group_parameters01[1]["NCCF_REF_H_V"].fine_value == 250
    assert chip.sadc_group_parameters01[2]["NCCF_HYS_P"].fine_value == 9
    assert chip.sadc_group_parameters23[2]["NCCF_HYS_P"].fine_value == fake_samna.DEFAULT_CODE[1]
    back = from_samna(scfg, cfg)
    assert back.dumps() == cfg.dumps()
    assert dict(_chip_maps(back.chips[0])) == dict(_chip_maps(cfg.chips[0]))
    # through the double's JSON and its copy
    offline = samna.dynapse2.Dynapse2Configuration()
    offline.from_json(scfg.to_json())
    assert from_samna(offline, cfg).dumps() == cfg.dumps()
    assert from_samna(scfg.copy(), cfg).dumps() == cfg.dumps()


def test_read_back_of_chip_level_maps_reads_what_the_board_holds(make_samna):
    from neurodeploy.backends.samna import from_samna, to_samna

    cfg = example_config()
    scfg = to_samna(cfg, make_samna(1))
    scfg.chips[0].sadc_group_parameters23[1]["NCCF_PWLK_P"].coarse_value = 2
    back = from_samna(scfg, cfg)
    assert back.chips[0].sadc_group_parameters["23"][1]["NCCF_PWLK_P"].coarse == 2
    assert back.chips[0].sadc_group_parameters["23"][0]["NCCF_PWLK_P"].coarse == 5
    assert back.dumps() != cfg.dumps()


def test_copy_of_a_configuration_does_not_share_chip_level_maps(samna):
    c = samna.dynapse2.Dynapse2Configuration()
    d = c.copy()
    d.chips[0].shared_parameters01["PG_BUF_N"].fine_value = 100
    d.chips[0].sadc_group_parameters23[0]["NCCF_BIAS_P"].coarse_value = 5
    assert c.chips[0].shared_parameters01["PG_BUF_N"].fine_value == fake_samna.DEFAULT_CODE[1]
    assert c.chips[0].sadc_group_parameters23[0]["NCCF_BIAS_P"].coarse_value == fake_samna.DEFAULT_CODE[0]


def test_diff_names_a_changed_chip_level_parameter_and_its_map(samna):
    from neurodeploy.backends.samna import diff_samna, to_samna

    wrote = to_samna(example_config(), samna)
    back = wrote.copy()
    back.chips[0].shared_parameters23["LBWR_VB_P"].coarse_value = 3
    back.chips[0].sadc_group_parameters01[2]["NCCF_REF_L_V"].fine_value = 101
    back.chips[0].global_parameters["R2R_BUFFER_AMPB"].fine_value = 0
    assert diff_samna(wrote, back) == [
        "chip 0 global_parameters parameter R2R_BUFFER_AMPB fine_value: wrote 255, read back 0",
        "chip 0 shared_parameters23 parameter LBWR_VB_P coarse_value: wrote 5, read back 3",
        "chip 0 sadc_group_parameters01[2] parameter NCCF_REF_L_V fine_value: wrote 100, read back 101",
    ]
    assert diff_samna(wrote, back, chips=[]) == []


def test_a_name_samna_does_not_hold_in_a_chip_map_is_refused_naming_chip_and_map(samna):
    from neurodeploy.backends.samna import from_samna, to_samna
    from neurodeploy.config.config_json import config_from_dict

    d = example_config().model_dump(mode="json")
    d["chips"][0]["sadc_group_parameters"] = {"23": [{}, {"LBWR_VB_P": {"coarse": 5, "fine": 255}}, {}]}
    cfg = config_from_dict(d)            # the file's own rules pass; the profile rules would name it (chip-parameter-name)
    with pytest.raises(BackendError, match=r"^chip 0 sadc_group_parameters23\[1\]: parameter 'LBWR_VB_P' is not a samna "
                                           r"Dynap-SE2 parameter of this map"):
        to_samna(cfg, samna)
    with pytest.raises(BackendError, match=r"^chip 0 sadc_group_parameters23\[1\]: parameter 'LBWR_VB_P'"):
        from_samna(samna.dynapse2.Dynapse2Configuration(), cfg)
    d["chips"][0].pop("sadc_group_parameters")
    d["chips"][0]["cores"][0]["parameters"]["LBWR_VB_P"] = {"coarse": 5, "fine": 255}
    with pytest.raises(BackendError, match="chip 0 core 0: parameter 'LBWR_VB_P' is not a samna Dynap-SE2 parameter"):
        to_samna(config_from_dict(d), samna)
