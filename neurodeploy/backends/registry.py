"""The backends by name: ``get_backend("emulator" | "samna", profile, **options)``.

The samna backend's module (and samna itself) is imported only when a samna backend is asked for.
"""

from __future__ import annotations

from ..errors import BackendError
from .base import Backend


def _emulator(profile, **options):
    from .emulator import EmulatorBackend

    return EmulatorBackend(profile, **options)


def _samna(profile, **options):
    from .samna_board import SamnaBackend

    return SamnaBackend(profile, **options)


#: backend name → factory(profile, **options); samna is imported only when a samna backend opens a board
BACKENDS = {"emulator": _emulator, "samna": _samna}


def get_backend(name: str, profile, **options) -> Backend:
    """The backend called ``name`` ("emulator" or "samna") for ``profile``, with its options."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}")
    return BACKENDS[name](profile, **options)
