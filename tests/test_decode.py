"""The chip's digital logic as decode() reads a config: tags, masks, hops, crosstalk, latches."""

import numpy as np
import pytest

from neurodeploy.config.decode import decode
from neurodeploy.config.config_json import config_from_dict


def _cfg(chips, inputs=(), outputs=()):
    return config_from_dict({"format": "neurodeploy.config/1", "profile": {"name": "dynapse2", "sha256": "x"},
                             "neurodeploy_version": "0", "chips": chips, "inputs": list(inputs), "outputs": list(outputs)})


def _core(core, neurons, params=None):
    return {"core": core, "parameters": params or {}, "neurons": neurons}


def test_chain_tags_masks_and_hops(profile):
    # chip 0 core 0 neuron 0 --(tag 7, hop +1)--> chip 1 core 2 neuron 3 ; input 0 --(tag 9)--> chip 0 core 0 neuron 0
    W = {"SYAM_W0_P": {"coarse": 3, "fine": 35}, "SYAM_W1_P": {"coarse": 3, "fine": 72},
         "SYAM_W2_P": {"coarse": 3, "fine": 150}, "SYAM_W3_P": {"coarse": 4, "fine": 36}}
    cfg = _cfg(
        [{"chip": 0, "position": [0, 0], "cores": [_core(0, [{"neuron": 0, "synapses": [[9, "ampa", "1000"]],
                                                             "destinations": [{"tag": 7, "core": [False, False, True, False], "x_hop": 1}]}], W)]},
         {"chip": 1, "position": [1, 0], "cores": [_core(2, [{"neuron": 3, "synapses": [[7, "gaba", "0110"], [8, "ampa", "1111"]]}], W)]}],
        inputs=[{"channel": 0, "destinations": [{"chip": 0, "tag": 9, "core": [True, False, False, False]}]}],
        outputs=[{"chip": 1, "core": 2, "neuron": 3}])
    d = decode(cfg, profile)
    assert d.sites.tolist() == [[0, 0, 0], [1, 2, 3]]
    b = profile.bias
    w = [float(b.to_current(f"SYAM_W{i}_P", W[f"SYAM_W{i}_P"]["coarse"], W[f"SYAM_W{i}_P"]["fine"])) for i in range(4)]
    got = sorted(zip(d.src.tolist(), d.dst.tolist(), d.dendrite.tolist(), d.weight.tolist()))
    # input 0 → neuron m=0 (AMPA, W0); neuron m=0 (source index 1 + 0) → m=1 (GABA, W1 + W2); tag 8 matches nothing
    assert got == sorted([(0, 0, 0, pytest.approx(w[0])), (1, 1, 2, pytest.approx(w[1] + w[2]))])
    assert d.outputs.tolist() == [1]


def test_crosstalk_and_repeated_tag(profile):
    # two inputs share tag 5 on core 0: neuron 0's entry with tag 5 hears both (crosstalk)
    # neuron 1 repeats tag 6 in two entries: input 2 reaches it twice (weights add)
    cfg = _cfg(
        [{"chip": 0, "cores": [_core(0, [{"neuron": 0, "synapses": [[5, "ampa", "1000"]]},
                                         {"neuron": 1, "synapses": [[6, "ampa", "1000"], [6, "ampa", "1000"]]}])]}],
        inputs=[{"channel": 0, "destinations": [{"chip": 0, "tag": 5, "core": [True, False, False, False]}]},
                {"channel": 1, "destinations": [{"chip": 0, "tag": 5, "core": [True, False, False, False]}]},
                {"channel": 2, "destinations": [{"chip": 0, "tag": 6, "core": [True, False, False, False]}]}])
    d = decode(cfg, profile)
    pairs = sorted(zip(d.src.tolist(), d.dst.tolist()))
    assert pairs == [(0, 0), (1, 0), (2, 1), (2, 1)]
    # the two matches of the repeated tag are separate CAM entries (own mismatch each)
    rep = d.cam_entry[(d.src == 2)]
    assert len(set(rep.tolist())) == 2
    # crosstalk matches share one CAM entry
    assert len(set(d.cam_entry[d.dst == 0].tolist())) == 1


def test_core_mask_and_latches(profile):
    cfg = _cfg([{"chip": 0, "cores": [
        _core(0, [{"neuron": 0, "synapses": [[5, "ampa", "1000"]], "latch_soif_kill": True}]),
        _core(1, [{"neuron": 0, "synapses": [[5, "ampa", "1000"]], "latch_so_dc": True, "latch_so_adaptation": True}])]}],
        inputs=[{"channel": 0, "destinations": [{"chip": 0, "tag": 5, "core": [False, True, False, False]}]}])
    d = decode(cfg, profile)
    # the event goes only to core 1 (mask), not core 0, although both have an entry with tag 5
    assert d.dst.tolist() == [1]
    assert d.flags["kill"].tolist() == [True, False]
    assert d.flags["dc"].tolist() == [False, True] and d.flags["adaptation"].tolist() == [False, True]


def test_parameters_decode_through_profile(profile):
    cfg = _cfg([{"chip": 0, "cores": [_core(0, [{"neuron": 0}], {"SOIF_LEAK_N": {"coarse": 0, "fine": 29}})]}])
    d = decode(cfg, profile)
    assert d.params["Itau_mem"][0] == pytest.approx(float(profile.bias.to_current("SOIF_LEAK_N", 0, 29)))
    # a parameter the core does not set decodes to the profile default
    c, f = profile.parameters["DEAM_ETAU_P"].default
    assert d.params["Itau_ampa"][0] == pytest.approx(float(profile.bias.to_current("DEAM_ETAU_P", c, f)))
    assert np.all(d.weight >= 0)
