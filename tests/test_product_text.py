"""The product's text speaks of the product: no development-history wording in the package, tests, tools,
examples, docs or README.

Docstrings, comments and documents describe what the code does and why; how it was developed (numbered
rounds of work, tracker references, the developer's machine and its load, what was tried and dropped)
belongs in the version history, and measurement history in docs/performance-history.md. Every text file
that git knows under the checked folders (tracked, or new and not ignored) is read as a whole, so wording
broken across two lines is found too; binary files and tests/data/ are skipped. A failure lists file:line
and the matching text of every hit.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("neurodeploy/", "tests/", "tools/", "examples/", "docs/")
FILES = ("README.md",)
SKIP = ("tests/data/",)

# The patterns are assembled from pieces so that this file does not match them itself. ``\s+`` stands for
# a space so that a phrase wrapped onto the next line still matches.
_S = r"\s+"
_SESSION = "ses" + "sion"
_ISSUE = "iss" + "ue"
_MACHINE = "mach" + "ine"
_KEPT = "not" + _S + "kept"
PATTERNS = {
    "numbered round of work": rf"\b{_SESSION}s?(?:{_S}|-)\d",
    "tracker reference": rf"\b{_ISSUE}\s?#?\d+",
    "the tracker's text": rf"\bthe{_S}{_ISSUE}(?:'s)?\b",
    "the developer's machine": rf"\bthis{_S}(?:2-core{_S})?{_MACHINE}\b",
    "machine load": r"\b" + "lo" + "ad" + _S + r"(?:average" + _S + r")?\d",
    "what was dropped": _KEPT,
    "what was tried": rf"\btried,?{_S}(?:and{_S})?(?:{_KEPT}|" + "rev" + "erted)",
}
_RE = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(PATTERNS.values())), re.IGNORECASE)
_LABELS = list(PATTERNS)


def _in_scope(rel: str) -> bool:
    return (rel in FILES or rel.startswith(FOLDERS)) and not rel.startswith(SKIP)


def _files() -> list[str]:
    """The checked files: git's tracked files plus new ones it does not ignore (a walk without git)."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for top in FOLDERS + FILES:
            base = ROOT / top
            if base.is_file():
                names.append(top)
            for d, dirs, files in os.walk(base):
                dirs[:] = [x for x in dirs if x not in ("__pycache__", ".pytest_cache")]
                names += [(Path(d) / f).relative_to(ROOT).as_posix() for f in files]
    return sorted({n for n in names if _in_scope(n) and (ROOT / n).is_file()})


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def hits(rel: str, text: str) -> list[str]:
    """``file:line: [kind] matching text`` for every development-history phrase of ``text``."""
    out = []
    for m in _RE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        kind = _LABELS[int(m.lastgroup[1:])]
        out.append(f"{rel}:{line}: [{kind}] {' '.join(m.group().split())!r}")
    return out


def test_patterns_find_history_wording():
    samples = ["measured in " + _SESSION + " 5", "Session\n6 (" + _ISSUE + " 11)", _ISSUE + " #9's refactor",
               "as the " + _ISSUE + " prescribes", "on this 2-core " + _MACHINE, "lo" + "ad 7", "lo" + "ad average 3.5",
               "tried, not" + " kept", "Tried and " + "rev" + "erted", _SESSION + "-7 numbers"]
    for s in samples:
        assert hits("x", s), s
    product = ['@pytest.fixture(scope="' + _SESSION + '")', "a board " + _SESSION + " that cannot hang",
               "load a config, then run", "reload 2 files", "download 3 wheels"]
    for s in product:
        assert not hits("x", s), s


def test_no_development_history_in_product_text():
    found, checked = [], 0
    for rel in _files():
        text = _text(ROOT / rel)
        if text is None:
            continue
        checked += 1
        found += hits(rel, text)
    assert checked, "no files found to check"
    assert not found, ("development-history wording (say what the product does and why; measurements go "
                       "to docs/performance-history.md):\n" + "\n".join(found))
