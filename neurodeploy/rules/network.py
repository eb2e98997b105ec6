"""Design rules over a Network and the device profile, checked before anything is optimised.

Each check takes :class:`NetworkFacts` (the network, the profile, the map options and facts derived
from them once) and returns one message per violation, naming the neuron as ``population[index]``
and saying what to change. The message-building helpers are shared with the algorithms that
also guard their inputs (``quantize.grouping.assign_cores`` when called on its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..device.delays import max_delay, stage_grids
from ..device.parameter_sets import cores_needed, neuron_codes, out_of_range, parameter_groups, relevance
from ..device.synapses import Synapses, keep_largest, synapses_of
from .registry import rule


@dataclass
class NetworkFacts:
    """A network, a profile and the map options, with the facts the rules (and the quantizer) share."""

    network: object
    profile: object
    chips: int | None = None      # chips requested (None: the board's)
    prune: bool = False
    strict: bool = False
    spares: bool = True           # spare CAM entries may carry a second subset sum

    @property
    def n_chips(self) -> int:
        return self.chips or self.profile.geometry.max_chips

    @property
    def max_cores(self) -> int:
        geo = self.profile.geometry
        return min(self.n_chips, geo.max_chips) * geo.cores_per_chip

    @cached_property
    def synapses(self) -> Synapses:
        return synapses_of(self.network)

    @cached_property
    def fan_in(self) -> np.ndarray:
        """[N] CAM entries each neuron needs at least: one per synapse (a repeated source counts again)."""
        return np.bincount(self.synapses.dst, minlength=self.network.n_neurons)

    @cached_property
    def kept_synapses(self) -> Synapses:
        """The synapses the quantizer keeps: with ``prune``, each neuron's 64 largest |w|."""
        if not self.prune:
            return self.synapses
        return self.synapses.take(keep_largest(self.synapses, self.profile.geometry.cam_entries_per_neuron))

    @cached_property
    def params(self) -> dict[str, np.ndarray]:
        return self.network.neuron_params(self.profile)

    def relevance(self, syn: Synapses | None = None) -> np.ndarray:
        s = self.kept_synapses if syn is None else syn
        return relevance(self.network, s.dendrites_in(self.network.n_neurons))


# ---- message builders (shared with the algorithms' own guards) ------------------------------------------
def fan_in_message(network, syn: Synapses, fan: np.ndarray, cam: int) -> str | None:
    over = np.flatnonzero(fan > cam)
    if over.size == 0:
        return None
    n = int(over[0])
    per_proj = np.bincount(syn.proj[syn.dst == n], minlength=len(network.projections))
    parts = ", ".join(f"projection {k} ({network.projections[k].source}→{network.projections[k].target}): {c}"
                      for k, c in enumerate(per_proj) if c)
    more = f" ({over.size - 1} more neurons also exceed it)" if over.size > 1 else ""
    return (f"neuron {network.neuron_name(n)} has {fan[n]} incoming synapses ({parts}) but a neuron has {cam} CAM entries"
            f"{more}; reduce its fan-in or pass --prune to keep the {cam} largest |w|")


def bias_range_messages(network, profile, params: dict[str, np.ndarray], rel: np.ndarray) -> list[str]:
    out = []
    for q, bad in out_of_range(profile, params, rel).items():
        b = int(bad[0])
        pname = profile.quantity_to_parameter[q]
        lo, hi = profile.bias.range(pname)
        out.append(f"neuron {network.neuron_name(b)}: {q} = {params[q][b]:.4g} A cannot be produced by "
                   f"{pname} (range {lo:.3g} .. {hi:.3g} A); change {q} of population "
                   f"{network.neuron_name(b).split('[')[0]!r} to a value inside the range")
    return out


def cores_message(n_neurons: int, max_cores: int, profile) -> str | None:
    cap = profile.geometry.neurons_per_core
    if n_neurons <= cap * max_cores:
        return None
    return (f"the network has {n_neurons} neurons but {max_cores} cores hold at most {cap * max_cores}; "
            f"use more chips (--chips, board maximum {profile.geometry.max_chips}) or a smaller network")


def shared_parameters_message(n_groups: int, need: int, max_cores: int) -> str | None:
    if need <= max_cores:
        return None
    return (f"the network's neurons have {n_groups} distinct parameter sets needing {need} cores, "
            f"but only {max_cores} cores are available; give populations shared parameter values, use more chips, "
            f"or drop --strict-parameters to cluster them (the error is reported)")


def convention_hint(network) -> str:
    """For a network imported from NIR with the convention ``nir`` (the default for files not written by
    neurodeploy): the likely cause of a current out of range — the file holds another framework's numbers — as
    a clause to append to the rule's message; "" for every other network."""
    from ..importers.nir.settings import CONVENTIONS

    imp = (getattr(network, "metadata", None) or {}).get("import") or {}
    if not isinstance(imp, dict) or imp.get("importer") != "nir" or imp.get("convention") != "nir":
        return ""
    others = [c for c in CONVENTIONS if c not in ("nir", "neurodeploy")]
    return (f"; {imp.get('source') or 'the NIR file'} was imported with convention 'nir': if it was written by "
            f"snnTorch, Norse, Sinabs, SpikingJelly or Rockpool, try -O convention={'|'.join(others)} (that "
            f"framework's units and weight normalisation)")


# ---- the rules ------------------------------------------------------------------------------------------
@rule("chips", "network", "the chips asked for (--chips) exist on the board the profile describes")
def chips(f: NetworkFacts) -> list[str]:
    geo = f.profile.geometry
    if f.n_chips <= geo.max_chips:
        return []
    return [f"--chips {f.n_chips} exceeds the board's {geo.max_chips} chips (profile {f.profile.name}); "
            f"use at most {geo.max_chips} or a profile with a larger max_chips"]


@rule("fan-in", "network", "a neuron needs at most 64 CAM entries (one per incoming synapse; a repeated source counts "
      "again), unless --prune")
def fan_in(f: NetworkFacts) -> list[str]:
    if f.prune:
        return []
    m = fan_in_message(f.network, f.synapses, f.fan_in, f.profile.geometry.cam_entries_per_neuron)
    return [m] if m else []


@rule("weight-range", "network", "every synapse's current |w|·weight_scale is reachable by one CAM entry (the sum of "
      "the core's four base weights at their largest DAC current), or two with spare entries")
def weight_range(f: NetworkFacts) -> list[str]:
    w_max = float(np.max(f.profile.bias.all_codes(f.profile.quantity_to_parameter["Iw_0"])))
    syn, network = f.kept_synapses, f.network
    reach = w_max * (8.0 if f.spares else 4.0)
    bad = np.flatnonzero(~np.isfinite(syn.target) | (syn.target > reach))
    if bad.size == 0:
        return []
    i = int(bad[np.argmax(np.where(np.isfinite(syn.target[bad]), syn.target[bad], np.inf))])
    pr = network.projections[int(syn.proj[i])]
    src = f"input {int(syn.src[i])}" if syn.src[i] < network.n_inputs else network.neuron_name(int(syn.src[i]) - network.n_inputs)
    return [f"projection {int(syn.proj[i])} ({pr.source}→{pr.target}), synapse {src} → "
            f"{network.neuron_name(int(syn.dst[i]))}: weight current {syn.target[i]:.3g} A exceeds the {reach:.3g} A one "
            f"{'pair of CAM entries' if f.spares else 'CAM entry'} can carry (4 base weights of at most {w_max:.3g} A); "
            f"{bad.size} synapse(s) affected — lower |w| or weight_scale{convention_hint(network)}"]


@rule("bias-range", "network", "every current that matters to a neuron is within its bias generator's range")
def bias_range(f: NetworkFacts) -> list[str]:
    hint = convention_hint(f.network)
    return [m + hint for m in bias_range_messages(f.network, f.profile, f.params, f.relevance())]


@rule("cores", "network", "the neurons fit the cores of the chips available (256 per core)")
def cores(f: NetworkFacts) -> list[str]:
    m = cores_message(f.network.n_neurons, f.max_cores, f.profile)
    return [m] if m else []


@rule("shared-parameters", "network", "with --strict-parameters, neurons with different bias codes fit on distinct "
      "cores (neurons on one core share every bias)")
def shared_parameters(f: NetworkFacts) -> list[str]:
    if not f.strict or cores(f) or bias_range(f):
        return []
    rel = f.relevance()
    groups = parameter_groups(neuron_codes(f.network, f.profile, f.params, rel)) if f.network.n_neurons else []
    m = shared_parameters_message(len(groups), cores_needed(groups, f.profile.geometry.neurons_per_core), f.max_cores)
    return [m] if m else []


@rule("delays", "network", "every synaptic delay is one the chip's delay stages can produce: at most t₀ + t₁ + t₂ "
      "with every SYPD_DLYi_P at its longest delay (uncalibrated model), on a profile that models the stages")
def delays(f: NetworkFacts) -> list[str]:
    syn, network, prof = f.kept_synapses, f.network, f.profile
    if syn.delay is None or not np.any(syn.delay > 0):
        return []
    if not prof.models_delays:
        return [f"the network has synaptic delays but profile {prof.name} models no delay stages (Idly_0..Idly_2, "
                f"SYPD_DLY0..2_P); use a profile that does, or remove the projections' 'delay' to deploy without delays"]
    d_max = max_delay(stage_grids(prof))
    out = []
    for k, pr in enumerate(network.projections):
        bad = np.flatnonzero((syn.proj == k) & (syn.delay > d_max))
        if bad.size == 0:
            continue
        i = int(bad[np.argmax(syn.delay[bad])])
        src = f"input {int(syn.src[i])}" if syn.src[i] < network.n_inputs else network.neuron_name(int(syn.src[i]) - network.n_inputs)
        out.append(f"projection {k} ({pr.source}→{pr.target}), synapse {src} → {network.neuron_name(int(syn.dst[i]))}: "
                   f"delay {syn.delay[i] * 1e3:.4g} ms exceeds the {d_max * 1e3:.4g} ms the chip's delay stages can "
                   f"produce (t₀ + t₁ + t₂, every SYPD_DLYi_P at its longest; uncalibrated model of {prof.name}); "
                   f"{bad.size} synapse(s) affected — shorten the projection's 'delay' to at most {d_max * 1e3:.4g} ms")
    return out


__all__ = ["NetworkFacts", "fan_in_message", "bias_range_messages", "cores_message",
           "shared_parameters_message", "convention_hint"]
