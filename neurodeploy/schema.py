"""JSON Schemas of the file kinds, generated from the pydantic models (``neurodeploy schema -o schemas/``).

* ``network.schema.json`` — :class:`neurodeploy.network.Network` (``model.json``) in its stored form
  (currents; the convenience forms ``tau_mem`` etc. are converted on load and are not part of the schema);
* ``config.schema.json`` — :class:`neurodeploy.config.config_json.HardwareConfig` (``config.json``);
* ``profile.schema.json`` — :class:`neurodeploy.device.profile.DeviceProfile` (``device_profiles/*.yaml``);
* ``chip-profile.schema.json`` — :class:`neurodeploy.device.chip_profile.ChipProfile` (``chip.yaml``, a calibration).

Cross-field rules (population names, matrix shapes, placement, hops...) are checked by the models'
validators, not expressible in JSON Schema; ``neurodeploy validate`` runs them. The bytes are deterministic
(sorted keys, fixed indentation), so ``tests/test_schema.py`` can compare the committed files with the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic.json_schema import GenerateJsonSchema

SCHEMA_FILES = ("network.schema.json", "config.schema.json", "profile.schema.json", "chip-profile.schema.json")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_RUNTIME_FIELDS = ("source", "sha256", "table", "scale_currents", "scale_curves")  # DeviceProfile: filled in by load_profile


class _SkipArbitrary(GenerateJsonSchema):
    """Fields of arbitrary Python types (numpy arrays filled in at load time) get an empty schema."""

    def handle_invalid_for_json_schema(self, schema, error_info):
        return {}


def schemas() -> dict[str, dict]:
    """File name → JSON Schema (dict)."""
    from .config.config_json import HardwareConfig
    from .device.chip_profile import ChipProfile
    from .device.profile import DeviceProfile
    from .network import Network

    out = {}
    for fname, model, title, desc in (
        ("network.schema.json", Network, "neurodeploy network (model.json), format neurodeploy.network/1",
         "A trained network: populations of DPI neurons (currents in A), projections (unitless weights x weight_scale), outputs."),
        ("config.schema.json", HardwareConfig, "neurodeploy hardware config (config.json), format neurodeploy.config/1",
         "Exactly what a Dynap-SE2 board holds: per core bias codes, per neuron latches, CAM and SRAM entries."),
        ("profile.schema.json", DeviceProfile, "neurodeploy device profile (device_profiles/*.yaml)",
         "Geometry, dendrites, analog constants, bias generator and parameter table of a chip (SI units)."),
        ("chip-profile.schema.json", ChipProfile, "neurodeploy chip profile (chip.yaml), format neurodeploy.chip-profile/1",
         "What a calibration measured on one board: per-core effective constants and per-neuron factors, each with its "
         "relative standard error, provenance, and the hash of the probe data stored beside it."),
    ):
        sch = model.model_json_schema(mode="validation", schema_generator=_SkipArbitrary)
        if model is DeviceProfile:
            for f in _RUNTIME_FIELDS:
                sch.get("properties", {}).pop(f, None)
                if f in sch.get("required", []):
                    sch["required"].remove(f)
        sch = {"$schema": _DIALECT, "$id": f"urn:neurodeploy:schema:{fname.split('.')[0]}", **sch, "title": title,
               "description": desc + " Generated from neurodeploy's pydantic models by `neurodeploy schema`; do not edit."}
        out[fname] = sch
    return out


def dumps_schema(schema: dict) -> str:
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(out_dir: str | Path) -> list[Path]:
    from .fileio import atomic_write_text

    out_dir = Path(out_dir)
    return [atomic_write_text(out_dir / name, dumps_schema(sch)) for name, sch in schemas().items()]


def stale_schemas(out_dir: str | Path) -> list[str]:
    """Names of the schema files in ``out_dir`` that are missing or differ from the models."""
    out_dir = Path(out_dir)
    stale = []
    for name, sch in schemas().items():
        p = out_dir / name
        if not p.is_file() or p.read_text(encoding="utf-8") != dumps_schema(sch):
            stale.append(name)
    return stale
