"""File writing helpers: atomic writes (temp file + rename) and canonical JSON.

Every output file of neurodeploy goes through :func:`atomic_write_bytes`, so a crash or a bad
input never leaves a half-written file; JSON goes through :func:`dumps_json`, so the same
content always gives the same bytes.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _file_mode(path: Path) -> int:
    """The existing file's mode, else 0666 less the umask (what a plain open() would give)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, _file_mode(path))  # mkstemp creates 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"refusing to write non-finite number {obj} to JSON")
    return obj


class RawJSON(str):
    """Pre-rendered JSON text that :func:`dumps_json` inserts verbatim (for fast, large records)."""


def _is_flat(v: Any) -> bool:
    return isinstance(v, list) and all(not isinstance(x, (list, dict, RawJSON)) for x in v)


def _render(obj: Any, level: int, indent: int) -> str:
    if isinstance(obj, RawJSON):
        return str(obj)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        pad = " " * (indent * (level + 1))
        items = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_render(v, level + 1, indent)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(obj, (list, tuple)):
        obj = list(obj)
        if _is_flat(obj):  # lists of scalars stay on one line (weight rows, masks, codes)
            return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
        if all(not isinstance(x, (dict, RawJSON)) and (not isinstance(x, list) or _is_flat(x)) for x in obj):
            one = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
            if len(one) <= 100:  # short nested records (CAM entries) on one line
                return one
        if all(_is_flat(x) for x in obj):  # matrices: one row per line
            pad = " " * (indent * (level + 1))
            return "[\n" + ",\n".join(pad + _render(x, level + 1, indent) for x in obj) + "\n" + " " * (indent * level) + "]"
        pad = " " * (indent * (level + 1))
        return "[\n" + ",\n".join(pad + _render(x, level + 1, indent) for x in obj) + "\n" + " " * (indent * level) + "]"
    if isinstance(obj, float):
        _finite(obj)
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def dumps_json(obj: Any, *, indent: int | None = 1) -> str:
    """Canonical JSON text: key order as given, lists of scalars on one line, no NaN/inf, final newline.

    The same object always gives the same bytes (floats use Python's shortest round-trip repr).
    ``indent=None`` gives the most compact form (one line).
    """
    if indent is None:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
    return _render(obj, 0, indent) + "\n"


def write_json(path: str | Path, obj: Any, *, indent: int | None = 1) -> Path:
    return atomic_write_text(path, dumps_json(obj, indent=indent))


def atomic_savez(path: str | Path, **arrays) -> Path:
    """``numpy.savez_compressed`` to a temp file and rename (deterministic bytes for same arrays)."""
    import io
    import zipfile

    import numpy as np

    # numpy's savez embeds the current time in zip entries; write entries with a fixed date so the
    # same arrays give byte-identical files.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            arr = np.asanyarray(arrays[name])
            b = io.BytesIO()
            np.lib.format.write_array(b, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, b.getvalue())
    return atomic_write_bytes(path, buf.getvalue())
