"""The NIR export lives beside the import, in :mod:`neurodeploy.importers.nir.export`; this name is kept for scripts."""

from .importers.nir.export import APPROXIMATION, export_nir, spec_to_nir  # noqa: F401

__all__ = ["export_nir", "spec_to_nir", "APPROXIMATION"]
