"""neurodeploy: deploy trained spiking networks onto Dynap-SE2 (or its bit-accurate emulator)."""

__version__ = "0.1.0"
