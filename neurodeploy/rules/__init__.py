"""Every design rule, named, in one registry (``neurodeploy rules`` lists them).

* :func:`check_network` — the ``network`` rules over (network, profile, map options), all at once;
* :func:`check_config` / :func:`check_config_profile` — a HardwareConfig's own rules and its fit to a profile;
* placement rules (tags, fan-out, cam-defects, cam-profile) are raised by the mapper (:mod:`.placement`).
"""

from __future__ import annotations

from .network import NetworkFacts  # registers the network rules (first: their summaries lead)
from . import placement  # noqa: F401,I001  (registers the placement rules)
from . import config as _config_rules  # noqa: F401,I001  (registers the config and profile rules)
from . import timing  # noqa: F401,I001  (registers the time-scale rule)
from .registry import RULES, SCOPES, Rule, checks, fail, raise_all, tagged


def check_network(facts: NetworkFacts) -> list[tuple[str, str]]:
    """(rule, message) of every network-rule violation."""
    return [(r.name, m) for r, check in checks("network") for m in check(facts)]


def require_network(facts: NetworkFacts) -> None:
    """Raise one MappingError listing every network-rule violation (one line each, ``[rule] message``); findings of
    warning rules (``time-scale``) do not stop a network: ``validate`` lists them."""
    raise_all([(n, m) for n, m in check_network(facts) if not RULES[n].warning])


def check_config(cfg) -> list[str]:
    """``$.path: [rule] message`` per violation of the config's own rules."""
    return [f"{path}: [{r.name}] {m}" for r, check in checks("config") for path, m in check(cfg)]


def check_config_profile(cfg, profile) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a config against a profile: ``$.path: [rule] message`` lines (warnings prefixed)."""
    errors: list[str] = []
    warnings: list[str] = []
    for r, check in checks("profile"):
        for path, m in check(cfg, profile):
            (warnings.append(f"warning: {path}: [{r.name}] {m}") if r.warning else errors.append(f"{path}: [{r.name}] {m}"))
    return errors, warnings


def format_rules() -> str:
    """One line per rule: name, scopes, summary."""
    w = max(len(n) for n in RULES)
    return "\n".join(f"{r.name:{w}s}  {'/'.join(r.scopes):18s}  {r.summary}" + (" (warning)" if r.warning else "")
                     for r in RULES.values())


__all__ = ["RULES", "SCOPES", "Rule", "NetworkFacts", "check_network", "require_network", "check_config",
           "check_config_profile", "format_rules", "fail", "raise_all", "tagged"]
