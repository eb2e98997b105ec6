"""±1-ulp perturbation harness: are the pinned outputs robust to last-bit float noise? — the command line over tests/ulp_perturb.py (see its docstring)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ulp_perturb import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
