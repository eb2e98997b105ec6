"""Synthetic networks for the tests and the benchmarks in tools/ (deterministic for a seed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurodeploy.network import network_from_dict

#: The frozen-noise example (its model's input weights and its inputs).
EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def random_network(n_neurons: int, fan_in: int, *, n_inputs: int = 60, seed: int = 0, sigma: float = 0.3,
                   block: int = 1024, cross_block: int = 4, name: str = "random", weight_scale: float = 1e-8):
    """Sparse recurrent network with Gaussian weights (unitless, N(0, σ²)), exactly ``fan_in`` inputs
    per neuron. Sources of neuron j: the input channels and the neurons of j's block of ``block``
    neurons, plus ``cross_block`` synapses from the next block (multi-chip traffic).
    """
    rng = np.random.default_rng(seed)
    pre_in, post_in, w_in, pre_r, post_r, w_r = [], [], [], [], [], []
    n_blocks = -(-n_neurons // block)
    for j in range(n_neurons):
        b = j // block
        lo, hi = b * block, min(n_neurons, (b + 1) * block)
        local = np.r_[np.arange(n_inputs), n_inputs + np.arange(lo, hi)]
        n_cross = cross_block if n_blocks > 1 else 0
        src = rng.choice(local, fan_in - n_cross, replace=False)
        if n_cross:
            nb = (b + 1) % n_blocks
            lo2, hi2 = nb * block, min(n_neurons, (nb + 1) * block)
            src = np.r_[src, n_inputs + rng.choice(np.arange(lo2, hi2), n_cross, replace=False)]
        w = rng.normal(0.0, sigma, src.size)
        w[w == 0] = sigma
        for s, ww in zip(src, w):
            if s < n_inputs:
                pre_in.append(int(s)); post_in.append(j); w_in.append(float(ww))
            else:
                pre_r.append(int(s - n_inputs)); post_r.append(j); w_r.append(float(ww))
    return network_from_dict({
        "name": name, "n_inputs": n_inputs,
        "populations": [{"name": "neurons", "size": n_neurons}],
        "projections": [
            {"source": "input", "target": "neurons", "pre": pre_in, "post": post_in, "w": w_in, "weight_scale": weight_scale},
            {"source": "neurons", "target": "neurons", "pre": pre_r, "post": post_r, "w": w_r, "weight_scale": weight_scale},
        ],
        "outputs": [{"population": "neurons", "indices": [0, 1]}],
        "metadata": {"generator": "neurodeploy.synthetic.random_network", "seed": seed},
    })


def two_layer():
    """The example's input weights on 8 hidden neurons (4 per pattern, scaled 0.8–1.2), each group driving one of
    2 output neurons: the outputs count spikes that arrive from other neurons, at their times inside the step or
    at the next step's start."""
    m = json.loads((EX / "model.json").read_text())
    w_in = np.repeat(np.asarray(m["projections"][0]["weight"]), 4, axis=1) * np.linspace(0.8, 1.2, 8)
    w_out = np.zeros((8, 2))
    w_out[0::2, 0] = w_out[1::2, 1] = 8.0
    pop = m["populations"][0]
    return network_from_dict({
        "name": "two_layer", "dt": 1e-3, "n_inputs": 60,
        "populations": [dict(pop, name="hidden", size=8), dict(pop, name="out", size=2)],
        "projections": [{"source": "input", "target": "hidden", "weight_scale": 1e-7, "weight": w_in.round(3).tolist()},
                        {"source": "hidden", "target": "out", "weight_scale": 1e-7, "weight": w_out.tolist()}],
        "outputs": [{"population": "out"}]})
