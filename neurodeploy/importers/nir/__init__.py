"""NIR graphs (``.nir``, HDF5) → Network, and Network → NIR (:mod:`.export`).

Supported graphs: ``Input → Affine/Linear → LIF / CubaLIF / LI / IF / I`` layers, any number of them, recurrent
connections included (a weight node from a layer back to itself or to an earlier layer), nested
``NIRGraph`` subgraphs flattened (their Input/Output nodes become pass-throughs). ``nir.read`` returns
nodes in alphabetical order, so the structure comes from the edges only: each neuron node becomes a
population (in breadth-first order from the Input), each weight node a projection.

The import runs in steps, one module each: :mod:`.read` (file → tree of dicts), :mod:`.settings`
(options), :mod:`.graph` (normalise: flatten subgraphs, find the Input, the layers and the connections),
:mod:`.sizes` and :mod:`.layers` (populations), :mod:`.projections` (weights, outputs), :mod:`.bias_source`
(negative constant drives), :mod:`.assemble` (the assumptions in words, the network validated) and
:mod:`.calibrate` (weight scales from the DPI model). :mod:`.fidelity` compares an import with the framework's
own simulation (``neurodeploy validate net.nir --compare reference.npz``).

Units. NIR has no dt and no units, and the frameworks that write it disagree. The import works in
NIR's own continuous-time semantics,

    LIF:      tau_mem dv/dt = (v_leak - v) + r I,                      spike when v > v_threshold
    CubaLIF:  tau_syn dI/dt = -I + w_in S,   tau_mem dv/dt = (v_leak - v) + r I

with an input spike a pulse of height 1 lasting one step dt. A spike through weight W then raises v by
``r * w_in * W * dt / tau_mem`` in total (ignoring the leak during the rise), and the network's unitless weight
is that rise as a fraction of the distance from reset to threshold::

    w = W * r * w_in * dt / tau_mem / (v_threshold - v_reset)          (per target neuron)

(so a weight of 1 takes a neuron from reset to threshold); the weight current is |w| * weight_scale, and
``weight_scale`` is calibrated on the DPI model (:mod:`.calibrate`): a unit weight moves the target DPI
membrane by one effective threshold (0.8·I_spkthr) per event, in the same integrated response as the LIF
(the same waveform when the synaptic time constants agree). The conventions (``convention=...``) say how
each framework's numbers map onto that:

============ ================================================ ===================================================
convention   tau in the file                                   r, w_in, reset
============ ================================================ ===================================================
nir          seconds (``tau_unit`` = s, ms, us or steps)       as NIR defines them; reset to v_reset
snntorch     s, computed with a fixed export dt of 1e-4 s:     r = tau_mem/1e-4 and w_in = tau_syn/1e-4 encode
             tau = 1e-4/(1-beta); real tau = tau * dt/1e-4     the per-step update (v += W x); snnTorch's default
                                                               reset subtracts the threshold
norse        dt_export * tau (Norse <= 1.1 writes              r = 1; LIFCell's current jumps by W per spike, i.e.
             ``dt / tau_inv``): real tau = tau / dt_export     w_in = tau_syn / dt in NIR terms; reset to v_reset
             (export_dt, default 1e-3)
sinabs       time steps: real tau = tau * dt                   r = 1 (LIF, norm_input=True: v += (1-alpha) W x);
                                                               ExpLeak (LI, v = alpha v + W x, written r = 1):
                                                               r = 1/(1-alpha); IAF (IF): v += W x; sinabs's
                                                               default reset subtracts the threshold
spikingjelly s, computed with export dt 1e-4 (tau_steps*1e-4)  r = 1 (decay_input) or tau_steps; v_leak = v_reset
rockpool     seconds                                           LIFTorch (CubaLIF): i += W x, i *= beta, v = alpha
                                                               v + i: w_in = beta/(1-beta)*tau_mem/(r dt), a rise
                                                               of W beta/(1-beta); LIFNeuronTorch (LIF): v += W x,
                                                               r = tau/dt (the file's r = tau alpha/dt gives alpha
                                                               W); Rockpool's LIF subtracts the threshold
neurodeploy  files written by ``neurodeploy export``: weights are the network's unitless weights, exactly;
             the currents are restored from the node metadata
============ ================================================ ===================================================

Neuron currents: tau_mem → Itau_mem (the simulator's membrane leaks at L/τ with L = 1 + I_0/Itau_mem, SHUNT
resting at I_0: Itau_mem = U_T·C/(κ·τ) − I_0 gives the effective τ), tau_syn → Itau_ampa and Itau_gaba (the two
dendrites of synapse "auto"), each through the device profile, τ = U_T·C/(κ·I). LIF/LI have no synaptic
filter: their synapses keep the profile's default time constants unless ``tau_syn`` is given (the calibration
keeps the integrated response). The DPI neuron resets to rest, whatever v_reset and reset mechanism the
framework had: the difference is recorded. A constant drive — v_leak above v_reset, or an Affine bias b (v
settles at v_leak + r·w_in·b) — becomes the DC input ``Idc = L · 0.8 · f · Ispkthr · Itau_mem / Igain_mem``,
f = (v_leak − v_reset + r·w_in·b)/(v_threshold − v_reset), the DPI's steady state reaching the same fraction of
its effective threshold. A drive below reset (f < 0) is inhibition from an always-on bias source
(:mod:`.bias_source`); IF and I nodes become LIF/LI with the longest τ the chip allows (with a warning). Node
types the chip cannot run are rejected, every one of them in one error.

Time scales (:mod:`.time_scale`): the import bounds each neuron's peak rate and compares it, and the layer's time
constants, with the chip's refractory period, pulse width and DPI time constants (rule ``time-scale``: one warning
per layer the chip cannot follow, with the ``time_scale`` that fits); ``time_scale`` K slows the whole network
down K× (:mod:`.settings`).

Options: ``dt`` (s; required unless the graph's metadata has ``dt``), ``time_scale`` (K ≥ 1: every time × K),
``convention`` (above; default "nir",
or "neurodeploy" for files that say they come from neurodeploy), ``tau_unit``, ``export_dt``, ``weight_scale``
(A per unit weight; default: calibrated per projection), ``synapse`` ("auto"), ``raw_weights`` (True: keep W as written, no
normalisation), ``name``, and neuron parameters overriding what the file gives, for every population
(``Ispkthr``, ``tau_syn``, ``Itau_mem``, ...).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import NeurodeployError, NetworkError
from .._common import check_options, file_sha256
from .bias_source import add_bias_source
from .assemble import apply_option_overrides, assemble
from .graph import normalise, structure
from .layers import convert_layers, longest_tau
from .projections import outputs, projections
from .read import check_tree, graph_to_tree, meta_json, read_file
from .settings import CONVENTIONS, OPTIONS, parse_settings
from .sizes import layer_sizes
from .time_scale import demand, warn as warn_time_scale

__all__ = ["load_nir", "import_tree", "CONVENTIONS", "OPTIONS"]


def load_nir(path, profile=None, **options) -> "Network":  # noqa: F821
    """Import a NIR graph (``.nir`` file, or a ``nir.NIRGraph`` object) as a Network; see the package doc."""
    if profile is None:
        from ...device.profile import load_profile

        profile = load_profile("dynapse2")
    if isinstance(path, (str, Path)):
        path = Path(path)
        src = str(path)
        check_options(src, options, OPTIONS)
        tree, reader = read_file(path)
        source_info = {"source": path.name, "sha256": file_sha256(path)}
        default_name = path.stem
    else:  # an in-memory nir graph
        src = "<nir graph>"
        check_options(src, options, OPTIONS)
        tree, reader = graph_to_tree(path), "in-memory nir graph"
        source_info = {"source": src}
        default_name = "network"
    return import_tree(tree, src, profile, options, {**source_info, "reader": reader}, default_name)


def import_tree(tree: dict, src: str, profile, options: dict, info: dict, default_name: str):
    """read → normalise → layers → projections → assumptions, for a graph already read into a tree of dicts.

    The tree's types are checked first (:func:`.read.check_tree`); an unexpected exception while interpreting
    it (a damaged file the checks do not foresee) still ends as one :class:`NetworkError` naming the file."""
    check_tree(tree, src)
    try:
        return _import_tree(tree, src, profile, options, info, default_name)
    except NeurodeployError:
        raise
    except Exception as e:      # last resort: never an internal error for a file
        what = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        raise NetworkError(f"{src}: cannot interpret the NIR graph ({what}); the file is "
                        f"damaged or holds a form the importer does not know — check it with nir.read") from None


def _import_tree(tree: dict, src: str, profile, options: dict, info: dict, default_name: str):
    assumptions: list[str] = []
    notes: set[str] = set()        # per-layer notes, sorted into the assumptions at the end
    graph_meta = tree.get("metadata") if isinstance(tree.get("metadata"), dict) else {}
    nd_graph = meta_json(tree)
    nodes, edges, delays = normalise(tree, src)
    s = parse_settings(src, options, graph_meta, nd_graph is not None, assumptions)
    s.tau_max = longest_tau(profile)
    rank = (nd_graph or {}).get("populations") if s.neurodeploy else None
    g = structure(nodes, edges, src, rank if isinstance(rank, list) else None, not s.neurodeploy, assumptions, delays)
    sizes = layer_sizes(g, src, s.neurodeploy, assumptions)
    layers = convert_layers(g, sizes, s, profile, notes)
    apply_option_overrides(layers, s, assumptions)
    projs = projections(g, sizes, layers, s, assumptions) + add_bias_source(g, layers, s, assumptions)
    outs = outputs(g, layers, assumptions)
    if not s.neurodeploy:
        info = {**info, "timing": demand(projs, {layers.pop_of[n]: t for n, t in layers.timing.items()}, s.dt,
                                         s.source_dt, s.time_scale)}
    network = assemble(s, g.n_inputs, layers, projs, outs, nd_graph, default_name, info, assumptions, notes, profile)
    warn_time_scale(network, profile, src)
    return network
