"""Placement around measured CAM defects: a network that fits the chips' working slots is mapped, with
every entry on a slot and tag that work, and runs like its defect-free mapping."""

import numpy as np
import pytest

from neurodeploy.deployment import deploy
from neurodeploy.device.profile import load_profile
from neurodeploy.mapping.cam_profile import load_cam_profile
from neurodeploy.network import network_from_dict
from test_mapping import DATA

CAMS = {0: str(DATA / "cam_profile_chip_red.json.gz"), 1: str(DATA / "cam_profile_chip_orange.json.gz")}


def high_fan_in(seed=0, n_pop=6, size=50, n_in=64):
    """300 neurons in 6 populations (6 cores over 2 chips), each neuron with 60..64 input synapses."""
    rng = np.random.default_rng(seed)
    pops = [{"name": f"p{i}", "size": size, "Itau_mem": float(4e-12 * 1.4 ** i)} for i in range(n_pop)]
    projs = []
    for i in range(n_pop):
        w = rng.normal(0, 0.5, (n_in, size)) + 0.3        # mostly excitatory
        for j in range(size):
            w[rng.choice(n_in, rng.integers(0, 5), replace=False), j] = 0
        projs.append({"source": "input", "target": f"p{i}", "weight": w.round(3).tolist(), "weight_scale": 5e-8})
    return network_from_dict({"name": "cam300", "dt": 1e-3, "n_inputs": n_in, "populations": pops, "projections": projs,
                           "outputs": [{"population": f"p{i}"} for i in range(n_pop)]})


@pytest.fixture(scope="module")
def mapped():
    prof = load_profile("dynapse2")
    network = high_fan_in()
    return prof, deploy(network, prof, chips=2, cam_profiles=CAMS), deploy(network, prof, chips=2)


def test_a_network_that_fits_the_working_slots_is_mapped_on_them(mapped):
    prof, d, _ = mapped
    rep = d.report["cam_defects"]
    assert rep["chips"] == [0, 1] and rep["spare_entries_dropped"] == 0
    defects = {h: load_cam_profile(p, prof) for h, p in CAMS.items()}
    n_entries = 0
    for chip in d.config.chips:
        prof_h = defects[chip.chip]
        for core in chip.cores:
            for n in core.neurons:
                for slot, (tag, dendrite, _mask) in enumerate(n.synapses):
                    if dendrite == "none":
                        continue
                    n_entries += 1
                    assert prof_h.good_slot[core.core, n.neuron, slot, tag // 1024], (chip.chip, core.core, n.neuron, slot)
                    assert prof_h.good_tag[core.core, tag], (chip.chip, core.core, tag)
    assert n_entries == d.report["placement"]["cam_entries"] > 17_000
    # the logical cores avoided the physical cores whose neurons have too few working slots
    used = {(c.chip, k.core) for c in d.config.chips for k in c.cores if k.neurons}
    assert len(used) == 6 and (0, 1) not in used


def test_it_runs_like_the_defect_free_mapping(mapped):
    from neurodeploy.backends.emulator import Emulator

    prof, d, free = mapped
    rng = np.random.default_rng(5)
    x = (rng.random((1, 200, 64)) < 0.05).astype(np.float32)
    a = Emulator(d.config, prof).run(x, 1e-3).outputs
    b = Emulator(free.config, prof).run(x, 1e-3).outputs
    assert b.sum() > 500
    # the same synapses on other physical neurons and CAM slots: the same spikes up to the order in which a
    # neuron's charge is summed (a last-bit difference can move a spike by one step)
    assert np.abs(a.sum(1) - b.sum(1)).max() <= 1
    assert np.mean(a != b) < 1e-3


def _toy(initial):
    """Two neurons on chip 0 core 0: n0 with 3 entries whose tags are in the low half, n1 with 3 in the high
    half; physical neuron 0 has 4 working slots for the low half only, physical neuron 1 for the high half
    only, every other neuron none."""
    from neurodeploy.mapping.cam_profile import CamDefects
    from neurodeploy.mapping.placement import Placement
    from neurodeploy.mapping.routing import Routing

    prof = load_profile("dynapse2")
    good = np.zeros((4, 256, 64, 2), bool)
    good[0, 0, :4, 0] = True
    good[0, 1, 10:14, 1] = True
    defects = {0: CamDefects("toy.json", good, np.ones((4, 2048), bool))}
    cam = {0: [(5, "ampa", "1000")] * 3, 1: [(1500, "ampa", "1000")] * 3}
    routing = Routing({}, {}, cam, {n: [(3 * n + k, 0) for k in range(3)] for n in (0, 1)},
                      {n: [{"tag": initial[n], "core": [True] * 4, "x_hop": -7, "y_hop": 0}] for n in (0, 1)}, {})
    placement = Placement([(0, 0)], np.zeros(2, np.int64), np.zeros(2, np.int64), np.array(initial), 1, [(0, 0)])
    return prof, placement, routing, defects


def test_neurons_move_to_the_physical_neurons_whose_slots_fit_their_tag_halves():
    from neurodeploy.mapping.defect_placement import refit_neurons

    prof, placement, routing, defects = _toy([1, 0])            # each on the other's neuron: neither fits
    assert refit_neurons(placement, routing, defects, prof, lambda s: f"p[{s}]", 0) == 2
    assert placement.neuron.tolist() == [0, 1]
    assert [routing.sram[n][0]["tag"] for n in (0, 1)] == [0, 1]   # host routes follow (core·256 + neuron)
    prof, placement, routing, defects = _toy([0, 1])
    assert refit_neurons(placement, routing, defects, prof, lambda s: f"p[{s}]", 0) == 0   # fits: left alone


def test_a_core_with_no_assignment_is_refused_naming_the_neuron():
    from neurodeploy.errors import MappingError
    from neurodeploy.mapping.defect_placement import refit_neurons

    prof, placement, routing, defects = _toy([1, 0])
    routing.cam[1] = [(1500, "ampa", "1000")] * 5                # 5 high-half entries: no neuron has 5 such slots
    routing.cam_syn[1] = [(3 + k, 0) for k in range(5)]
    with pytest.raises(MappingError, match=r"\[cam-defects\] neuron p\[1\] on chip 0 core 0 neuron 0 needs 5 working"):
        refit_neurons(placement, routing, defects, prof, lambda s: f"p[{s}]", 0)
