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
    from neurodeploy.config.model import config_from_dict

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
