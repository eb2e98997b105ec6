"""neurodeploy: deploy trained spiking networks onto Dynap-SE2 (or its bit-accurate emulator).

The Python API (loaded on first use, so ``import neurodeploy`` stays light — no jax, no samna)::

    from neurodeploy import load_network, deploy, simulate, emulate, verify
    from neurodeploy.api import train            # (neurodeploy.train is the training package)
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

# the API functions (neurodeploy.api); no module of the package has one of their names
__all__ = ["__version__", *lazy_exports(__name__, {name: "api" for name in
                                                   ("load_network", "deploy", "simulate", "emulate", "verify")})]
