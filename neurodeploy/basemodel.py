"""The one pydantic base of every file model (NetworkSpec, QuantizedNetwork, HardwareConfig, profile).

Unknown fields are errors; floats must be finite (JSON like ``1e999`` parses to inf). Free-form
JSON values (``metadata``) are checked with :func:`nonfinite_numbers`.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def nonfinite_numbers(obj: Any, path: str) -> list[tuple[str, float]]:
    """(JSON path, value) of every NaN/inf float in a free-form JSON value (e.g. metadata; 1e999 parses to inf)."""
    out: list[tuple[str, float]] = []
    if isinstance(obj, float):
        if not math.isfinite(obj):
            out.append((path, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(nonfinite_numbers(v, f"{path}.{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.extend(nonfinite_numbers(v, f"{path}[{i}]"))
    return out
