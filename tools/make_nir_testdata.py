"""Regenerate the NIR test files in tests/data/nir/ (small networks written by real frameworks and by nir).

Two kinds of files:

* **framework files** (``snntorch_*.nir``, ``norse_*.nir``, ``sinabs_*.nir``, ``spikingjelly_*.nir``,
  ``rockpool_*.nir``): exported by each framework's own NIR exporter, each with ``<name>.npz`` next to it:
  the framework's OWN simulation of a fixed input (``spikes`` [400, 16] Poisson events at 5 % per 1-ms
  step, ``dt``, and ``layer0``, ``layer1``, ... the spikes of its neuron layers in graph order), the
  reference of ``tests/test_nir_fidelity.py`` and of ``neurodeploy validate net.nir --compare ref.npz``.
  Weights are drawn as normalised weights (membrane rise per spike in thresholds) and divided by each
  layer's gain under the framework's documented update rule, so that every file is active. These need
  torch and the frameworks, which neurodeploy does NOT depend on; run this script in a separate venv::

      python3.11 -m venv /tmp/nirgen-venv
      /tmp/nirgen-venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch
      /tmp/nirgen-venv/bin/pip install snntorch norse sinabs spikingjelly rockpool
      # sinabs and rockpool pin nir<=1.0.4; snnTorch 1.0 and SpikingJelly 2.0 need nir>=1.0.7:
      /tmp/nirgen-venv/bin/python tools/make_nir_testdata.py --frameworks --only norse sinabs rockpool
      /tmp/nirgen-venv/bin/pip install "nir>=1.0.8" "nirtorch>=2.6,<2.7"
      /tmp/nirgen-venv/bin/python tools/make_nir_testdata.py --frameworks --only snntorch spikingjelly

  (last run: torch 2.14.1, snnTorch 1.0.0, Norse 1.1.0, Sinabs 3.1.3, SpikingJelly 2.0.0, Rockpool 3.1.0;
  sinabs_iaf.nir was written with nir 1.0.8 installed, which sinabs's export tolerates.)

  A framework that is not installed is skipped (its committed file stays as it is).
* **fast files** (``dt100us/``, ``--fast``): snnTorch ``Leaky`` and ``RLeaky`` and SpikingJelly ``LIFNode``
  networks as their users write them for a step of dt = 0.1 ms (time constants of 0.5-2 ms), each with its
  reference run at ``dt`` = 1e-4 (the same fixed input raster, 500 events/s per channel at that step): networks
  faster than the chip's neurons can follow, for the ``time-scale`` rule and ``-O time_scale=K``
  (``tests/test_nir_timescale.py``). Own ``MANIFEST.json`` in that folder. With snnTorch and SpikingJelly
  installed as above (nir>=1.0.8)::

      /tmp/nirgen-venv/bin/python tools/make_nir_testdata.py --fast

  (last run: torch 2.13.0+cpu, snnTorch 1.0.0, SpikingJelly 2.0.0, nir 1.0.8, nirtorch 2.6.)
* **hand-written files** (``nir1.0.8_*.nir`` with the ``nir`` in neurodeploy's own environment;
  ``nir1.0.4_*.nir`` with ``pip install nir==1.0.4`` in another venv): ``--handwritten``.

Weights are seeded, so the files' arrays are reproducible (HDF5 bytes may differ between h5py
versions). ``tests/data/nir/MANIFEST.json`` records, per file, which tool wrote it, with which
versions and settings, and the weights the tests expect back.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "nir"
N_IN, N_HID, N_OUT = 6, 4, 2            # hand-written files
F_IN, F_HID, F_OUT = 16, 12, 6          # framework files (big enough for a per-neuron correlation)
T_STEPS, RATE, DT = 400, 0.05, 1e-3     # the fixed input: Poisson events, 5 % of steps per channel, 1 ms steps


def _weights(seed: int):
    rng = np.random.default_rng(seed)
    w1 = np.round(rng.normal(0, 0.5, (N_HID, N_IN)), 3).astype(np.float32)   # [out, in] as torch
    w_rec = np.round(rng.normal(0, 0.3, (N_HID, N_HID)), 3).astype(np.float32)
    w2 = np.round(rng.normal(0, 0.5, (N_OUT, N_HID)), 3).astype(np.float32)
    return w1, w_rec, w2


def _fw_weights(seed: int, g1: float, g2: float, g_rec: float = 1.0):
    """Framework weights [out, in] from normalised ones (w = membrane rise per input spike in thresholds),
    divided by each layer's gain g under the framework's own update rule (see each make_*)."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.1, 0.2, (F_HID, F_IN)) / g1
    w_rec = rng.normal(0.0, 0.1, (F_HID, F_HID)) / g_rec
    w2 = rng.normal(0.25, 0.3, (F_OUT, F_HID)) / g2
    return tuple(np.round(w, 4).astype(np.float32) for w in (w1, w_rec, w2))


def _drive(seed: int = 7) -> np.ndarray:
    """The fixed input raster [T, F_IN] (0/1 events), the same for every framework file."""
    return (np.random.default_rng(seed).random((T_STEPS, F_IN)) < RATE).astype(np.uint8)


def _save_reference(path: Path, x: np.ndarray, layers: list, dt: float = DT) -> None:
    """``<file>.npz`` next to the .nir: ``spikes`` (input [T, n_in]) and ``dt`` (a ``neurodeploy simulate`` input),
    and ``layer0``, ``layer1``, ... the framework's own spike counts [T, n] of its neuron layers, in the order
    of the graph from the input (the order of the imported populations)."""
    arrays = {"spikes": x.astype(np.uint8), "dt": np.float64(dt)}
    for k, s in enumerate(layers):
        arrays[f"layer{k}"] = np.asarray(s, dtype=np.float64).reshape(x.shape[0], -1).round().astype(np.uint8)
    np.savez_compressed(path.with_suffix(".npz"), **arrays)


def _manifest_entry(tool, version, settings, arrays):
    return {"tool": tool, "version": version, "settings": settings,
            "weights": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in arrays.items()}}


def _linear(torch, w, bias=False):
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
        if bias:
            lin.bias.zero_()
    return lin


def _snntorch_graph(net):
    """snnTorch's NIR graph of ``net``. snnTorch 1.0 + nir 1.0.8: the batch dimension of the sample leaks into
    the Input node's shape ([1, 6]) and export_to_nir's own infer_types() rejects its graph; then write what the
    exporter built before that check, as users of older versions get it: a file that fails nir's type check."""
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    try:
        return export_to_nir(net, torch.zeros(1, F_IN))
    except ValueError:
        import nirtorch
        from snntorch.export_nir import _extract_snntorch_module

        return nirtorch.extract_nir_graph(net, _extract_snntorch_module, torch.zeros(1, F_IN), model_name="snntorch",
                                          ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])


def _write_nir(path, g):
    """nir.write; nir 1.0.8 cannot gzip the 0-d threshold snnTorch's Synaptic exports: then uncompressed."""
    import nir

    try:
        nir.write(path, g)
    except TypeError:
        nir.write(path, g, compression=None)


def _sinabs_reference(net, path):
    """Run a two-layer Sinabs net (Linear, neuron, Linear, neuron) from reset on the fixed drive; store its spikes."""
    import torch

    x = _drive()
    for m in net:
        if hasattr(m, "reset_states"):
            m.reset_states()
    with torch.no_grad():
        s1 = net[1](net[0](torch.from_numpy(x[None].astype(np.float32))))
        s2 = net[3](net[2](s1))
    _save_reference(path, x, [s1.numpy()[0], s2.numpy()[0]])


def make_snntorch(manifest):
    import snntorch as snn
    import torch
    from snntorch import utils

    # Leaky: v += W x (gain 1); Synaptic: syn += W x, v += syn each step (gain 1/(1 - alpha) = 5)
    w1, w_rec, w2 = _fw_weights(1, 1.0, 5.0)
    rleaky = snn.RLeaky(beta=0.9, linear_features=F_HID, all_to_all=True, init_hidden=True)
    with torch.no_grad():
        rleaky.recurrent.weight.copy_(torch.from_numpy(w_rec))
        rleaky.recurrent.bias.zero_()
    syn = snn.Synaptic(alpha=0.8, beta=0.95, init_hidden=True, output=True)
    net = torch.nn.Sequential(_linear(torch, w1), rleaky, _linear(torch, w2), syn)
    g = _snntorch_graph(net)
    path = OUT / "snntorch_rleaky_synaptic.nir"
    _write_nir(path, g)
    x = _drive()
    utils.reset(net)
    s1, s2 = [], []
    with torch.no_grad():
        for t in range(T_STEPS):
            h = rleaky(net[0](torch.from_numpy(x[t:t + 1].astype(np.float32))))
            spk, _, _ = syn(net[2](h))
            s1.append(h.numpy()[0])
            s2.append(spk.numpy()[0])
    _save_reference(path, x, [s1, s2])
    manifest[path.name] = _manifest_entry(
        "snntorch", snn.__version__, {"RLeaky.beta": 0.9, "Synaptic.alpha": 0.8, "Synaptic.beta": 0.95, "export dt": 1e-4},
        {"w_in": w1.T, "w_rec": w_rec.T, "w_out": w2.T})


def make_norse(manifest):
    import nir
    import norse
    import norse.torch as nt
    import torch

    # LIFBox: v += dt/tau_mem * W x (gain 0.05); LIF: i += W x, v += dt/tau_mem * i (gain tau_syn/tau_mem = 0.5)
    w1, _, w2 = _fw_weights(2, 0.05, 0.5)
    lif1 = nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(50.0)))
    lif2 = nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.tensor(100.0), tau_syn_inv=torch.tensor(200.0)))
    lin1, lin2 = _linear(torch, w1), _linear(torch, w2)
    net = nt.SequentialState(lin1, lif1, lin2, lif2)
    g = nt.to_nir(net, torch.zeros(1, F_IN), dt=1e-3)
    path = OUT / "norse_lifbox_lif.nir"
    nir.write(path, g)
    x = _drive()
    st1 = st2 = None
    s1, s2 = [], []
    with torch.no_grad():
        for t in range(T_STEPS):
            z1, st1 = lif1(lin1(torch.from_numpy(x[t:t + 1].astype(np.float32))), st1)
            z2, st2 = lif2(lin2(z1), st2)
            s1.append(z1.numpy()[0])
            s2.append(z2.numpy()[0])
    _save_reference(path, x, [s1, s2])
    manifest[path.name] = _manifest_entry(
        "norse", norse.__version__ if hasattr(norse, "__version__") else "1.1.0",
        {"LIFBox.tau_mem": 0.02, "LIF.tau_mem": 0.01, "LIF.tau_syn": 0.005, "export dt": 1e-3},
        {"w_in": w1.T, "w_out": w2.T})


def make_sinabs(manifest):
    import nir
    import sinabs
    import sinabs.layers as sl
    import torch

    # LIF (norm_input): v = alpha v + (1 - alpha) W x (gain 1 - exp(-1/tau): 0.049, 0.095)
    w1, _, w2 = _fw_weights(3, 1 - np.exp(-1 / 20), 1 - np.exp(-1 / 10))
    net = torch.nn.Sequential(_linear(torch, w1, bias=True), sl.LIF(tau_mem=20.0), _linear(torch, w2, bias=True),
                              sl.LIF(tau_mem=10.0))
    net(torch.zeros(1, 5, F_IN))  # initialise state shapes
    g = sinabs.to_nir(net, torch.zeros(1, F_IN))
    path = OUT / "sinabs_lif.nir"
    nir.write(path, g)
    _sinabs_reference(net, path)
    manifest[path.name] = _manifest_entry(
        "sinabs", sinabs.__version__, {"LIF[0].tau_mem (steps)": 20.0, "LIF[1].tau_mem (steps)": 10.0},
        {"w_in": w1.T, "w_out": w2.T})


def make_spikingjelly(manifest):
    import nir
    import spikingjelly
    import torch
    from spikingjelly.activation_based import functional, neuron
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

    # LIFNode (decay_input): v += (W x - v)/tau (gain 1/20); decay_input=False: v += W x - v/tau (gain 1)
    w1, _, w2 = _fw_weights(4, 0.05, 1.0)
    net = torch.nn.Sequential(_linear(torch, w1), neuron.LIFNode(tau=20.0), _linear(torch, w2),
                              neuron.LIFNode(tau=10.0, decay_input=False))
    g = export_to_nir(net, torch.zeros(1, F_IN), dt=1e-4)
    path = OUT / "spikingjelly_lif.nir"
    nir.write(path, g)
    x = _drive()
    functional.reset_net(net)
    s1, s2 = [], []
    with torch.no_grad():
        for t in range(T_STEPS):
            a = net[1](net[0](torch.from_numpy(x[t:t + 1].astype(np.float32))))
            b = net[3](net[2](a))
            s1.append(a.numpy()[0])
            s2.append(b.numpy()[0])
    _save_reference(path, x, [s1, s2])
    ver = getattr(spikingjelly, "__version__", "2.0.0")
    manifest[path.name] = _manifest_entry(
        "spikingjelly", ver, {"LIFNode[0].tau (steps)": 20.0, "LIFNode[1].tau (steps)": 10.0,
                              "LIFNode[1].decay_input": False, "export dt": 1e-4},
        {"w_in": w1.T, "w_out": w2.T})


def make_rockpool(manifest):
    import nir
    import rockpool
    import torch
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    # LIFTorch: i += W x; i *= beta; v = alpha v + i each step (gain beta/(1 - beta): 9.5, 4.5)
    b1, b2 = np.exp(-1e-3 / 0.01), np.exp(-1e-3 / 0.005)
    w1, _, w2 = _fw_weights(5, b1 / (1 - b1), b2 / (1 - b2))
    net = Sequential(LinearTorch((F_IN, F_HID), weight=torch.from_numpy(w1.T.copy()), has_bias=False),
                     LIFTorch(F_HID, tau_mem=0.02, tau_syn=0.01, dt=1e-3),
                     LinearTorch((F_HID, F_OUT), weight=torch.from_numpy(w2.T.copy()), has_bias=False),
                     LIFTorch(F_OUT, tau_mem=0.02, tau_syn=0.005, dt=1e-3))
    g = to_nir(net, torch.zeros(1, 1, F_IN))
    path = OUT / "rockpool_lif.nir"
    nir.write(path, g)
    x = _drive()
    mods = [getattr(net, k) for k in net.modules().keys()] if hasattr(net, "modules") and callable(net.modules) \
        and isinstance(net.modules(), dict) else list(net)
    with torch.no_grad():
        h = torch.from_numpy(x[None].astype(np.float32))
        outs = []
        for m in mods:
            h = m(h)[0]
            outs.append(h)
    _save_reference(path, x, [outs[1].numpy()[0], outs[3].numpy()[0]])
    manifest[path.name] = _manifest_entry(
        "rockpool", rockpool.__version__, {"tau_mem": 0.02, "tau_syn": [0.01, 0.005], "dt": 1e-3},
        {"w_in": w1.T, "w_out": w2.T})


def _biases(seed: int, n: int, lo: float, hi: float) -> np.ndarray:
    """Constant drives f (steady state in thresholds, negative ones included), as the tests expect them back."""
    return np.round(np.random.default_rng(seed).uniform(lo, hi, n), 3)


def make_snntorch_biased(manifest):
    """Two Leaky layers behind nn.Linear with biases (as every default nn.Linear has), some negative."""
    import snntorch as snn
    import torch
    from snntorch import utils

    beta1, beta2 = 0.95, 0.9
    w1, _, w2 = _fw_weights(11, 1.0, 1.0)
    f1, f2 = _biases(12, F_HID, -0.6, 0.5), _biases(13, F_OUT, -0.6, 0.3)
    lin1, lin2 = _linear(torch, w1, bias=True), _linear(torch, w2, bias=True)
    with torch.no_grad():   # Leaky: v = beta v + W x + b settles at b/(1 - beta)
        lin1.bias.copy_(torch.from_numpy((f1 * (1 - beta1)).astype(np.float32)))
        lin2.bias.copy_(torch.from_numpy((f2 * (1 - beta2)).astype(np.float32)))
    l1 = snn.Leaky(beta=beta1, init_hidden=True)
    l2 = snn.Leaky(beta=beta2, init_hidden=True, output=True)
    net = torch.nn.Sequential(lin1, l1, lin2, l2)
    g = _snntorch_graph(net)
    path = OUT / "snntorch_biased_leaky.nir"
    _write_nir(path, g)
    x = _drive()
    utils.reset(net)
    s1, s2 = [], []
    with torch.no_grad():
        for t in range(T_STEPS):
            a = l1(lin1(torch.from_numpy(x[t:t + 1].astype(np.float32))))
            b, _ = l2(lin2(a))
            s1.append(a.numpy()[0])
            s2.append(b.numpy()[0])
    _save_reference(path, x, [s1, s2])
    manifest[path.name] = _manifest_entry(
        "snntorch", snn.__version__, {"Leaky[0].beta": beta1, "Leaky[1].beta": beta2, "export dt": 1e-4},
        {"w_in": w1.T, "w_out": w2.T, "drive_hidden": f1, "drive_out": f2})


def make_sinabs_iaf(manifest):
    """IAF layers (NIR IF nodes) behind biased Linear layers; sinabs's IAF: v += W x + b, no leak."""
    import nir
    import sinabs
    import sinabs.layers as sl
    import torch

    w1, _, w2 = _fw_weights(21, 1.0, 1.0)
    w1, w2 = w1 * 0.5, w2 * 0.5
    b1, b2 = _biases(22, F_HID, -0.004, 0.004), _biases(23, F_OUT, -0.004, 0.002)
    lin1, lin2 = _linear(torch, w1, bias=True), _linear(torch, w2, bias=True)
    with torch.no_grad():
        lin1.bias.copy_(torch.from_numpy(b1.astype(np.float32)))
        lin2.bias.copy_(torch.from_numpy(b2.astype(np.float32)))
    net = torch.nn.Sequential(lin1, sl.IAF(), lin2, sl.IAF())
    net(torch.zeros(2, 5, F_IN))  # sinabs's IF export reads the layer shape after the batch dimension of v_mem
    g = sinabs.to_nir(net, torch.zeros(2, 1, F_IN))
    path = OUT / "sinabs_iaf.nir"
    nir.write(path, g)
    _sinabs_reference(net, path)
    manifest[path.name] = _manifest_entry(
        "sinabs", sinabs.__version__, {"IAF": "default (threshold 1, subtract reset)"},
        {"w_in": w1.T, "w_out": w2.T, "bias_hidden": b1, "bias_out": b2})


def make_handwritten(manifest):
    """Hand-written graphs with the installed nir: recurrent CubaLIF, nested subgraph, scalar params."""
    import nir

    ver = nir.version if hasattr(nir, "version") else nir.__version__
    tag = f"nir{ver}"
    w1, w_rec, w2 = _weights(6)
    n = N_HID
    lif_kw = dict(v_reset=np.zeros(n)) if "v_reset" in nir.LIF.__dataclass_fields__ else {}
    cuba = nir.CubaLIF(tau_mem=np.full(n, 0.02), tau_syn=np.full(n, 0.005), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), w_in=np.ones(n), **lif_kw)
    g = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([N_IN])),
               "fc_in": nir.Linear(weight=w1.astype(np.float64)),
               "hidden": cuba,
               "fc_rec": nir.Linear(weight=w_rec.astype(np.float64)),
               "fc_out": nir.Affine(weight=w2.astype(np.float64), bias=np.zeros(N_OUT)),
               "readout": nir.LIF(tau=np.full(N_OUT, 0.01), r=np.ones(N_OUT), v_leak=np.zeros(N_OUT),
                                  v_threshold=np.ones(N_OUT), **({"v_reset": np.zeros(N_OUT)} if lif_kw else {})),
               "output": nir.Output(output_type=np.array([N_OUT]))},
        edges=[("input", "fc_in"), ("fc_in", "hidden"), ("hidden", "fc_rec"), ("fc_rec", "hidden"),
               ("hidden", "fc_out"), ("fc_out", "readout"), ("readout", "output")],
        metadata={"dt": 1e-3})
    path = OUT / f"{tag}_recurrent_cubalif.nir"
    nir.write(path, g)
    manifest[path.name] = _manifest_entry("nir", ver, {"dt (graph metadata)": 1e-3, "tau_mem": 0.02, "tau_syn": 0.005},
                                          {"w_in": w1.T, "w_rec": w_rec.T, "w_out": w2.T})

    import inspect

    tc = {"type_check": False} if "type_check" in inspect.signature(nir.NIRGraph.__init__).parameters else {}
    # nested: the recurrent layer is a subgraph (as snnTorch writes RLeaky), parameters as scalars
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([n])),
               "lif": nir.LIF(tau=np.array(0.02), r=np.array(1.0), v_leak=np.array(0.0), v_threshold=np.array(1.0),
                              **({"v_reset": np.array(0.0)} if lif_kw else {})),
               "w_rec": nir.Linear(weight=w_rec.astype(np.float64)),
               "output": nir.Output(output_type=np.array([n]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")], **tc)
    g2 = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([N_IN])),
               "fc": nir.Linear(weight=w1.astype(np.float64)),
               "rnn": sub,
               "output": nir.Output(output_type=np.array([n]))},
        edges=[("input", "fc"), ("fc", "rnn"), ("rnn", "output")], **tc)
    path = OUT / f"{tag}_nested_scalar.nir"
    try:
        nir.write(path, g2)
    except TypeError:  # nir 1.0.8 cannot gzip 0-d arrays
        nir.write(path, g2, compression=None)
    manifest[path.name] = _manifest_entry("nir", ver, {"tau": 0.02, "scalar parameters": True, "nested": True},
                                          {"w_in": w1.T, "w_rec": w_rec.T})


FAST = OUT / "dt100us"                  # networks written for a 0.1 ms step
FAST_DT = 1e-4


def _run_steps(net_step, x):
    """Step a stateful network over the raster ``x`` [T, F_IN]; ``net_step`` maps one input row to the spikes of
    its two neuron layers. Returns their spikes as two [T, n] lists."""
    import torch

    s1, s2 = [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            a, b = net_step(torch.from_numpy(x[t:t + 1].astype(np.float32)))
            s1.append(a.numpy()[0])
            s2.append(b.numpy()[0])
    return s1, s2


def make_fast_snntorch_leaky(manifest):
    """Linear → Leaky(beta 0.95) → Linear → Leaky(beta 0.9): tau = 2 ms and 1 ms at dt = 0.1 ms."""
    import snntorch as snn
    import torch
    from snntorch import utils

    w1, _, w2 = _fw_weights(31, 1.0, 1.0)
    l1 = snn.Leaky(beta=0.95, init_hidden=True)
    l2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)
    lin1, lin2 = _linear(torch, w1), _linear(torch, w2)
    net = torch.nn.Sequential(lin1, l1, lin2, l2)
    path = FAST / "snntorch_leaky.nir"
    _write_nir(path, _snntorch_graph(net))
    x = _drive()
    utils.reset(net)

    def step(xt):
        a = l1(lin1(xt))
        return a, l2(lin2(a))[0]

    _save_reference(path, x, list(_run_steps(step, x)), FAST_DT)
    manifest[path.name] = _manifest_entry(
        "snntorch", snn.__version__, {"Leaky[0].beta": 0.95, "Leaky[1].beta": 0.9, "dt": FAST_DT, "export dt": 1e-4},
        {"w_in": w1.T, "w_out": w2.T})


def make_fast_snntorch_rleaky(manifest):
    """Linear → RLeaky(beta 0.9, all-to-all recurrence) → Linear → Leaky(beta 0.8): tau = 1 ms and 0.5 ms."""
    import snntorch as snn
    import torch
    from snntorch import utils

    w1, w_rec, w2 = _fw_weights(32, 1.0, 1.0)
    rleaky = snn.RLeaky(beta=0.9, linear_features=F_HID, all_to_all=True, init_hidden=True)
    with torch.no_grad():
        rleaky.recurrent.weight.copy_(torch.from_numpy(w_rec))
        rleaky.recurrent.bias.zero_()
    l2 = snn.Leaky(beta=0.8, init_hidden=True, output=True)
    lin1, lin2 = _linear(torch, w1), _linear(torch, w2)
    net = torch.nn.Sequential(lin1, rleaky, lin2, l2)
    path = FAST / "snntorch_rleaky.nir"
    _write_nir(path, _snntorch_graph(net))
    x = _drive()
    utils.reset(net)

    def step(xt):
        a = rleaky(lin1(xt))
        return a, l2(lin2(a))[0]

    _save_reference(path, x, list(_run_steps(step, x)), FAST_DT)
    manifest[path.name] = _manifest_entry(
        "snntorch", snn.__version__, {"RLeaky.beta": 0.9, "Leaky.beta": 0.8, "dt": FAST_DT, "export dt": 1e-4},
        {"w_in": w1.T, "w_rec": w_rec.T, "w_out": w2.T})


def make_fast_spikingjelly_lif(manifest):
    """Linear → LIFNode(tau 10 steps) → Linear → LIFNode(tau 5 steps, decay_input=False): 1 ms and 0.5 ms."""
    import nir
    import spikingjelly
    import torch
    from spikingjelly.activation_based import functional, neuron
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

    # LIFNode (decay_input): v += (W x - v)/tau (gain 1/10); decay_input=False: v += W x - v/tau (gain 1)
    w1, _, w2 = _fw_weights(33, 0.1, 1.0)
    net = torch.nn.Sequential(_linear(torch, w1), neuron.LIFNode(tau=10.0), _linear(torch, w2),
                              neuron.LIFNode(tau=5.0, decay_input=False))
    path = FAST / "spikingjelly_lif.nir"
    nir.write(path, export_to_nir(net, torch.zeros(1, F_IN), dt=FAST_DT))
    x = _drive()
    functional.reset_net(net)

    def step(xt):
        a = net[1](net[0](xt))
        return a, net[3](net[2](a))

    _save_reference(path, x, list(_run_steps(step, x)), FAST_DT)
    manifest[path.name] = _manifest_entry(
        "spikingjelly", getattr(spikingjelly, "__version__", "2.0.0"),
        {"LIFNode[0].tau (steps)": 10.0, "LIFNode[1].tau (steps)": 5.0, "LIFNode[1].decay_input": False,
         "dt": FAST_DT, "export dt": FAST_DT}, {"w_in": w1.T, "w_out": w2.T})


FAST_JOBS = (make_fast_snntorch_leaky, make_fast_snntorch_rleaky, make_fast_spikingjelly_lif)


def _run_jobs(jobs, manifest) -> int:
    failed = 0
    for job in jobs:
        try:
            job(manifest)
            print(f"ok    {job.__name__}")
        except ImportError as e:
            print(f"skip  {job.__name__}: {e}")
        except Exception as e:  # a framework's exporter failing is worth seeing, not fatal
            failed += 1
            print(f"FAIL  {job.__name__}: {type(e).__name__}: {e}")
    return failed


def _load_manifest(folder: Path) -> dict:
    mpath = folder / "MANIFEST.json"
    return json.loads(mpath.read_text()) if mpath.exists() else {}


def _save_manifest(folder: Path, manifest: dict) -> None:
    (folder / "MANIFEST.json").write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", action="store_true", help="write the framework files (needs torch + frameworks)")
    ap.add_argument("--fast", action="store_true", help="write the dt = 0.1 ms framework files into dt100us/")
    ap.add_argument("--handwritten", action="store_true", help="write the hand-written files with the installed nir")
    ap.add_argument("--only", nargs="*", default=None, help="framework names to run (default: all)")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(OUT)
    jobs = []
    if args.frameworks:
        jobs += [make_snntorch, make_snntorch_biased, make_norse, make_sinabs, make_sinabs_iaf, make_spikingjelly,
                 make_rockpool]
    if args.only is not None:
        jobs = [j for j in jobs if j.__name__[len("make_"):].split("_")[0] in args.only]
    if args.handwritten:
        jobs.append(make_handwritten)
    if not jobs and not args.fast:
        ap.error("give --frameworks, --fast and/or --handwritten")
    failed = _run_jobs(jobs, manifest)
    if jobs:
        _save_manifest(OUT, manifest)
    if args.fast:
        FAST.mkdir(parents=True, exist_ok=True)
        fast_manifest = _load_manifest(FAST)
        failed += _run_jobs(FAST_JOBS, fast_manifest)
        _save_manifest(FAST, fast_manifest)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
