"""Fidelity of an import: the imported network on the DPI model against the framework's own simulation.

A reference ``.npz`` holds ``spikes`` (the input raster [T, n_inputs], event counts), ``dt`` (s, the source's step:
a network imported with ``time_scale`` K runs the same raster at K·dt, the reference time-scaled) and
``layer0``, ``layer1``, ... — the framework's spike counts [T, n] of its neuron layers, in the order of the
graph from the input, which is the order of the imported populations (``tools/make_nir_testdata.py`` writes
them). For each layer the report gives the per-neuron spike counts' Pearson r between the framework and the
DPI model (nominal chip, no mismatch) and the ratio of total counts (DPI / framework).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import NetworkError
from .time_scale import TimeScaleWarning


@dataclass
class LayerAgreement:
    population: str
    neurons: int
    reference: int          # the framework's spike count (all neurons, whole run)
    dpi: int                # the DPI model's
    r: float                # Pearson r of per-neuron counts (nan when either side is constant)

    @property
    def ratio(self) -> float:
        return self.dpi / self.reference if self.reference else (np.inf if self.dpi else 1.0)

    def line(self) -> str:
        r = "   n/a" if not np.isfinite(self.r) else f"{self.r:6.3f}"
        return (f"{self.population:<24} {self.neurons:>7} {self.reference:>9} {self.dpi:>9} {self.ratio:>7.2f} {r}")


HEADER = f"{'population':<24} {'neurons':>7} {'reference':>9} {'DPI':>9} {'ratio':>7} {'r':>6}"


def read_reference(path: str | Path, network) -> tuple[np.ndarray, list[np.ndarray]]:
    """The input raster and the reference layers' spike counts, checked against ``network``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:
        raise NetworkError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None
    for key in ("spikes", "dt"):
        if key not in arrays:
            raise NetworkError(f"{path}: no array {key!r} (has: {', '.join(arrays) or 'nothing'}); a reference holds "
                            f"spikes (input [T, n_inputs]), dt and layer0, layer1, ... (the framework's spikes)")
    x = np.asarray(arrays["spikes"], dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != network.n_inputs:
        raise NetworkError(f"{path}: $.spikes: expected shape [T, {network.n_inputs}], got {list(x.shape)}")
    k = time_scale_of(network)
    ref_dt = float(np.asarray(arrays["dt"]).reshape(()))
    if abs(ref_dt * k - network.dt) > 1e-12 * max(1.0, k):
        scaled = f" / time_scale {k:g} = {network.dt / k:g} s" if k != 1 else ""
        raise NetworkError(f"{path}: $.dt = {ref_dt:g} s differs from the network's dt = {network.dt:g} s{scaled}; import "
                        f"with -O dt={ref_dt:g} (the source's step; -O time_scale=K slows it down)")
    layers = []
    for k, pop in enumerate(network.populations):
        a = arrays.get(f"layer{k}")
        if a is None:
            break
        if a.shape != (x.shape[0], pop.size):
            raise NetworkError(f"{path}: $.layer{k}: expected shape [{x.shape[0]}, {pop.size}] (population {pop.name!r}), "
                            f"got {list(a.shape)}")
        layers.append(np.asarray(a, dtype=np.float64))
    if not layers:
        raise NetworkError(f"{path}: no array layer0 (the framework's spikes of the first neuron layer)")
    return x, layers


def time_scale_of(network) -> float:
    """The ``time_scale`` K a network was imported with (1 when none): its step is K × the source's."""
    imp = (getattr(network, "metadata", None) or {}).get("import") or {}
    timing = imp.get("timing") if isinstance(imp, dict) else None
    k = timing.get("time_scale") if isinstance(timing, dict) else None
    return float(k) if isinstance(k, (int, float)) and k > 0 else 1.0


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def compare(network, reference: str | Path, profile) -> list[LayerAgreement]:
    """Simulate ``network`` on the reference's input and compare per layer (see the module doc)."""
    from ...sim.network import build_from_network
    from ...sim.simulate import simulate

    x, layers = read_reference(reference, network)
    net, _ = build_from_network(network, profile)
    spikes = np.asarray(simulate(net, x.astype(np.float32))[0])
    offs = network.offsets()
    out = []
    for pop, ref in zip(network.populations, layers):
        dpi = spikes[:, offs[pop.name]:offs[pop.name] + pop.size].sum(axis=0)
        fw = ref.sum(axis=0)
        out.append(LayerAgreement(pop.name, pop.size, int(round(fw.sum())), int(round(dpi.sum())), _pearson(fw, dpi)))
    return out


def report(files, reference: str | Path, options: dict, profile_name: str = "dynapse2") -> list[str]:
    """``neurodeploy validate NET --compare REF``: the table for one imported network file, as lines."""
    from ...device.profile import load_profile
    from .. import load_network

    nets = [f for f in files if Path(f).suffix.lower() in (".nir", ".npz", ".npy", ".json")]
    if len(nets) != 1:
        raise NetworkError(f"--compare {reference}: give exactly one network file to compare (got {len(nets)})")
    profile = load_profile(profile_name)
    with warnings.catch_warnings():     # validate has listed them (rule time-scale)
        warnings.simplefilter("ignore", TimeScaleWarning)
        network = load_network(nets[0], profile=profile, **options)
    rows = compare(network, reference, profile)
    rs = [r.r for r in rows if np.isfinite(r.r)]
    k = time_scale_of(network)
    lines = [f"fidelity of {nets[0]} (DPI model, nominal chip" + (f", time_scale {k:g}: the reference's dt x {k:g}"
             if k != 1 else "") + f") against {reference}: per-neuron spike counts", HEADER]
    lines += [r.line() for r in rows]
    lines.append((f"min r {min(rs):.3f}" if rs else "min r n/a") + f", DPI/reference spike totals "
                 f"{min(r.ratio for r in rows):.2f} .. {max(r.ratio for r in rows):.2f}")
    return lines
