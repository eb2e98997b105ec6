"""The command line's persistent compilation cache: XLA programs compiled once are kept on disk.

Every ``neurodeploy`` process compiles the simulator for its network's shapes (the emulator, the
mismatch trials of ``verify``, the training step), and on 2 cores compiling is most of a small job:
``neurodeploy verify`` on the demo's 2-neuron network took 12-13 s cold and 5.3 s with the cache warm
(2 CPU cores, CPU-only JAX). JAX's persistent cache stores each compiled executable under a key of its
program, compiler version and options, so a later run of the same shapes loads it instead of compiling.
The executable is the same, so the results are the same to the bit.

Where: ``$NEURODEPLOY_CACHE_DIR``, else ``$XDG_CACHE_HOME/neurodeploy/xla``, else
``~/.cache/neurodeploy/xla``; ``NEURODEPLOY_CACHE_DIR=off`` turns it off. A user's own
``JAX_COMPILATION_CACHE_DIR`` wins. Only programs that took at least :data:`MIN_COMPILE_S` to compile are
stored, and each CLI start trims the directory to :data:`MAX_BYTES` (oldest entries first,
:func:`trim`; JAX's own size limit needs a further package, ``filelock``). A directory that cannot be
used is skipped (a one-line warning when ``NEURODEPLOY_CACHE_DIR`` named it). The library itself
(``import neurodeploy``) never turns it on: that is the caller's process to configure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Programs that compile faster than this are not stored (s).
MIN_COMPILE_S = 0.2
#: Size limit of the cache directory (bytes).
MAX_BYTES = 1 << 30
OFF = ("off", "0", "no", "false", "none", "")


def cache_dir(environ=os.environ) -> Path | None:
    """The directory the CLI caches compiled programs in, or None when turned off (module docstring)."""
    own = environ.get("NEURODEPLOY_CACHE_DIR")
    if own is not None:
        return None if own.strip().lower() in OFF else Path(own).expanduser()
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "neurodeploy" / "xla"


def enable(environ=os.environ) -> Path | None:
    """Turn the cache on for this process; returns its directory (None: off, already set by the user, or
    not writable — then everything compiles as without it). Call before the first compilation."""
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    path = cache_dir(environ)
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
        usable = os.access(path, os.W_OK)
    except OSError:
        usable = False
    if not usable:
        if environ.get("NEURODEPLOY_CACHE_DIR"):
            from .log import warn
            warn(f"NEURODEPLOY_CACHE_DIR={path}: not a writable directory; compiling without the cache "
                 "(name another directory, or set it to off)")
        return None
    trim(path)
    settings = {"jax_compilation_cache_dir": str(path), "jax_persistent_cache_min_compile_time_secs": MIN_COMPILE_S}
    if "jax" in sys.modules:         # already imported (e.g. the CLI run in-process): its config is live
        import jax
        for key, value in settings.items():
            jax.config.update(key, value)
    else:                            # read by jax when it is imported: no jax import for commands without it
        for key, value in settings.items():
            os.environ[key.upper()] = str(value)
    return path


def trim(path: Path, max_bytes: int = MAX_BYTES) -> int:
    """Delete the oldest files (by modification time) of ``path`` until it holds at most 3/4 of ``max_bytes``,
    if it holds more than ``max_bytes``; returns the number deleted. An entry removed while another process
    reads it only makes that process compile again."""
    try:
        files = [(f.stat().st_mtime, f.stat().st_size, f) for f in path.iterdir() if f.is_file()]
    except OSError:
        return 0
    total = sum(size for _, size, _ in files)
    if total <= max_bytes:
        return 0
    deleted = 0
    for _, size, f in sorted(files, key=lambda t: (t[0], t[2].name)):
        if total <= 3 * max_bytes // 4:
            break
        try:
            f.unlink()
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted
