"""Pinned sha256 of the configs (and quantized networks) the deployment produces. — the command line over tests/pinning.py (see its docstring)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pinning import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
