"""The first thing to run on a new board: does every chip and core answer?

One probe configuration (:func:`probe_config`) sets, on every core of every chip, a few neurons that
only a working core makes fire, each with a host route (tag = core · 256 + neuron):

======  ==========================================  ========================================
neuron  how it is driven                              passes when
======  ==========================================  ========================================
0       DC input (``latch_so_dc``, SOIF_DC_P)         it fires without input        (``dc``)
1       AMPA CAM entries, tag 1024, from the FPGA     it fires with the input only  (``ampa``)
2       NMDA CAM entries, tag 1025, from the FPGA     it fires with the input only  (``nmda``)
3       DC + GABA CAM entries, tag 1026              the input at least halves its rate (``gaba``)
4       DC + SHUNT CAM entries, tag 1027             the input at least halves its rate (``shunt``)
5       AMPA entries fed by neuron 0 of its core      it fires without input     (``route``: SRAM → CAM)
6       AMPA entries fed by neuron 0 of the same      it fires without input     (``chip``: a hop between
        core on the previous chip (boards of ≥ 2)                                    chips)
======  ==========================================  ========================================

Two runs of :data:`DURATION_S` each: without input (DC, routes) and with a :data:`INPUT_RATE_HZ`
train on tags 1024..1027 sent to all cores of every chip (the dendrites). Only the backend interface
is used (load a config, run events, read spikes), so the same probes run on the emulator and on a
board. The codes are chosen on this project's model of the chip (a DC neuron at about 100 Hz, the
driven ones at about 100 Hz): on a real chip the rates differ, and the pass criteria only ask for
"fires" (≥ :data:`MIN_SPIKES` spikes) and "at least halved".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DURATION_S = 0.3
INPUT_RATE_HZ = 200.0
MIN_SPIKES = 5
DT = 1e-3
INPUT_TAGS = {"ampa": 1024, "nmda": 1025, "gaba": 1026, "shunt": 1027}
ROUTE_TAG = 1100             # + core: neuron 0 → neuron 5 of its core
CHIP_TAG = 1200              # + core: neuron 0 → neuron 6 of the next chip
ENTRIES_INPUT = 16           # CAM entries per input synapse (repeated tags add up)
ENTRIES_ROUTE = 48
#: the core parameters the probe sets apart from the profile's defaults
PROBE_PARAMETERS = {"SOIF_DC_P": (4, 127)}
CHECKS = ("dc", "ampa", "nmda", "gaba", "shunt", "route", "chip")


def probe_config(profile, n_chips: int = 1, cores_per_chip: int | None = None):
    """The probe HardwareConfig for ``n_chips`` chips at (h, 0) (see module doc)."""
    from .. import __version__
    from ..config.encode import chip_parameter_defaults
    from ..config.config_json import HardwareConfig
    from ..device.profile import HOST_CORE_MASK, HOST_X_HOP, host_tag

    cpc = cores_per_chip or profile.geometry.cores_per_chip
    host = list(HOST_CORE_MASK)

    def dst(tag, core, x_hop=0):
        return {"tag": tag, "core": core, "x_hop": x_hop, "y_hop": 0}

    def entries(tag, dendrite, n):
        return [[tag, dendrite, "1111"]] * n

    chips = []
    for h in range(n_chips):
        cores = []
        for k in range(cpc):
            only_k = [i == k for i in range(cpc)]
            n0_dst = [dst(host_tag(k, 0), host, HOST_X_HOP), dst(ROUTE_TAG + k, only_k)]
            if n_chips > 1:
                n0_dst.append(dst(CHIP_TAG + k, only_k, (h + 1) % n_chips - h))
            neurons = [{"neuron": 0, "latch_so_dc": True, "synapses": [], "destinations": n0_dst}]
            for n, kind, dc in ((1, "ampa", False), (2, "nmda", False), (3, "gaba", True), (4, "shunt", True)):
                neurons.append({"neuron": n, "latch_so_dc": dc, "synapses": entries(INPUT_TAGS[kind], kind, ENTRIES_INPUT),
                                "destinations": [dst(host_tag(k, n), host, HOST_X_HOP)]})
            neurons.append({"neuron": 5, "synapses": entries(ROUTE_TAG + k, "ampa", ENTRIES_ROUTE),
                            "destinations": [dst(host_tag(k, 5), host, HOST_X_HOP)]})
            if n_chips > 1:
                neurons.append({"neuron": 6, "synapses": entries(CHIP_TAG + k, "ampa", ENTRIES_ROUTE),
                                "destinations": [dst(host_tag(k, 6), host, HOST_X_HOP)]})
            params = {name: {"coarse": c, "fine": f} for name, (c, f) in probe_parameters(profile).items()}
            cores.append({"core": k, "parameters": params, "neurons": neurons})
        groups = {key: _dump(value) for key, value in chip_parameter_defaults(profile).items()}
        chips.append({"chip": h, "position": [h, 0], **groups, "cores": cores})
    outputs = [{"name": f"chip{h}.core{k}.n{n}", "chip": h, "core": k, "neuron": n}
               for h in range(n_chips) for k in range(cpc) for n in range(7 if n_chips > 1 else 6)]
    return HardwareConfig.model_validate({
        "format": "neurodeploy.config/1", "profile": {"name": profile.name, "sha256": profile.sha256},
        "neurodeploy_version": __version__, "chips": chips, "outputs": outputs,
        "metadata": {"purpose": "neurodeploy selftest probe"}})


def probe_parameters(profile) -> dict:
    """Every core parameter the profile models, at its default code, with :data:`PROBE_PARAMETERS` over them
    (written explicitly: a parameter a config leaves out keeps samna's value on a board, which the profile
    does not know)."""
    codes = {name: tuple(p.default) for name, p in profile.parameters.items() if p.default is not None}
    codes.update(PROBE_PARAMETERS)
    return dict(sorted(codes.items()))


def _dump(value):
    """Code models (and nested containers of them) as plain JSON data."""
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def input_events(n_chips: int, cores_per_chip: int = 4) -> np.ndarray:
    """[K, 4] (timestamp µs, tag, chip, core mask): the input train on every dendrite tag, all cores."""
    t = np.arange(0, DURATION_S * 1e6, 1e6 / INPUT_RATE_HZ).astype(np.int64)
    mask = (1 << cores_per_chip) - 1
    rows = [(int(ti), tag, h, mask) for ti in t for h in range(n_chips) for tag in INPUT_TAGS.values()]
    return np.asarray(rows, np.int64).reshape(-1, 4)


@dataclass
class CoreResult:
    chip: int
    core: int
    counts: dict            # check → (spikes without input, spikes with input) of its neuron
    passed: dict            # check → bool (checks that do not apply are absent)

    @property
    def ok(self) -> bool:
        return all(self.passed.values())


def _counts(result, cfg) -> dict:
    """(chip, core, neuron) → spike count, from a backend result (observed neurons only)."""
    spikes = np.asarray(result.spikes).sum(axis=(0, 1))
    return {tuple(int(v) for v in s): int(c) for s, c in zip(np.asarray(result.sites).reshape(-1, 3), spikes)}


def judge(quiet: dict, driven: dict, n_chips: int, cores_per_chip: int = 4) -> list[CoreResult]:
    """Per core: the checks of the module doc from the spike counts of the two runs."""
    out = []
    for h in range(n_chips):
        for k in range(cores_per_chip):
            def c(n):
                return quiet.get((h, k, n), 0), driven.get((h, k, n), 0)
            counts = {"dc": c(0), "ampa": c(1), "nmda": c(2), "gaba": c(3), "shunt": c(4), "route": c(5)}
            passed = {"dc": counts["dc"][0] >= MIN_SPIKES,
                      "ampa": counts["ampa"][1] >= MIN_SPIKES and counts["ampa"][0] < MIN_SPIKES,
                      "nmda": counts["nmda"][1] >= MIN_SPIKES and counts["nmda"][0] < MIN_SPIKES,
                      "gaba": counts["gaba"][0] >= MIN_SPIKES and 2 * counts["gaba"][1] <= counts["gaba"][0],
                      "shunt": counts["shunt"][0] >= MIN_SPIKES and 2 * counts["shunt"][1] <= counts["shunt"][0],
                      "route": counts["route"][0] >= MIN_SPIKES}
            if n_chips > 1:
                counts["chip"] = c(6)
                passed["chip"] = counts["chip"][0] >= MIN_SPIKES
            out.append(CoreResult(h, k, counts, passed))
    return out


def selftest(backend, profile, n_chips: int = 1, progress=None) -> list[CoreResult]:
    """Load the probe config on ``backend`` (any :class:`~neurodeploy.backends.base.Backend`), run it
    without and with input, and judge every core. ``progress(message)`` is told each step."""
    say = progress or (lambda _m: None)
    cpc = profile.geometry.cores_per_chip
    cfg = probe_config(profile, n_chips)
    say(f"loading the probe configuration on {n_chips} chip(s) × {cpc} cores")
    backend.load(cfg)
    empty = np.zeros((0, 4), np.int64)
    say(f"run 1/2: {DURATION_S:g} s without input (DC neurons, routes)")
    quiet = _counts(backend.run({"events": empty, "dt": DT, "duration": DURATION_S}), cfg)
    say(f"run 2/2: {DURATION_S:g} s with a {INPUT_RATE_HZ:g} Hz train on every dendrite type")
    driven = _counts(backend.run({"events": input_events(n_chips, cpc), "dt": DT, "duration": DURATION_S}), cfg)
    return judge(quiet, driven, n_chips, cpc)


def format_table(results: list[CoreResult]) -> str:
    """One row per core: each check as OK/FAIL with the spikes of its neuron (without / with input)."""
    checks = [c for c in CHECKS if any(c in r.passed for r in results)]
    head = f"{'chip':>4} {'core':>4}  " + " ".join(f"{c:>11}" for c in checks) + "  status"
    lines = [head]
    for r in results:
        cells = []
        for c in checks:
            q, d = r.counts[c]
            cells.append(f"{'ok' if r.passed[c] else 'FAIL':>4} {q:>3}/{d:<3}")
        lines.append(f"{r.chip:>4} {r.core:>4}  " + " ".join(cells) + ("  OK" if r.ok else "  DEAD" if not any(r.passed.values())
                                                                      else "  FAIL"))
    bad = [r for r in results if not r.ok]
    lines.append("cells: spikes without / with input. "
                 + ("all cores OK" if not bad else
                    f"{len(bad)} core(s) failing: " + ", ".join(f"chip {r.chip} core {r.core} ("
                                                               + ", ".join(c for c in checks if not r.passed.get(c, True)) + ")"
                                                               for r in bad)))
    return "\n".join(lines)
