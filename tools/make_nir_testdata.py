"""Regenerate the NIR test files in tests/data/nir/ (small networks written by real frameworks and by nir).

Two kinds of files:

* **framework files** (``snntorch_*.nir``, ``norse_*.nir``, ``sinabs_*.nir``, ``spikingjelly_*.nir``,
  ``rockpool_*.nir``): exported by each framework's own NIR exporter. These need torch and the
  frameworks, which neurodeploy does NOT depend on; run this script in a separate venv::

      python3.11 -m venv /tmp/fwvenv
      /tmp/fwvenv/bin/pip install torch==2.13.0 snntorch norse sinabs spikingjelly rockpool
      # sinabs and rockpool pin nir<=1.0.4; snnTorch 1.0 and SpikingJelly 2.0 need nir>=1.0.7:
      /tmp/fwvenv/bin/python tools/make_nir_testdata.py --frameworks --only norse sinabs rockpool
      /tmp/fwvenv/bin/pip install "nir>=1.0.8" "nirtorch>=2.6,<2.7"
      /tmp/fwvenv/bin/python tools/make_nir_testdata.py --frameworks --only snntorch spikingjelly

  A framework that is not installed is skipped (its committed file stays as it is).
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
N_IN, N_HID, N_OUT = 6, 4, 2


def _weights(seed: int):
    rng = np.random.default_rng(seed)
    w1 = np.round(rng.normal(0, 0.5, (N_HID, N_IN)), 3).astype(np.float32)   # [out, in] as torch
    w_rec = np.round(rng.normal(0, 0.3, (N_HID, N_HID)), 3).astype(np.float32)
    w2 = np.round(rng.normal(0, 0.5, (N_OUT, N_HID)), 3).astype(np.float32)
    return w1, w_rec, w2


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


def make_snntorch(manifest):
    import nir
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    w1, w_rec, w2 = _weights(1)
    rleaky = snn.RLeaky(beta=0.9, linear_features=N_HID, all_to_all=True, init_hidden=True)
    with torch.no_grad():
        rleaky.recurrent.weight.copy_(torch.from_numpy(w_rec))
        rleaky.recurrent.bias.zero_()
    net = torch.nn.Sequential(_linear(torch, w1), rleaky, _linear(torch, w2),
                              snn.Synaptic(alpha=0.8, beta=0.95, init_hidden=True, output=True))
    try:
        g = export_to_nir(net, torch.zeros(1, N_IN))
    except ValueError:
        # snnTorch 1.0 + nir 1.0.8: the batch dimension of the sample leaks into the Input node's shape
        # ([1, 6]) and export_to_nir's own infer_types() rejects its graph. Write what the exporter built
        # before that check, as users of older versions get it: a file that fails nir's type check.
        import nirtorch
        from snntorch.export_nir import _extract_snntorch_module

        g = nirtorch.extract_nir_graph(net, _extract_snntorch_module, torch.zeros(1, N_IN), model_name="snntorch",
                                       ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])
    path = OUT / "snntorch_rleaky_synaptic.nir"
    try:
        nir.write(path, g)
    except TypeError:
        # nir 1.0.8 cannot gzip the 0-d threshold snnTorch's Synaptic exports; write it uncompressed
        nir.write(path, g, compression=None)
    manifest[path.name] = _manifest_entry(
        "snntorch", snn.__version__, {"RLeaky.beta": 0.9, "Synaptic.alpha": 0.8, "Synaptic.beta": 0.95, "export dt": 1e-4},
        {"w_in": w1.T, "w_rec": w_rec.T, "w_out": w2.T})


def make_norse(manifest):
    import nir
    import norse
    import norse.torch as nt
    import torch

    w1, _, w2 = _weights(2)
    net = nt.SequentialState(_linear(torch, w1),
                             nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(50.0))),
                             _linear(torch, w2),
                             nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.tensor(100.0), tau_syn_inv=torch.tensor(200.0))))
    g = nt.to_nir(net, torch.zeros(1, N_IN), dt=1e-3)
    path = OUT / "norse_lifbox_lif.nir"
    nir.write(path, g)
    manifest[path.name] = _manifest_entry(
        "norse", norse.__version__ if hasattr(norse, "__version__") else "1.1.0",
        {"LIFBox.tau_mem": 0.02, "LIF.tau_mem": 0.01, "LIF.tau_syn": 0.005, "export dt": 1e-3},
        {"w_in": w1.T, "w_out": w2.T})


def make_sinabs(manifest):
    import nir
    import sinabs
    import sinabs.layers as sl
    import torch

    w1, _, w2 = _weights(3)
    net = torch.nn.Sequential(_linear(torch, w1, bias=True), sl.LIF(tau_mem=20.0), _linear(torch, w2, bias=True),
                              sl.LIF(tau_mem=10.0))
    net(torch.zeros(1, 5, N_IN))  # initialise state shapes
    g = sinabs.to_nir(net, torch.zeros(1, N_IN))
    path = OUT / "sinabs_lif.nir"
    nir.write(path, g)
    manifest[path.name] = _manifest_entry(
        "sinabs", sinabs.__version__, {"LIF[0].tau_mem (steps)": 20.0, "LIF[1].tau_mem (steps)": 10.0},
        {"w_in": w1.T, "w_out": w2.T})


def make_spikingjelly(manifest):
    import nir
    import spikingjelly
    import torch
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

    w1, _, w2 = _weights(4)
    net = torch.nn.Sequential(_linear(torch, w1), neuron.LIFNode(tau=20.0), _linear(torch, w2),
                              neuron.LIFNode(tau=10.0, decay_input=False))
    g = export_to_nir(net, torch.zeros(1, N_IN), dt=1e-4)
    path = OUT / "spikingjelly_lif.nir"
    nir.write(path, g)
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

    w1, _, w2 = _weights(5)
    net = Sequential(LinearTorch((N_IN, N_HID), weight=torch.from_numpy(w1.T.copy()), has_bias=False),
                     LIFTorch(N_HID, tau_mem=0.02, tau_syn=0.01, dt=1e-3),
                     LinearTorch((N_HID, N_OUT), weight=torch.from_numpy(w2.T.copy()), has_bias=False),
                     LIFTorch(N_OUT, tau_mem=0.02, tau_syn=0.005, dt=1e-3))
    g = to_nir(net, torch.zeros(1, 1, N_IN))
    path = OUT / "rockpool_lif.nir"
    nir.write(path, g)
    manifest[path.name] = _manifest_entry(
        "rockpool", rockpool.__version__, {"tau_mem": 0.02, "tau_syn": [0.01, 0.005], "dt": 1e-3},
        {"w_in": w1.T, "w_out": w2.T})


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", action="store_true", help="write the framework files (needs torch + frameworks)")
    ap.add_argument("--handwritten", action="store_true", help="write the hand-written files with the installed nir")
    ap.add_argument("--only", nargs="*", default=None, help="framework names to run (default: all)")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    mpath = OUT / "MANIFEST.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    jobs = []
    if args.frameworks:
        jobs += [make_snntorch, make_norse, make_sinabs, make_spikingjelly, make_rockpool]
    if args.only is not None:
        jobs = [j for j in jobs if j.__name__[len("make_"):] in args.only]
    if args.handwritten:
        jobs.append(make_handwritten)
    if not jobs:
        ap.error("give --frameworks and/or --handwritten")
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
    mpath.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
