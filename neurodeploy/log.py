"""Messages to the user on stderr: verbosity (``-v``/``-q``), warnings, timed stages, progress bars.

Levels: −1 quiet (errors only), 0 default (warnings, progress bars on a terminal), 1 verbose (every
stage with its wall time), 2 debug. Standard output stays for results (summaries, PASS/FAIL), so a
command's output can be piped while its progress shows on the terminal.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings

_VERBOSITY = 0


def set_verbosity(level: int) -> None:
    """Set the level (−1 quiet … 2 debug) and route Python warnings through :func:`warn`."""
    global _VERBOSITY
    _VERBOSITY = int(level)
    warnings.showwarning = _show_warning


def verbosity() -> int:
    return _VERBOSITY


def _show_warning(message, category, filename, lineno, file=None, line=None):
    warn(f"{message}")


def warn(msg: str) -> None:
    """One line ``warning: …`` on stderr (suppressed by ``-q``)."""
    if _VERBOSITY >= 0:
        print(f"warning: {' '.join(str(msg).split())}", file=sys.stderr, flush=True)


def info(msg: str) -> None:
    """A line on stderr with ``-v``."""
    if _VERBOSITY >= 1:
        print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def stage(desc: str):
    """``with stage("compiling the float network"):`` — with ``-v`` prints the stage and its wall time."""
    t0 = time.perf_counter()
    info(f"{desc} ...")
    yield
    info(f"{desc}: done in {time.perf_counter() - t0:.2f} s")


def show_progress() -> bool:
    """Progress bars show on a terminal (not with ``-q``), or always with ``-v``."""
    return _VERBOSITY >= 1 or (_VERBOSITY >= 0 and sys.stderr.isatty())


def progress(iterable, total: int | None = None, desc: str = ""):
    """A progress bar (tqdm) on stderr when :func:`show_progress`; the plain iterable otherwise."""
    show = show_progress()
    if not show:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:   # tqdm is a dependency; a broken install still runs, without a bar
        return iterable
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False, disable=not show)
