"""File writing helpers: atomic writes (temp file + rename) and canonical JSON.

Every output file of neurodeploy goes through :func:`atomic_write_bytes`, so a crash or a bad
input never leaves a half-written file; JSON goes through :func:`dumps_json`, so the same
content always gives the same bytes.

Output paths are checked first (:func:`check_output_path`): an empty path, a directory, a device or
other special file, or a path under a regular file is a one-line :class:`OutputError`; a symlink is
written through (its target is replaced, the link stays). Temp files are named
``.NAME.PID.XXXX.tmp`` next to the target and removed on any exception, KeyboardInterrupt or
SIGTERM (the CLI turns SIGTERM into an exception); one left by a killed process (its PID no longer
runs) is removed by the next write of the same file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import NeurodeployError


class OutputError(NeurodeployError):
    """An output path that cannot (or must not) be written."""


def check_output_path(path: str | Path, option: str = "-o") -> Path:
    """The path to write for ``path`` (symlinks resolved), or an :class:`OutputError` saying why not."""
    if path is None or str(path).strip() == "":
        raise OutputError(f"{option}: empty output path (give a file name, e.g. {option} out.json)")
    p = Path(path)
    if p.is_symlink():
        p = Path(os.path.realpath(p))
    if p.exists():
        if p.is_dir():
            raise OutputError(f"{option} {path}: is a directory (give a file name inside it)")
        if not p.is_file():
            raise OutputError(f"{option} {path}: is a special file (device, pipe or socket); refusing to replace it")
    parent = p.parent
    for anc in [parent, *parent.parents]:
        if anc.exists():
            if not anc.is_dir():
                raise OutputError(f"{option} {path}: {anc} is not a directory")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise OutputError(f"{option} {path}: directory {anc} is not writable")
            break
    return p


def _remove_stale_temps(path: Path) -> None:
    """Remove ``.NAME.PID.*.tmp`` temp files of ``path`` whose writing process no longer runs."""
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    prefix = f".{path.name}."
    for n in names:
        if not (n.startswith(prefix) and n.endswith(".tmp")):
            continue
        pid = n[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue                      # still running: not stale
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.unlink(path.parent / n)
        except OSError:
            pass


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
    path = check_output_path(path, option=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{path}: cannot create directory {path.parent} ({e.strerror})") from None
    _remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, _file_mode(path))  # mkstemp creates 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
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


def write_texts(outputs: dict) -> list[Path]:
    """Write several outputs as one step: ``{path: text}`` — each path is checked first and every text is
    already rendered, so a failure on one output leaves none written (each write is atomic)."""
    items = [(check_output_path(p, option=str(p)), t) for p, t in outputs.items() if p]
    return [atomic_write_text(p, t) for p, t in items]


def check_outputs(paths: dict) -> None:
    """Check every output path (option → path) before any work: one line naming the option if unusable, or
    if two options name the same file."""
    seen = {}
    for opt, path in paths.items():
        if path is None:
            continue
        p = check_output_path(path, opt)
        if p in seen:
            raise OutputError(f"{opt} {path}: the same file as {seen[p]}; give each output its own file")
        seen[p] = opt


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed (numbers must be finite)")


def parse_json(text: str, path, error=NeurodeployError) -> Any:
    """Parse a neurodeploy file's JSON strictly (NaN/Infinity refused); a problem is one ``error`` line
    naming ``path`` and, for a syntax error, the line and column."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise error(f"{path}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise error(f"{path}: invalid JSON: {e}") from None


#: A float as YAML 1.2 and JSON write it; YAML 1.1 (PyYAML's resolver) wants a decimal point, so it would read
#: ``1e-12`` — the way JSON and most programs write a capacitance — as the string "1e-12".
_FLOAT_12 = (r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


def load_yaml(text: str | bytes):
    """Parse YAML (or JSON) with PyYAML's safe loader, numbers read as YAML 1.2 does: ``1e-12`` and ``5E3``
    are floats (:data:`_FLOAT_12`), as ``1.0e-12`` already is. Raises ``yaml.YAMLError`` as ``yaml.safe_load``."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_FLOAT_12), list("-+0123456789."))
    return yaml.load(text, Loader=Loader)
