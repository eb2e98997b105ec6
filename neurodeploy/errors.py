"""Errors that carry their own one-line, user-facing message.

Every error a user can cause (bad file, bad field, a network the chip cannot hold) is a
:class:`NeurodeployError`. Its ``str`` is one line naming the file, the field as a JSON path
(``$.populations[0].size``), the neuron or connection where relevant, and what to change.
The CLI prints that line and exits 2; it never shows a traceback unless ``--debug``.
"""

from __future__ import annotations

from typing import Iterable, Sequence


class NeurodeployError(Exception):
    """Base class: a user-facing error with a readable one-line message.

    ``rule`` names the violated constraint (e.g. ``fan-in``, ``tags``) where there is one.
    ``lines`` may hold several one-line messages (e.g. all validation errors of a file).
    """

    exit_code = 2

    def __init__(self, message: str, *, rule: str | None = None, lines: Sequence[str] | None = None):
        self.rule = rule
        self.lines = list(lines) if lines else [message]
        super().__init__(message)

    def __str__(self) -> str:  # one line per problem, no traceback
        return "\n".join(self.lines)


class ProfileError(NeurodeployError):
    """A device profile is missing, malformed or inconsistent."""


class BiasRangeError(NeurodeployError):
    """A current is outside what a parameter's bias generator can produce."""


class SpecError(NeurodeployError):
    """A network spec (model.json / .npz / .nir) is invalid."""


class ConfigError(NeurodeployError):
    """A hardware configuration is invalid."""


class MappingError(NeurodeployError):
    """The network cannot be placed on the hardware; ``rule`` names the constraint."""


class BackendError(NeurodeployError):
    """A backend (samna, emulator) cannot run the request."""


def json_path(loc: Iterable[object]) -> str:
    """Render a pydantic/JSON location tuple as a JSON path: ``$.a[0].b``."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}"
    return out


def validation_lines(source: str, exc) -> list[str]:
    """One line per pydantic validation error: ``SOURCE: $.path: message``."""
    lines = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-"))]
        msg = err.get("msg", "invalid value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (remove it or check its spelling)"
        if not loc and msg.startswith("$"):
            # cross-field rules report their own JSON paths, one problem per line
            lines.extend(f"{source}: {m}" for m in msg.splitlines())
            continue
        if loc and msg.startswith("$"):
            lines.extend(f"{source}: {json_path(loc)}{m[1:]}" for m in msg.splitlines())
            continue
        lines.append(f"{source}: {json_path(loc)}: {msg}")
    return lines or [f"{source}: invalid"]
