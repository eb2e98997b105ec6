"""The one pydantic base of every file model (Network, QuantizedNetwork, HardwareConfig, profile).

Unknown fields are errors; floats must be finite (JSON like ``1e999`` parses to inf); types are strict:
a number given as a string (``"5"``) or a boolean given as a number (``1``) is an error, not converted
(an integer is accepted where a float is expected). JSON arrays are accepted for tuples (:data:`Pair`,
``JSONTuple``). Free-form JSON values (``metadata``) are checked with :func:`nonfinite_numbers`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


#: A JSON array read as a tuple (strict mode alone wants a Python tuple); its items stay strict.
LAX_CONTAINER = Field(strict=False)
#: A dict key read from JSON's string keys (``{"3": ...}`` → 3).
IntKey = Annotated[int, Field(strict=False)]


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
