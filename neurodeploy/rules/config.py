"""Design rules over a HardwareConfig: its own consistency (scope ``config``, checked whenever a config is
loaded) and its fit to the device profile it names (scope ``profile``, checked by ``validate``).

Each check returns ``(json path, message)`` pairs; the registry prefixes the rule:
``$.chips[0].cores[1].neurons[3].synapses: [fan-in] 65 CAM entries, the profile has 64 per neuron``.
"""

from __future__ import annotations

from ..basemodel import nonfinite_numbers
from ..device.chip_parameters import CHIP_PARAMETER_GROUPS, CHIP_PARAMETER_SAMNA_MAPS, CORE_PAIRS, SADC_GROUPS
from ..device.profile import FORMAT_GEOMETRY, HOST_CORE_MASK, HOST_X_HOP, reaches_host
from .registry import rule


def _cores(cfg):
    for ci, chip in enumerate(cfg.chips):
        for ki, core in enumerate(chip.cores):
            yield f"$.chips[{ci}].cores[{ki}]", chip, core


def _neurons(cfg):
    for cb, chip, core in _cores(cfg):
        for ni, n in enumerate(core.neurons):
            yield f"{cb}.neurons[{ni}]", chip, core, n


def _configured(cfg) -> set[tuple[int, int, int]]:
    return {(chip.chip, core.core, n.neuron) for _, chip, core, n in _neurons(cfg)}


def is_host_route(dst) -> bool:
    """A destination that leaves the chip grid to the host/FPGA: x_hop = HOST_X_HOP with at least one core
    bit set (a destination with an empty core mask is not sent; see :data:`neurodeploy.device.profile.HOST_CORE_MASK`)."""
    return reaches_host(dst.x_hop, dst.core)


# ---- scope config: the file's own consistency -----------------------------------------------------------
def _repeats(keys) -> list[tuple[int, int]]:
    """(index, index of its first occurrence) of every key already seen earlier in ``keys``."""
    first: dict = {}
    out = []
    for i, k in enumerate(keys):
        if k in first:
            out.append((i, first[k]))
        else:
            first[k] = i
    return out


@rule("unique-chip", "config", "each chip id is listed once")
def unique_chip(cfg):
    return [(f"$.chips[{i}].chip", f"chip {cfg.chips[i].chip} listed twice (also $.chips[{j}])")
            for i, j in _repeats([c.chip for c in cfg.chips])]


@rule("unique-position", "config", "no two chips share a mesh position")
def unique_position(cfg):
    return [(f"$.chips[{i}].position", f"position {list(cfg.chips[i].position)} already used by $.chips[{j}]")
            for i, j in _repeats([tuple(c.position) for c in cfg.chips])]


@rule("unique-core", "config", "each core of a chip is listed once")
def unique_core(cfg):
    return [(f"$.chips[{ci}].cores[{k}].core", f"core {chip.cores[k].core} listed twice on chip {chip.chip}")
            for ci, chip in enumerate(cfg.chips) for k, _ in _repeats([c.core for c in chip.cores])]


@rule("unique-neuron", "config", "each neuron of a core is listed once")
def unique_neuron(cfg):
    return [(f"{cb}.neurons[{k}].neuron", f"neuron {core.neurons[k].neuron} listed twice")
            for cb, _chip, core in _cores(cfg) for k, _ in _repeats([n.neuron for n in core.neurons])]


@rule("synapse-flags", "config", "CAM-entry flags name entries the neuron has")
def synapse_flags(cfg):
    out = []
    for nb, _chip, _core, n in _neurons(cfg):
        beyond = [k for k in n.synapse_flags if not 0 <= k < len(n.synapses)]
        if beyond:
            out.append((f"{nb}.synapse_flags", f"entry {beyond[0]} flagged, but the neuron has {len(n.synapses)} CAM "
                        f"entries (indices 0..{len(n.synapses) - 1})"))
    return out


@rule("hop-target", "config", "every SRAM destination's hop reaches a configured chip (or is the host route)")
def hop_target(cfg):
    positions = {tuple(chip.position) for chip in cfg.chips}
    out = []
    for nb, chip, _core, n in _neurons(cfg):
        for di, dst in enumerate(n.destinations):
            tx, ty = chip.position[0] + dst.x_hop, chip.position[1] + dst.y_hop
            if not any(dst.core):
                continue                                    # not sent at all (rule empty-destination)
            if (dst.x_hop, dst.y_hop) != (0, 0) and (tx, ty) not in positions and not is_host_route(dst):
                out.append((f"{nb}.destinations[{di}]", f"hop ({dst.x_hop}, {dst.y_hop}) from chip {chip.chip} at "
                            f"{list(chip.position)} reaches {[tx, ty]}, where no chip is configured"))
    return out


@rule("empty-destination", "config", "every SRAM destination sets a core bit (the router does not send an empty mask)")
def empty_destination(cfg):
    out = []
    for nb, _chip, _core, n in _neurons(cfg):
        for di, dst in enumerate(n.destinations):
            if not any(dst.core):
                what = ("a host route needs core " + str([bool(b) for b in HOST_CORE_MASK]).lower()
                        if dst.x_hop == HOST_X_HOP else "set the bits of the cores it should reach, or remove it")
                out.append((f"{nb}.destinations[{di}].core", f"empty core mask: the chip does not send this destination "
                            f"(tag {dst.tag}, hop ({dst.x_hop}, {dst.y_hop})); {what} — configs mapped before host routes "
                            f"carried all four core bits must be re-mapped"))
    return out


@rule("input-channels", "config", "input channels are listed 0, 1, 2, ... in order")
def input_channels(cfg):
    return [(f"$.inputs[{i}].channel", f"expected channel {i}: input channels are listed 0, 1, 2, ... in order")
            for i, ch in enumerate(cfg.inputs) if ch.channel != i]


@rule("input-chip", "config", "input channels reach configured chips only")
def input_chip(cfg):
    chips = {chip.chip for chip in cfg.chips}
    return [(f"$.inputs[{i}].destinations[{j}].chip", f"chip {dst.chip} is not in $.chips")
            for i, ch in enumerate(cfg.inputs) for j, dst in enumerate(ch.destinations) if dst.chip not in chips]


@rule("output-target", "config", "every model output is a configured neuron")
def output_target(cfg):
    configured = _configured(cfg)
    return [(f"$.outputs[{i}]", f"chip {o.chip} core {o.core} neuron {o.neuron} is not a configured neuron")
            for i, o in enumerate(cfg.outputs) if (o.chip, o.core, o.neuron) not in configured]


@rule("finite", "config", "numbers in metadata are finite (no NaN, no infinity)")
def finite(cfg):
    return [(where, f"numbers must be finite, got {v}") for where, v in nonfinite_numbers(cfg.metadata, "$.metadata")]


@rule("placement", "config", "every placed model neuron is a configured neuron; chip/core/neuron lists agree in length")
def placement(cfg):
    configured = _configured(cfg) if cfg.placement else set()
    out = []
    for i, p in enumerate(cfg.placement):
        if not (len(p.chip) == len(p.core) == len(p.neuron)):
            out.append((f"$.placement[{i}]", "'chip', 'core' and 'neuron' lists differ in length"))
            continue
        for j, key in enumerate(zip(p.chip, p.core, p.neuron)):
            if key not in configured:
                out.append((f"$.placement[{i}].neuron[{j}]", f"{p.population}[{j}] placed on chip {key[0]} core "
                            f"{key[1]} neuron {key[2]}, which is not configured"))
                break
    return out


# ---- scope profile: the config against the device profile it names --------------------------------------
@rule("profile-hash", "profile", "the profile is the one the config was made with (a changed sha256 is a warning)",
      warning=True)
def profile_hash(cfg, profile):
    if cfg.profile.sha256 and profile.sha256 and cfg.profile.sha256 != profile.sha256:
        return [("$.profile.sha256", f"the config was made with profile sha256 {cfg.profile.sha256[:12]}..., the profile "
                 f"'{cfg.profile.name}' here has {profile.sha256[:12]}... (profile changed since; regenerate the config to be sure)")]
    return []


@rule("max-chips", "profile", "at most the board's chips")
def max_chips(cfg, profile):
    m = profile.geometry.max_chips
    return [("$.chips", f"{len(cfg.chips)} chips, the profile allows at most {m}")] if len(cfg.chips) > m else []


@rule("cores-per-chip", "profile", "at most the profile's cores per chip")
def cores_per_chip(cfg, profile):
    m = profile.geometry.cores_per_chip
    return [(f"$.chips[{ci}].cores", f"{len(chip.cores)} cores, the profile has {m}")
            for ci, chip in enumerate(cfg.chips) if len(chip.cores) > m]


@rule("core-range", "profile", "core ids within the profile's cores")
def core_range(cfg, profile):
    m = profile.geometry.cores_per_chip
    return [(f"{cb}.core", f"core {core.core}, the profile has cores 0..{m - 1}") for cb, _, core in _cores(cfg) if core.core >= m]


@rule("parameter-name", "profile", "every parameter name exists in the profile")
def parameter_name(cfg, profile):
    chip_level = profile.chip_parameters.group_of        # reported by rule chip-level-parameter
    return [(f"{cb}.parameters.{p}", f"unknown parameter for profile '{profile.name}' (see `neurodeploy profile show`)")
            for cb, _, core in _cores(cfg) for p in core.parameters if p not in profile.parameters and p not in chip_level]


def _chip_maps(cfg):
    for ci, chip in enumerate(cfg.chips):
        for sub, group, pair, _sadc, codes in chip.parameter_maps():
            yield ci, f"$.chips[{ci}].{sub}", group, pair, codes


def _chip_map_paths(ci: int, group: str, pair: str | None) -> str:
    """Where a chip-level parameter of ``group`` goes in chip ``ci`` (for the core pair ``pair``, if known)."""
    base = f"$.chips[{ci}].{CHIP_PARAMETER_GROUPS[group]}"
    if group == "global":
        return base
    pairs = [pair] if pair is not None else list(CORE_PAIRS)
    if group == "shared":
        return " or ".join(f"{base}.{p}" for p in pairs)
    return " or ".join(f"{base}.{p}[i] (sADC group i = 0..{SADC_GROUPS - 1})" for p in pairs)


@rule("chip-level-parameter", "profile", "a core lists no chip-level parameter (samna holds those per chip)")
def chip_level_parameter(cfg, profile):
    out = []
    for ci, chip in enumerate(cfg.chips):
        for ki, core in enumerate(chip.cores):
            pair = CORE_PAIRS[core.core // 2] if core.core < 2 * len(CORE_PAIRS) else None
            for p in core.parameters:
                group = profile.chip_parameters.group_of.get(p)
                if group is not None:
                    out.append((f"$.chips[{ci}].cores[{ki}].parameters.{p}",
                                f"{p} is a chip-level {group} parameter of profile '{profile.name}', not a core parameter "
                                f"(samna's chips[h].{CHIP_PARAMETER_SAMNA_MAPS[group]}): move it to "
                                f"{_chip_map_paths(ci, group, pair)}"))
    return out


@rule("chip-parameter-name", "profile", "every chip-level parameter name is in the profile's group of that map")
def chip_parameter_name(cfg, profile):
    groups = profile.chip_parameters.groups()
    out = []
    for ci, where, group, pair, codes in _chip_maps(cfg):
        for p in codes:
            if p in groups[group]:
                continue
            other = profile.chip_parameters.group_of.get(p)
            if other is not None:
                fix = f"it is a {other} parameter: move it to {_chip_map_paths(ci, other, pair if other != 'global' else None)}"
            elif p in profile.parameters:
                fix = f"it is a core parameter: move it to $.chips[{ci}].cores[k].parameters"
            else:
                fix = (f"unknown to profile '{profile.name}', whose chip_parameters.{group} are "
                       f"{', '.join(groups[group]) or '(none)'}: correct the name or remove it")
            out.append((f"{where}.{p}", f"{p} is not a {group} parameter ({CHIP_PARAMETER_SAMNA_MAPS[group]}): {fix}"))
    return out


@rule("code-range", "profile", "every (coarse, fine) code within the bias generator's levels")
def code_range(cfg, profile):
    bg = profile.bias_generator

    def bad(c) -> bool:
        return c.coarse >= bg.coarse_levels or c.fine >= bg.fine_levels

    def msg(c) -> str:
        return (f"({c.coarse}, {c.fine}) outside coarse 0..{bg.coarse_levels - 1}, fine 0..{bg.fine_levels - 1}: "
                f"set a code within them")

    out = [(f"{cb}.parameters.{p}", msg(c)) for cb, _, core in _cores(cfg) for p, c in core.parameters.items()
           if p in profile.parameters and bad(c)]
    out += [(f"{where}.{p}", msg(c)) for _, where, group, _, codes in _chip_maps(cfg) for p, c in codes.items()
            if p in profile.chip_parameters.groups()[group] and bad(c)]
    return out


@rule("neurons-per-core", "profile", "at most the profile's neurons per core")
def neurons_per_core(cfg, profile):
    m = profile.geometry.neurons_per_core
    return [(f"{cb}.neurons", f"{len(core.neurons)} neurons, the profile has {m}") for cb, _, core in _cores(cfg) if len(core.neurons) > m]


@rule("neuron-range", "profile", "neuron ids within the profile's neurons per core")
def neuron_range(cfg, profile):
    m = profile.geometry.neurons_per_core
    return [(f"{nb}.neuron", f"neuron {n.neuron}, the profile has 0..{m - 1}") for nb, _, _, n in _neurons(cfg) if n.neuron >= m]


@rule("fan-in", "profile", "at most the profile's CAM entries per neuron")
def cam_entries(cfg, profile):
    m = profile.geometry.cam_entries_per_neuron
    return [(f"{nb}.synapses", f"{len(n.synapses)} CAM entries, the profile has {m} per neuron")
            for nb, _, _, n in _neurons(cfg) if len(n.synapses) > m]


@rule("fan-out", "profile", "at most the profile's SRAM entries per neuron")
def sram_entries(cfg, profile):
    m = profile.geometry.sram_entries_per_neuron
    return [(f"{nb}.destinations", f"{len(n.destinations)} SRAM entries, the profile has {m} per neuron")
            for nb, _, _, n in _neurons(cfg) if len(n.destinations) > m]


@rule("tag-range", "profile", "tags within the profile's tag count")
def tag_range(cfg, profile):
    nt = profile.geometry.n_tags
    out = []
    if nt >= FORMAT_GEOMETRY.n_tags:     # the file format already bounds tags to this
        return out
    for nb, _, _, n in _neurons(cfg):
        for si, syn in enumerate(n.synapses):
            if syn[0] >= nt:
                out.append((f"{nb}.synapses[{si}][0]", f"tag {syn[0]}, the profile has 0..{nt - 1}"))
                break
        out += [(f"{nb}.destinations[{di}].tag", f"tag {d.tag}, the profile has 0..{nt - 1}")
                for di, d in enumerate(n.destinations) if d.tag >= nt]
    return out


@rule("hop-range", "profile", "hops within the profile's mesh range")
def hop_range(cfg, profile):
    mh = profile.geometry.max_hop
    if mh >= FORMAT_GEOMETRY.max_hop:    # the file format already bounds hops to this
        return []
    return [(f"{nb}.destinations[{di}]", f"hop ({d.x_hop}, {d.y_hop}), the profile allows ±{mh}")
            for nb, _, _, n in _neurons(cfg) for di, d in enumerate(n.destinations) if max(abs(d.x_hop), abs(d.y_hop)) > mh]
