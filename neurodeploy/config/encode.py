"""Encode a placed and routed network as a HardwareConfig (exactly what the chips hold).

Every chip of a config made here also carries the profile's chip-level defaults (``chip_parameters``:
lab-practice start-up codes, not calibrated values), so a board flashed with it starts from them.
"""

from __future__ import annotations

from .. import __version__
from .config_json import (CORE_PAIRS, SADC_GROUPS, ChipConfig, Code, CoreConfig, Destination, HardwareConfig, InputChannel,
                    InputDestination, NeuronConfig, OutputNeuron, PlacementRecord, ProfileRef)


def chip_parameter_defaults(profile) -> dict:
    """The ChipConfig fields holding the profile's chip-level defaults, in every map of their group
    (``global_parameters``; ``shared_parameters`` of both pairs of cores; ``sadc_group_parameters`` of
    both pairs, all 3 sADC groups). A group without defaults is left out (the chip keeps samna's values).
    Fresh objects each call."""
    glob, shared, sadc = (profile.chip_parameters.defaults(g) for g in ("global", "shared", "sadc_group"))

    def codes(defaults):
        return {n: Code.model_construct(coarse=c, fine=f) for n, (c, f) in defaults.items()}

    out = {}
    if glob:
        out["global_parameters"] = codes(glob)
    if shared:
        out["shared_parameters"] = {pair: codes(shared) for pair in CORE_PAIRS}
    if sadc:
        out["sadc_group_parameters"] = {pair: [codes(sadc) for _ in range(SADC_GROUPS)] for pair in CORE_PAIRS}
    return out


def encode(qn, placement, routing, profile, *, metadata: dict | None = None) -> HardwareConfig:
    geo = profile.geometry
    N = qn.n_neurons
    flags = {k: set(getattr(qn, k)) for k in ("latch_so_dc", "latch_so_adaptation", "latch_denm_nmda")}
    site_params: dict[tuple[int, int], dict[str, Code]] = {}
    for c, site in zip(qn.cores, placement.core_site):
        site_params[site] = c.parameters
    by_site: dict[tuple[int, int], list[int]] = {}
    for n in range(N):
        by_site.setdefault((int(placement.chip[n]), int(placement.core[n])), []).append(n)
    chips = []
    for h in range(placement.n_chips):
        cores = []
        for k in range(geo.cores_per_chip):
            members = sorted(by_site.get((h, k), []), key=lambda n: int(placement.neuron[n]))
            neurons = []
            for n in members:
                neurons.append(NeuronConfig.model_construct(
                    neuron=int(placement.neuron[n]),
                    **{latch: n in flags[latch] for latch in flags},
                    synapses=[tuple(e) for e in routing.cam.get(n, [])],
                    synapse_flags=dict(routing.flags.get(n, {})),
                    destinations=[Destination.model_construct(**d) for d in routing.sram.get(n, [])],
                ))
            cores.append(CoreConfig.model_construct(core=k, parameters=dict(site_params.get((h, k), {})), neurons=neurons))
        chips.append(ChipConfig.model_construct(chip=h, position=placement.positions[h], **chip_parameter_defaults(profile),
                                                cores=cores))
    inputs = [InputChannel(channel=i, destinations=[InputDestination(**d) for d in routing.inputs.get(i, [])])
              for i in range(qn.n_inputs)]
    outputs = [OutputNeuron(name=qn.neuron_name(n), chip=int(placement.chip[n]), core=int(placement.core[n]),
                            neuron=int(placement.neuron[n])) for n in qn.outputs]
    place_rec = []
    off = 0
    for p in qn.populations:
        sl = slice(off, off + p.size)
        place_rec.append(PlacementRecord(population=p.name, chip=placement.chip[sl].tolist(),
                                         core=placement.core[sl].tolist(), neuron=placement.neuron[sl].tolist()))
        off += p.size
    cfg = HardwareConfig.model_construct(
        format="neurodeploy.config/1", profile=ProfileRef(name=profile.name, sha256=profile.sha256),
        neurodeploy_version=__version__, source_model_sha256=qn.source_model_sha256, seed=qn.seed,
        chips=chips, inputs=inputs, outputs=outputs, placement=place_rec, metadata=metadata or {})
    # full validation of what we built (every rule of the config model applies to our own output)
    return HardwareConfig.model_validate_json(cfg.dumps())
