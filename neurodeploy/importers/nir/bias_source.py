"""The always-on bias source: negative constant drives (biases below reset) as inhibition from one neuron.

The chip's DC input only excites. A population ``bias_source`` of one neuron with a strong DC input and a short
refractory period fires once every step (Idc = 5e-7 A, t_ref ≈ 0.1 ms via Iref = 1e-8 A; checked with the
simulator at dt = 1 ms — at much shorter steps it fires less often than every step and the inhibition is weaker
in proportion). Each neuron with a drive f < 0 gets one synapse from it, of normalised weight f·dt/τ_mem
(negative: GABA), calibrated like every other weight. Cost: one neuron with its own parameter set (on the chip
a core of its own, since a core's neurons share their biases) and one CAM entry per biased neuron.
"""

from __future__ import annotations

import numpy as np

from .layers import Layers
from .nodes import population_name

#: DC input and refractory current of the bias source (A): within the DAC ranges; fires every 1-ms step
BIAS_IDC = 5e-7
BIAS_IREF = 1e-8


def add_bias_source(g, layers: Layers, s, assumptions: list[str]) -> list[dict]:
    """Append the bias source to ``layers.pops`` (when any layer needs it); returns its projections (weight_scale
    the option's, else a placeholder that the calibration replaces)."""
    if not layers.bias_w:
        return []
    name = population_name("bias_source", set(layers.pop_of.values()))
    layers.pops.append({"name": name, "size": 1, "Idc": BIAS_IDC, "Iref": BIAS_IREF})
    projs = []
    for n in g.order:
        if n in layers.bias_w:
            w = np.asarray(layers.bias_w[n], dtype=np.float64)[None, :]
            projs.append({"source": name, "target": layers.pop_of[n], "synapse": "auto",
                          "weight_scale": s.weight_scale if s.weight_scale is not None else s.ws_default,
                          "weight": w.tolist()})
    n_syn = sum(int(np.count_nonzero(p["weight"])) for p in projs)
    assumptions.append(f"negative constant drives: population {name!r} (1 neuron, Idc {BIAS_IDC} A, Iref {BIAS_IREF} A) "
                       f"fires every step and inhibits the {n_syn} neuron(s) with a drive f < 0 through weights "
                       f"f*dt/tau_mem (one CAM entry each; the source needs parameters of its own, i.e. a core)")
    return projs
