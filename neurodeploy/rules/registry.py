"""The design-rule registry: every constraint a network or a config must satisfy, by name.

A rule has a name (``fan-in``), a one-line summary, and a check per scope where it applies:

* ``network``   — on a Network before anything is optimised (``map``, ``quantize``, ``validate``):
  ``check(facts) -> [message, ...]`` over the network, the profile and the map options;
* ``placement`` — depends on where the mapper put the neurons (tags per core, SRAM destinations,
  CAM defects); the mapper raises it through :func:`fail` the moment the placement decides it;
* ``config``    — a HardwareConfig's own consistency: ``check(cfg) -> [(json path, message)]``;
* ``profile``   — a HardwareConfig against the device profile it names: ``check(cfg, profile) -> [...]``.

One rule, one meaning: ``fan-in`` counts CAM entries per neuron wherever it is checked (a network
needs one per synapse, a repeated source counting again; a config holds them), ``fan-out`` SRAM
entries per neuron. Every message is prefixed with its rule: ``[fan-in] neuron hidden[3] has 70 ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import MappingError

SCOPES = ("network", "placement", "config", "profile")


@dataclass
class Rule:
    name: str
    summary: str
    checks: dict[str, Callable | None] = field(default_factory=dict)   # scope → check (None: raised in place)
    warning: bool = False             # a finding, not an error (the file still loads)

    @property
    def scopes(self) -> list[str]:
        return [s for s in SCOPES if s in self.checks]


RULES: dict[str, Rule] = {}


def _add(name: str, scope: str, summary: str, check, warning: bool = False) -> None:
    if scope not in SCOPES:
        raise ValueError(f"rule {name}: unknown scope {scope!r}")
    r = RULES.setdefault(name, Rule(name, summary, warning=warning))
    if scope in r.checks:
        raise ValueError(f"rule {name} registered twice for scope {scope}")
    r.checks[scope] = check


def rule(name: str, scope: str, summary: str, *, warning: bool = False):
    """Decorator: register ``f`` as rule ``name``'s check in ``scope`` (the first summary given is kept)."""
    def deco(f):
        _add(name, scope, summary, f, warning)
        return f
    return deco


def declare(name: str, scope: str, summary: str) -> str:
    """Register a rule an algorithm checks where its facts arise (placement rules); returns its name."""
    _add(name, scope, summary, None)
    return name


def checks(scope: str) -> list[tuple[Rule, Callable]]:
    """(rule, check) for every rule with a check in ``scope``, in registration order."""
    return [(r, r.checks[scope]) for r in RULES.values() if r.checks.get(scope) is not None]


def tagged(name: str, message: str) -> str:
    """``[name] message`` (the rule must be registered)."""
    if name not in RULES:
        raise KeyError(f"unregistered design rule {name!r}")
    return f"[{name}] {message}"


def fail(name: str, message: str, error=MappingError):
    """Raise ``error`` with ``[name] message``."""
    raise error(tagged(name, message), rule=name)


def raise_all(violations: list[tuple[str, str]], error=MappingError) -> None:
    """Raise one error listing every (rule, message) violation, one line each; nothing if none."""
    if violations:
        lines = [tagged(n, m) for n, m in violations]
        raise error(lines[0], rule=violations[0][0], lines=lines)
