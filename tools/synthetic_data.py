"""A synthetic labelled spike data set in the format ``neurodeploy train --data`` reads.

Each class k drives its own group of channels (k·6 … k·6 + 7, overlapping its neighbours by two) at ``--high``
Hz over a ``--low`` Hz background, Bernoulli per 1 ms bin; classes balanced and shuffled. Used for the own-data
row of docs/results.md:

    python tools/synthetic_data.py --seed 7 --trials 60 -o train.npz
    python tools/synthetic_data.py --seed 8 --trials 60 -o test.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurodeploy.fileio import atomic_savez  # noqa: E402


def make(seed: int, trials: int, channels: int = 20, classes: int = 3, steps: int = 120, dt: float = 1e-3,
         high: float = 45.0, low: float = 8.0) -> dict:
    """The arrays: ``spikes`` [trials, steps, channels] uint8, ``labels`` [trials], ``dt`` (s)."""
    g = np.random.default_rng(1000 + seed)
    rates = np.full((classes, channels), low)
    for k in range(classes):
        rates[k, k * 6:(k + 1) * 6 + 2] = high
    labels = np.arange(trials) % classes
    g.shuffle(labels)
    p = np.broadcast_to(rates[labels][:, None, :] * dt, (trials, steps, channels))
    return {"spikes": (g.random(p.shape) < p).astype(np.uint8), "labels": labels, "dt": dt}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    d = make(a.seed, a.trials, a.channels, a.classes)
    atomic_savez(a.output, **d)
    print(f"wrote {a.output}: {a.trials} trials x {d['spikes'].shape[1]} bins x {a.channels} channels, {a.classes} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
