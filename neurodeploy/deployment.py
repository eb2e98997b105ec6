"""The whole deployment in one call: Network → quantize → map → config (``neurodeploy map``)."""

from __future__ import annotations

from pathlib import Path

from .mapping.mapper import Deployment, map_quantized
from .device.profile import load_profile
from .quantize.quantizer import quantize_network


def deploy(model, profile="dynapse2", *, chips: int | None = None, prune: bool = False, strict: bool = False,
           seed: int = 0, cam_profiles: dict[int, str] | None = None, cam_tolerance: float = 0.0,
           use_spares: bool = True, use_nmda: bool = True, import_options: dict | None = None) -> Deployment:
    """quantize → map → config for a Network (or a model file: .json/.nir/.npz) on a device profile
    (a DeviceProfile, a built-in name or a YAML path). Every design rule decidable from the network is
    checked first, and all violations are reported at once (:mod:`neurodeploy.rules`)."""
    prof = load_profile(profile) if isinstance(profile, (str, Path)) else profile
    if isinstance(model, (str, Path)):
        from .importers import load_network

        model = load_network(model, profile=prof, **(import_options or {}))
    qn = quantize_network(model, prof, max_chips=chips, prune=prune, strict=strict, seed=seed,
                          use_spares=use_spares, use_nmda=use_nmda)
    return map_quantized(qn, prof, cam_profiles=cam_profiles, cam_tolerance=cam_tolerance)
