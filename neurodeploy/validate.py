"""``neurodeploy validate FILE...``: what a file is, whether it is valid, in one line each.

The kind comes from the JSON ``format`` field (``neurodeploy.network/1`` → network,
``neurodeploy.config/1`` → hardware config); ``.yaml``/``.yml`` files are device profiles; ``.nir``,
``.npz`` and ``.npy`` files are imported as networks (with the given import options). A hardware config is
also checked against the profile it names: the profile must load, the board must fit its geometry
(chips, cores, neurons, CAM and SRAM entries, tags, hops), every parameter name must exist in it and every
code must be in its bias generator's range; a profile whose sha256 differs from the one recorded in the
config is a warning (the config still loads), not an error.

Each problem is one line ``FILE: $.json.path: message``; nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import rules
from .errors import NeurodeployError

NETWORK_FORMAT = "neurodeploy.network/1"
CONFIG_FORMAT = "neurodeploy.config/1"
FORMATS = {NETWORK_FORMAT: "network", CONFIG_FORMAT: "config"}
MAX_LINES = 50  # per file; the rest is counted


@dataclass
class Result:
    path: str
    kind: str = "?"
    summary: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """What the CLI prints: the OK line, or one line per error (capped), then warnings."""
        out = [f"OK {self.kind} {self.path}: {self.summary}"] if self.ok else list(self.errors[:MAX_LINES])
        if len(self.errors) > MAX_LINES:
            out.append(f"{self.path}: ... and {len(self.errors) - MAX_LINES} more errors")
        out += self.warnings
        return out


def _prefixed(path: str, lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        ln = " ".join(str(ln).split())
        out.append(ln if ln.startswith(path) else f"{path}: {ln}")
    return out


def _read_json(path: Path) -> Any:
    from .errors import NetworkError
    from .fileio import parse_json

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise NetworkError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse_json(text, path, NetworkError)


def summarize_network(network) -> str:
    n_syn = sum(len(network.projection_coo(k)[0]) for k in range(len(network.projections)))
    pops = ", ".join(f"{p.name}[{p.size}]" for p in network.populations)
    return (f"{network.name!r}: {network.n_inputs} inputs, {network.n_neurons} neurons ({pops}), {len(network.projections)} "
            f"projections, {n_syn} synapses, {len(network.output_indices())} outputs, dt {network.dt:g} s")


def summarize_config(cfg) -> str:
    n_cores = sum(len(c.cores) for c in cfg.chips)
    n_neurons = sum(len(k.neurons) for c in cfg.chips for k in c.cores)
    n_syn = sum(len(n.synapses) for c in cfg.chips for k in c.cores for n in k.neurons)
    return (f"{len(cfg.chips)} chips, {n_cores} cores, {n_neurons} neurons, {n_syn} CAM entries, {len(cfg.inputs)} "
            f"input channels, {len(cfg.outputs)} outputs; profile {cfg.profile.name}")


#: network rules no map option can satisfy (a current outside what the chip makes): errors in validate, as in map
MAP_FAILS = ("bias-range", "weight-range")


def _network_rules(network, res: Result) -> None:
    """The design rules ``map`` checks first, on the built-in profile at map's defaults: errors for those no map
    option changes (:data:`MAP_FAILS`), warnings for the others (``map`` would refuse the network without options
    such as --prune or --chips)."""
    from .device.profile import load_profile

    facts = rules.NetworkFacts(network, load_profile("dynapse2"))
    for name, m in rules.check_network(facts):
        if name in MAP_FAILS:
            res.errors.append(f"{res.path}: [{name}] {m}")
        else:
            res.warnings.append(f"{res.path}: warning: [{name}] {m}")


def load_checked_config(path: str | Path, profile):
    """Load a config and apply every check ``validate`` applies against ``profile`` — what each command
    that runs a config (emulate, verify, run) uses, so none runs a config that ``validate`` rejects.
    Raises :class:`~neurodeploy.errors.ConfigError` with one line per problem."""
    from .config.config_json import load_config
    from .errors import ConfigError

    cfg = load_config(path)
    errors, _ = rules.check_config_profile(cfg, profile)
    if errors:
        raise ConfigError(f"{path}: invalid for profile {profile.name!r}", lines=[f"{path}: {e}" for e in errors])
    return cfg


def _load_config_profile(cfg, path: Path):
    from .device.profile import load_profile

    name = cfg.profile.name
    cand = Path(name)
    if not cand.is_absolute() and (path.parent / cand).suffix in (".yaml", ".yml") and (path.parent / cand).is_file():
        return load_profile(path.parent / cand)
    return load_profile(name)


def validate_file(path: str | Path, **options) -> Result:
    """Validate one file; never raises (internal errors become one error line)."""
    path = Path(path)
    res = Result(str(path))
    try:
        _validate(path, res, options)
    except NeurodeployError as e:
        res.errors.extend(_prefixed(res.path, e.lines))
    except Exception as e:  # a bug or an unexpected file: still one line
        res.errors.append(f"{res.path}: cannot validate ({type(e).__name__}: {' '.join(str(e).split())[:300]})")
    return res


def _validate(path: Path, res: Result, options: dict) -> None:
    from .errors import NetworkError

    if not path.exists():
        raise NetworkError(f"{path}: file not found")
    if path.is_dir():
        raise NetworkError(f"{path}: is a directory, not a file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from .device.profile import load_profile

        if options:
            raise NetworkError(f"{path}: options {sorted(options)} only apply to .npz/.nir imports")
        res.kind = "profile"
        prof = load_profile(path)
        g = prof.geometry
        res.summary = (f"{prof.name!r}: up to {g.max_chips} chips x {g.cores_per_chip} cores x {g.neurons_per_core} neurons, "
                       f"{g.cam_entries_per_neuron} CAM / {g.sram_entries_per_neuron} SRAM entries per neuron, "
                       f"{len(prof.parameters)} parameters" + ("" if prof.analog.calibrated else ", analog constants uncalibrated"))
        return
    if suffix in (".nir", ".npz", ".npy"):
        res.kind = "network"
        network = _load_quietly(path, options)
        conv = network.metadata.get("import", {}).get("convention")
        res.summary = summarize_network(network) + f" (imported from {suffix[1:]}" + (f", convention {conv})" if conv else ")")
        _network_rules(network, res)
        return
    if options:   # import options apply to .nir/.npz/.npy only (as for map, export, simulate)
        raise NetworkError(f"{path}: options {sorted(options)} only apply to .npz/.nir imports")
    from .quantize.quantized_json import FORMAT_PREFIX, load_quantized

    if (_sniff_format(path) or "").startswith(FORMAT_PREFIX):
        res.kind = "quantized"
        qn = load_quantized(path)
        res.summary = (f"{qn.n_neurons} neurons on {len(qn.cores)} logical cores, {len(qn.synapses.src)} synapses")
        return
    if _sniff_format(path) == CONFIG_FORMAT:  # big configs: load_config parses and validates in one fast pass
        res.kind = "config"
        _check_config(path, res, load_config_file(path))
        return
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise NetworkError(f"{path}: $: expected a JSON object, got {type(raw).__name__}")
    fmt = raw.get("format")
    if fmt is None:
        kind = "network" if "populations" in raw else "config" if "chips" in raw else None
        if kind is None:
            raise NetworkError(f"{path}: $.format: missing; expected {NETWORK_FORMAT!r} or {CONFIG_FORMAT!r}")
    elif fmt not in FORMATS:
        raise NetworkError(f"{path}: $.format: unknown format {fmt!r} (expected {NETWORK_FORMAT!r} or {CONFIG_FORMAT!r})")
    else:
        kind = FORMATS[fmt]
    res.kind = kind
    if kind == "network":
        from .network import network_from_dict

        network = network_from_dict(raw, str(path), base_dir=path.parent)
        res.summary = summarize_network(network)
        _network_rules(network, res)
        return
    from .config.config_json import config_from_dict

    _check_config(path, res, config_from_dict(raw, str(path)))


def _load_quietly(path: Path, options: dict):
    """Import a network without the import's ``time-scale`` warnings: the rule lists them (:func:`_network_rules`)."""
    import warnings

    from .importers import load_network
    from .importers.nir.time_scale import TimeScaleWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeScaleWarning)
        return load_network(path, **options)


def load_config_file(path: Path):
    from .config.config_json import load_config

    return load_config(path)


def _sniff_format(path: Path) -> str | None:
    """The ``format`` value if it appears near the start of the file (where neurodeploy writes it)."""
    import re

    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return None
    m = re.match(r'\s*\{\s*"format"\s*:\s*"([^"\\]*)"', head)
    return m.group(1) if m else None


def _check_config(path: Path, res: Result, cfg) -> None:
    from .errors import NetworkError

    try:
        profile = _load_config_profile(cfg, path)
    except NeurodeployError as e:
        raise NetworkError(f"{path}: $.profile.name: cannot load profile {cfg.profile.name!r}: "
                        f"{' '.join(str(e).split())}") from None
    errors, warnings = rules.check_config_profile(cfg, profile)
    res.errors.extend(f"{path}: {e}" for e in errors)
    res.warnings.extend(f"{path}: {w}" for w in warnings)
    res.summary = summarize_config(cfg)
