"""HardwareConfig ↔ samna's Dynapse2Configuration (the only module that touches samna's config types).

samna is imported lazily, only here and in :mod:`neurodeploy.backends.samna_board`, through
:func:`require_samna`; without it every hardware command stops with one line saying how to install
it. The attribute paths used are samna's documented Dynapse2 API::

    cfg.chips[h].cores[c].parameters["SOIF_LEAK_N"].coarse_value / .fine_value   (0..5 / 0..255)
    cfg.chips[h].global_parameters[name], .shared_parameters01[name] / .shared_parameters23[name],
    cfg.chips[h].sadc_group_parameters01[i][name] / .sadc_group_parameters23[i][name]  (i = 0..2)
        chip-level parameters, .coarse_value / .fine_value like a core's (public Dynap-SE2 lab scripts:
        haoran215/dynapse2 test_sadc.py, Maryada-27/dynapse_homeostasis experiments/helper.py)
    cfg.chips[h].cores[c].neurons[n].latch_so_dc, ... (the 14 latches of config.json)
    cfg.chips[h].cores[c].neurons[n].synapses      = [64 × Dynapse2Synapse]    (assigned as a whole list)
        Dynapse2Synapse: .tag, .dendrite (Dendrite.none/ampa/nmda/gaba/shunt), .weight [4 bool],
                         .precise_delay, .mismatched_delay, .stp
    cfg.chips[h].cores[c].neurons[n].destinations  = [4 × Dynapse2Destination] (assigned as a whole list)
        Dynapse2Destination: .tag, .core [4 bool], .x_hop, .y_hop

Mapping (config.json → samna): chip id h → ``chips[h]``; core → ``cores[core]``; a parameter the
core lists → its (coarse, fine), others keep samna's value; a chip's ``global_parameters`` →
``chips[h].global_parameters``, ``shared_parameters["01"|"23"]`` → ``shared_parameters01|23``,
``sadc_group_parameters["01"|"23"][i]`` → ``sadc_group_parameters01|23[i]`` (names it does not list
keep samna's value); CAM entry i ``[tag, dendrite, mask]`` →
``synapses[i]`` with ``weight[b] = mask[b] == "1"`` (bit b selects SYAM_Wb_P) and the entry's
``synapse_flags``; SRAM entry j → ``destinations[j]``; every other CAM/SRAM slot and every neuron
the config does not list is cleared (tag 0, dendrite none, no weight bits, no flags; no latch).
"""

from __future__ import annotations

from ..config.config_json import CAM_FLAGS, CORE_PAIRS, LATCHES, HardwareConfig
from ..errors import BackendError

#: Where SynSense publishes the real samna wheels (the PyPI package is an installer stub, see below).
SAMNA_INDEX = "https://gitlab.com/api/v4/projects/27423070/packages/pypi/simple"
#: The samna releases whose documented ``samna.dynapse2`` / ``samna.device`` API this adapter follows
#: (the same range as the ``[samna]`` extra in pyproject.toml).
SAMNA_VERSIONS = ">=0.30,<0.49"
INSTALL_HINT = (f"samna is not installed: install SynSense's samna with `pip install 'samna{SAMNA_VERSIONS}' "
                f"--index-url {SAMNA_INDEX}` on a machine that reaches that index (README: Running on a board)")
BLANK_SYNAPSE = (0, "none", "0000", ())
BLANK_DESTINATION = (0, (False, False, False, False), 0, 0)


class SamnaMissing(BackendError):
    """samna cannot be imported (exit 2, one line)."""


class BoardError(BackendError):
    """The board did not do what was asked (read-back differs, no answer): exit 1."""

    exit_code = 1


def _pypi_stub() -> str | None:
    """The version of PyPI's samna installer stub when that is what is installed, else None.

    PyPI's ``samna`` wheel holds a single ``__init__.py`` (marked ``PYPI_SAMNA = True``) whose import runs
    ``pip install --force-reinstall samna==<version> --index-url <SynSense's GitLab index>`` and reloads
    itself. Importing it would reinstall packages behind the user's back (or fail offline with
    ``CalledProcessError``), so it is recognised from its source and never imported."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("samna")
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not origin.endswith("__init__.py"):
        return None
    try:
        with open(origin, encoding="utf-8", errors="replace") as f:
            text = f.read(20000)
    except OSError:
        return None
    if "PYPI_SAMNA" not in text or "install_real_samna" not in text:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("samna")
    except PackageNotFoundError:
        return "?"


def require_samna():
    """Import samna (lazily) → the module; :class:`SamnaMissing` (exit 2, one line with the install hint)
    when it is missing, when it is PyPI's installer stub, or when importing it fails in any way."""
    import sys

    if "samna" not in sys.modules:
        stub = _pypi_stub()
        if stub is not None:
            raise SamnaMissing(f"the installed samna {stub} is PyPI's installer stub, which would run pip to replace "
                               f"itself when imported; install the real package instead: `pip install --force-reinstall "
                               f"'samna=={stub}' --index-url {SAMNA_INDEX}`")
    try:
        import samna
        samna.dynapse2, samna.device  # noqa: B018  (the stub on PyPI has neither)
    except ImportError:
        raise SamnaMissing(INSTALL_HINT) from None
    except AttributeError:
        raise SamnaMissing(f"the installed samna has no Dynap-SE2 support (samna.dynapse2 / samna.device missing); "
                           f"{INSTALL_HINT.split(': ', 1)[1]}") from None
    except (Exception, SystemExit) as e:        # anything a broken install raises at import time
        raise SamnaMissing(f"importing samna failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                           f"{INSTALL_HINT.split(': ', 1)[1]}") from None
    return samna


# ---- writing -------------------------------------------------------------------------------
def _synapse(se2, tag: int, dendrite: str, mask: str, flags=()):
    s = se2.Dynapse2Synapse()
    s.tag = int(tag)
    s.dendrite = getattr(se2.Dendrite, dendrite)
    s.weight = [ch == "1" for ch in mask]
    for f in CAM_FLAGS:
        setattr(s, f, f in flags)
    return s


def _destination(se2, tag: int, core, x_hop: int, y_hop: int):
    d = se2.Dynapse2Destination()
    d.tag, d.core, d.x_hop, d.y_hop = int(tag), [bool(b) for b in core], int(x_hop), int(y_hop)
    return d


def _write_neuron(se2, sn, nc, blank_syn, blank_dst) -> None:
    """Write one neuron: the config's latches, CAM and SRAM entries, or cleared when ``nc`` is None."""
    for latch in LATCHES:
        setattr(sn, latch, bool(getattr(nc, latch)) if nc is not None else False)
    if nc is None:
        sn.synapses, sn.destinations = blank_syn, blank_dst
        return
    syn = [_synapse(se2, t, d, m, nc.synapse_flags.get(i, ())) for i, (t, d, m) in enumerate(nc.synapses)]
    sn.synapses = syn + blank_syn[len(syn):]
    dst = [_destination(se2, d.tag, d.core, d.x_hop, d.y_hop) for d in nc.destinations]
    sn.destinations = dst + blank_dst[len(dst):]


def _samna_map(schip, group: str, pair: str | None, index: int | None):
    """The samna parameter map of a chip-level group (see :meth:`ChipConfig.parameter_maps`) and its name."""
    if group == "global":
        return schip.global_parameters, "global_parameters"
    if group == "shared":
        return getattr(schip, f"shared_parameters{pair}"), f"shared_parameters{pair}"
    return getattr(schip, f"sadc_group_parameters{pair}")[index], f"sadc_group_parameters{pair}[{index}]"


def _chip_parameter(params, name: str, chip: int, label: str):
    """``params[name]`` of a chip-level samna map; BackendError naming chip and map when samna has no such name."""
    try:
        return params[name]
    except (KeyError, IndexError):
        raise BackendError(f"chip {chip} {label}: parameter {name!r} is not a samna Dynap-SE2 parameter of this map "
                           f"(`neurodeploy validate` on the config names the group each chip-level name belongs to)") from None


def _write_chip_parameters(chip, schip) -> None:
    """Write the chip-level codes ``chip`` lists into samna's maps of ``schip``."""
    for _, group, pair, index, codes in chip.parameter_maps():
        params, label = _samna_map(schip, group, pair, index)
        for name, code in codes.items():
            p = _chip_parameter(params, name, chip.chip, label)
            p.coarse_value, p.fine_value = int(code.coarse), int(code.fine)


def to_samna(cfg: HardwareConfig, samna_or_config):
    """Write ``cfg`` into a samna configuration: a new ``Dynapse2Configuration`` when given the samna
    module, else the given configuration object (e.g. ``model.get_configuration()``), in place.
    Returns the configuration."""
    if hasattr(samna_or_config, "dynapse2"):
        se2 = samna_or_config.dynapse2
        scfg = se2.Dynapse2Configuration()
    else:
        se2, scfg = require_samna().dynapse2, samna_or_config
    chips = scfg.chips
    for ci, chip in enumerate(cfg.chips):
        if chip.chip >= len(chips):
            raise BackendError(f"$.chips[{ci}].chip: chip {chip.chip}, but the board has {len(chips)} chips (0..{len(chips) - 1})")
    for chip in cfg.chips:
        _write_chip_parameters(chip, chips[chip.chip])
    by_core = {(c.chip, k.core): k for c in cfg.chips for k in c.cores}
    blank_syn = blank_dst = None
    for h, schip in enumerate(chips):
        for k, score in enumerate(schip.cores):
            core = by_core.get((h, k))
            if core is not None:
                params = score.parameters
                for name, code in core.parameters.items():
                    try:
                        p = params[name]
                    except (KeyError, IndexError):
                        raise BackendError(f"chip {h} core {k}: parameter {name!r} is not a samna Dynap-SE2 parameter") from None
                    p.coarse_value, p.fine_value = int(code.coarse), int(code.fine)
            listed = {n.neuron: n for n in core.neurons} if core is not None else {}
            for n, sn in enumerate(score.neurons):
                if blank_syn is None:
                    blank_syn = [se2.Dynapse2Synapse() for _ in range(len(sn.synapses))]
                    blank_dst = [se2.Dynapse2Destination() for _ in range(len(sn.destinations))]
                _write_neuron(se2, sn, listed.get(n), blank_syn, blank_dst)
    return scfg


def to_samna_json(cfg: HardwareConfig) -> str:
    """samna's own JSON of the configuration holding ``cfg`` (offline; needs samna installed)."""
    return to_samna(cfg, require_samna()).to_json()


# ---- reading -------------------------------------------------------------------------------
def _dendrite_names(se2) -> dict:
    """samna's Dendrite value → name (none/ampa/nmda/gaba/shunt, the names config.json uses)."""
    return {v: k for k, v in se2.Dendrite.__members__.items()}


def read_neuron(sn, dend: dict) -> tuple:
    """(latches, synapses, destinations) of a samna neuron as plain tuples (one reader for read-back and diff)."""
    lat = tuple(bool(getattr(sn, latch)) for latch in LATCHES)
    syn = tuple((int(s.tag), dend.get(s.dendrite, str(s.dendrite)), "".join("1" if b else "0" for b in s.weight),
                 tuple(f for f in CAM_FLAGS if getattr(s, f))) for s in sn.synapses)
    dst = tuple((int(d.tag), tuple(bool(b) for b in d.core), int(d.x_hop), int(d.y_hop)) for d in sn.destinations)
    return lat, syn, dst


def _trimmed(entries: tuple, blank, keep: int) -> list:
    n = len(entries)
    while n > keep and entries[n - 1] == blank:
        n -= 1
    return list(entries[:n])


def from_samna(scfg, like: HardwareConfig) -> HardwareConfig:
    """Read a samna configuration back into a HardwareConfig shaped like ``like``.

    Header, inputs, outputs and placement come from ``like``; for its chips: the codes of the chip-level
    maps and names it lists; for its cores: the listed parameters' codes, and every neuron that ``like``
    lists or that is not cleared, with its latches, CAM entries (trailing cleared ones dropped, but never
    fewer than ``like`` lists) and SRAM entries. ``from_samna(to_samna(cfg, samna), cfg)`` is ``cfg``, byte for byte.
    """
    from ..config.config_json import ChipConfig, Code, CoreConfig, Destination, NeuronConfig

    dend = _dendrite_names(require_samna().dynapse2)
    chips = []
    for chip in like.chips:
        schip = scfg.chips[chip.chip]
        groups: dict = {}
        for _, group, pair, index, names in chip.parameter_maps():
            params, label = _samna_map(schip, group, pair, index)
            codes = {}
            for n in names:
                p = _chip_parameter(params, n, chip.chip, label)
                codes[n] = Code.model_construct(coarse=int(p.coarse_value), fine=int(p.fine_value))
            if group == "global":
                groups["global_parameters"] = codes
            elif group == "shared":
                groups.setdefault("shared_parameters", {})[pair] = codes
            else:
                groups.setdefault("sadc_group_parameters", {}).setdefault(pair, []).append(codes)
        cores = []
        for core in chip.cores:
            score = schip.cores[core.core]
            params = {}
            for name in core.parameters:
                p = score.parameters[name]
                params[name] = Code.model_construct(coarse=int(p.coarse_value), fine=int(p.fine_value))
            listed = {n.neuron: n for n in core.neurons}
            neurons = []
            for n, sn in enumerate(score.neurons):
                lat, syn, dst = read_neuron(sn, dend)
                tmpl = listed.get(n)
                blank = not any(lat) and all(s == BLANK_SYNAPSE for s in syn) and all(d == BLANK_DESTINATION for d in dst)
                if tmpl is None and blank:
                    continue
                syn = _trimmed(syn, BLANK_SYNAPSE, len(tmpl.synapses) if tmpl else 0)
                dst = _trimmed(dst, BLANK_DESTINATION, len(tmpl.destinations) if tmpl else 0)
                neurons.append(NeuronConfig.model_construct(
                    neuron=n, **dict(zip(LATCHES, lat)), synapses=[(t, d, m) for t, d, m, _ in syn],
                    synapse_flags={i: list(s[3]) for i, s in enumerate(syn) if s[3]},
                    destinations=[Destination.model_construct(tag=t, core=list(c), x_hop=x, y_hop=y) for t, c, x, y in dst]))
            cores.append(CoreConfig.model_construct(core=core.core, parameters=params, neurons=neurons))
        chips.append(ChipConfig.model_construct(chip=chip.chip, position=chip.position, **groups, cores=cores))
    out = like.model_copy(update={"chips": chips})
    return HardwareConfig.model_validate_json(out.dumps())


def _neuron_diff(where: str, a: tuple, b: tuple) -> list[str]:
    lines = []
    for latch, x, y in zip(LATCHES, a[0], b[0]):
        if x != y:
            lines.append(f"{where} {latch}: wrote {x}, read back {y}")
    for kind, fields, xs, ys in (("synapse", ("tag", "dendrite", "weight", "flags"), a[1], b[1]),
                                 ("destination", ("tag", "core", "x_hop", "y_hop"), a[2], b[2])):
        if len(xs) != len(ys):
            lines.append(f"{where} {kind}s: wrote {len(xs)} entries, read back {len(ys)}")
        for i, (x, y) in enumerate(zip(xs, ys)):
            for f, u, v in zip(fields, x, y):
                if u != v:
                    lines.append(f"{where} {kind}[{i}] {f}: wrote {_show(u)}, read back {_show(v)}")
    return lines


def _show(v) -> str:
    if isinstance(v, tuple) and all(isinstance(b, bool) for b in v):
        return "[" + ", ".join("1" if b else "0" for b in v) + "]"
    return repr(list(v)) if isinstance(v, tuple) else str(v)


def _samna_chip_maps(schip):
    """(name, map) of every chip-level parameter map of a samna chip."""
    yield "global_parameters", schip.global_parameters
    for pair in CORE_PAIRS:
        yield f"shared_parameters{pair}", getattr(schip, f"shared_parameters{pair}")
    for pair in CORE_PAIRS:
        for i, m in enumerate(getattr(schip, f"sadc_group_parameters{pair}")):
            yield f"sadc_group_parameters{pair}[{i}]", m


def _parameter_diff(where: str, pe, pa) -> list[str]:
    lines = []
    for name, p in pe.items():
        q = pa[name]
        for f in ("coarse_value", "fine_value"):
            if getattr(p, f) != getattr(q, f):
                lines.append(f"{where} parameter {name} {f}: wrote {getattr(p, f)}, read back {getattr(q, f)}")
    return lines


def diff_samna(expected, actual, chips=None) -> list[str]:
    """Every field where two samna configurations differ, one line each: ``chip H <group> parameter NAME
    <field>`` for chip-level maps (``global_parameters``, ``shared_parameters01``, ``sadc_group_parameters23[2]``...),
    then ``chip H core C [neuron N] <field>[entry] ...: wrote X, read back Y`` (parameters, latches, CAM and
    SRAM entries)."""
    se2 = require_samna().dynapse2
    dend = _dendrite_names(se2)
    lines: list[str] = []
    if len(expected.chips) != len(actual.chips):
        return [f"board: wrote {len(expected.chips)} chips, read back {len(actual.chips)}"]
    for h in (range(len(expected.chips)) if chips is None else chips):
        for (label, me), (_, ma) in zip(_samna_chip_maps(expected.chips[h]), _samna_chip_maps(actual.chips[h])):
            lines.extend(_parameter_diff(f"chip {h} {label}", me, ma))
        for k, (ce, ca) in enumerate(zip(expected.chips[h].cores, actual.chips[h].cores)):
            lines.extend(_parameter_diff(f"chip {h} core {k}", ce.parameters, ca.parameters))
            for n, (ne, na) in enumerate(zip(ce.neurons, ca.neurons)):
                a, b = read_neuron(ne, dend), read_neuron(na, dend)
                if a != b:
                    lines.extend(_neuron_diff(f"chip {h} core {k} neuron {n}", a, b))
    return lines
