"""FPGA-link conventions (neurodeploy.backends.fpga): scheduling, clock wrap, decoding — no samna needed."""

import numpy as np
import pytest

from samna_helpers import example_config, four_chip_config

from neurodeploy.backends.fpga import (CLOCK_WRAP_US, OutputDecoder, peak_rate, raster_events, readback_hops,
                                       unwrap, wrap)
from neurodeploy.errors import BackendError
from neurodeploy.device.profile import HOST_X_HOP


def test_conventions():
    assert HOST_X_HOP == -7
    assert [readback_hops((h, 0)) for h in range(4)] == [(-6, 0), (-5, 0), (-4, 0), (-3, 0)]   # chip h: −6 + h
    t = np.array([0, 10, 50_000])
    ts = wrap(t, CLOCK_WRAP_US - 20)
    assert ts.tolist() == [CLOCK_WRAP_US - 20, CLOCK_WRAP_US - 10, 49_980]
    assert unwrap(ts, CLOCK_WRAP_US - 20).tolist() == t.tolist()
    assert peak_rate(np.array([0, 1, 2, 5000])) == 3000.0 and peak_rate(np.array([], np.int64)) == 0.0


def test_raster_events_repeat_counts_and_fan_out_to_every_destination():
    cfg = four_chip_config()
    ch = max(range(len(cfg.inputs)), key=lambda i: len(cfg.inputs[i].destinations))
    raster = np.zeros((4, len(cfg.inputs)))
    raster[2, ch] = 3
    raster[1, 0] = 1
    ev = raster_events(raster, 1e-3, cfg)
    n_dst = len(cfg.inputs[ch].destinations)
    assert len(ev) == len(cfg.inputs[0].destinations) + 3 * n_dst
    assert ev[:, 0].tolist() == sorted(ev[:, 0].tolist()) and set(ev[-3 * n_dst:, 0]) == {2000}
    want = [(d.tag, sum(1 << k for k, on in enumerate(d.core) if on)) for d in cfg.inputs[ch].destinations] * 3
    assert [tuple(r) for r in ev[-3 * n_dst:, 1:3].tolist()] == want


def test_decoder_maps_host_events_to_outputs_and_model_names():
    cfg = four_chip_config()
    dec = OutputDecoder.from_config(cfg)
    assert len(dec.sites) == len(cfg.outputs)                   # only output neurons are routed to the host
    assert [dec.names[i] for i in dec.outputs] == [o.name for o in cfg.outputs]
    o = cfg.outputs[4]
    spikes, ev, unknown, late = dec.decode([1500, 1600, 9000], [o.core * 256 + o.neuron] * 2 + [3], [-6 + o.chip] * 2 + [-6],
                                           [0, 0, 0], 5, 1e-3)
    assert spikes[1, dec.outputs[4]] == 2 and spikes.sum() == 2 and unknown == 1 and late == 0
    assert ev.tolist() == [[1500, o.chip, o.core, o.neuron], [1600, o.chip, o.core, o.neuron]]


def test_decoder_refuses_ambiguous_or_unobservable_outputs():
    d = example_config().model_dump(mode="json")
    neurons = d["chips"][0]["cores"][0]["neurons"]
    host = [x for x in neurons[1]["destinations"] if x["x_hop"] == HOST_X_HOP][0]
    [x for x in neurons[0]["destinations"] if x["x_hop"] == HOST_X_HOP][0]["tag"] = host["tag"]
    from neurodeploy.config.config_json import config_from_dict

    with pytest.raises(BackendError, match="same tag"):
        OutputDecoder.from_config(config_from_dict(d))
    neurons[0]["destinations"] = [x for x in neurons[0]["destinations"] if x["x_hop"] != HOST_X_HOP]
    with pytest.raises(BackendError, match=r"\$.outputs\[0\].*no route to the host"):
        OutputDecoder.from_config(config_from_dict(d))
