"""Regenerate neurodeploy/train/data/digits.npz from scikit-learn's copy of the UCI 8×8 digits.

Source: the "Optical Recognition of Handwritten Digits" data set (E. Alpaydin, C. Kaynak, UCI Machine
Learning Repository, 1998; CC BY 4.0), as bundled with scikit-learn (BSD-3-Clause) and returned by
``sklearn.datasets.load_digits()``: 1,797 images of 8×8 pixels, intensities 0..16, classes 0..9.

The file holds ``images`` uint8 [1797, 64] (row-major 8×8, values 0..16) and ``labels`` uint8 [1797],
in load_digits' order, written with fixed zip timestamps (same bytes on every run).

    pip install scikit-learn          # or: pip install -e '.[tasks]'
    python tools/make_digits_data.py           # rewrite the file
    python tools/make_digits_data.py --check   # exit 1 if the committed file differs
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "neurodeploy" / "train" / "data" / "digits.npz"


def main(argv: list[str]) -> int:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("scikit-learn is needed to regenerate the digits file: pip install scikit-learn", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from neurodeploy.fileio import atomic_savez

    d = load_digits()
    images = np.asarray(d.data, np.float64)
    assert images.shape == (1797, 64) and images.min() == 0 and images.max() == 16
    assert np.all(images == np.round(images))
    arrays = {"images": images.astype(np.uint8), "labels": np.asarray(d.target).astype(np.uint8)}
    if "--check" in argv:
        with np.load(OUT, allow_pickle=False) as z:
            same = all(np.array_equal(z[k], v) for k, v in arrays.items())
        print(f"{OUT}: {'up to date' if same else 'DIFFERS'}")
        return 0 if same else 1
    atomic_savez(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
