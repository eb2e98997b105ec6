"""Errors of the simulator (one-line, user-facing; see :mod:`neurodeploy.errors`)."""

from __future__ import annotations

from ..errors import NeurodeployError


class SimError(NeurodeployError):
    """A simulation network, its arrays or a simulation input are invalid."""
