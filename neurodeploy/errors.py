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


class NetworkError(NeurodeployError):
    """A network (model.json / .npz / .nir) is invalid."""


class ConfigError(NeurodeployError):
    """A hardware configuration is invalid."""


class MappingError(NeurodeployError):
    """The network cannot be placed on the hardware; ``rule`` names the constraint."""


class StudyError(NeurodeployError):
    """A yield study's settings, or a study folder made for another study (exit 2)."""


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


_UNION_READABLE = {"float": "a number", "int": "an integer", "str": "a string", "bool": "true/false",
                   "list[float]": "a list of numbers", "list[int]": "a list of integers", "none": "null"}


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (part in _UNION_READABLE or "[" in part)


def _merge_union_errors(errors: list[dict]) -> list[dict]:
    """pydantic reports a failed ``float | list[float]`` once per member; keep the member that fits best.

    If some member failed deeper inside (e.g. ``list[float]`` at element 3), drop the members that failed at
    the top (wrong type); if all failed at the top, report one "expected a number or a list of numbers".
    """
    groups: dict[tuple, list[int]] = {}
    for i, err in enumerate(errors):
        loc = list(err.get("loc", ()))
        idx = next((j for j, p in enumerate(loc) if _is_union_tag(p)), None)
        if idx is not None:
            groups.setdefault(tuple(loc[:idx]), []).append(i)
    drop: set[int] = set()
    extra: list[dict] = []
    for key, members in groups.items():
        depth = len(key) + 1
        branches = {errors[i]["loc"][len(key)] for i in members}
        if len(branches) < 2:
            continue
        deep = [i for i in members if len(errors[i]["loc"]) > depth]
        if deep:
            drop.update(i for i in members if len(errors[i]["loc"]) == depth)
        else:
            drop.update(members)
            what = " or ".join(_UNION_READABLE.get(b, b) for b in sorted(branches, key=lambda b: "[" in b))
            extra.append({"loc": key, "msg": f"expected {what}", "type": "union"})
    return [e for i, e in enumerate(errors) if i not in drop] + extra


def validation_lines(source: str, exc) -> list[str]:
    """One line per pydantic validation error: ``SOURCE: $.path: message``."""
    lines = []
    for err in _merge_union_errors(list(exc.errors())):
        loc = [p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")) and not _is_union_tag(p)]
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
