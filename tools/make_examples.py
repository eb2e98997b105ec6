"""Regenerate examples/frozen_noise/: the 60-input, 2-neuron frozen-noise classifier in every file format.

    python tools/make_examples.py            # writes the files (same bytes every run)
    python tools/make_examples.py --check    # exit 1 if the committed files differ from what it would write

Task: two fixed ("frozen") Poisson spike patterns on 60 input channels, 500 ms each, with per-channel
rates drawn uniformly from 5-50 Hz (seed 2024). Neuron k must fire for pattern k. No training exists yet,
so the weights come from template matching: the input weight of neuron k from channel i is proportional
to rate_k[i] - rate_other[i] (normalised so the largest magnitude is 1, rounded to 3 decimals: unitless,
weight_scale 1e-7 A), and the two neurons inhibit each other with weight -0.5 (winner-take-all).

Files: model.json (Network), model.npz (Rockpool-style w_in / w_rec + parameters), model.nir
(``neurodeploy export``), inputs.npz (``spikes`` [batch, T, 60] uint8, ``dt``) and labels.npy [batch].
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "examples" / "frozen_noise"
SEED = 2024
N_IN, T, DT = 60, 500, 1e-3
REPEATS = 4  # noisy repetitions of each pattern in inputs.npz
PARAMS = {"tau_mem": 0.02, "tau_ampa": 0.01, "tau_gaba": 0.01, "t_ref": 0.002}
# A per unit weight: with the DPI defaults (synaptic gain ratio 100, t_pulse 10 µs) this makes the
# right neuron fire at ~60-80 Hz for its pattern and the other stay silent (checked by verify).
WEIGHT_SCALE = 1e-7


def build():
    """→ (raw network dict with convenience forms, w_in, w_rec, spikes, labels, rates)."""
    rng = np.random.default_rng(SEED)
    rates = rng.uniform(5.0, 50.0, size=(2, N_IN))                       # Hz, pattern x channel
    patterns = (rng.random((2, T, N_IN)) < rates[:, None, :] * DT).astype(np.uint8)
    diff = rates[0] - rates[1]
    w0 = np.round(diff / np.max(np.abs(diff)), 3)
    w_in = np.stack([w0, -w0], axis=1) + 0.0                               # [60 x 2]; + 0.0 turns -0.0 into 0.0
    w_rec = np.array([[0.0, -0.5], [-0.5, 0.0]])

    spikes, labels = [], []
    for k in range(2):
        for _ in range(REPEATS):
            s = patterns[k].copy()
            t_idx, c_idx = np.nonzero(s)
            keep = rng.random(t_idx.size) < 0.9                           # drop 10 % of the spikes
            jitter = rng.integers(-2, 3, size=t_idx.size)                  # move the rest by up to +-2 ms
            s[:] = 0
            s[np.clip(t_idx[keep] + jitter[keep], 0, T - 1), c_idx[keep]] = 1
            s |= (rng.random((T, N_IN)) < 2.0 * DT).astype(np.uint8)       # 2 Hz background on every channel
            spikes.append(s)
            labels.append(k)
    spikes = np.stack(spikes)                                              # [batch, T, 60]
    labels = np.asarray(labels, dtype=np.int64)

    raw = {
        "format": "neurodeploy.network/1",
        "name": "frozen_noise",
        "dt": DT,
        "n_inputs": N_IN,
        "populations": [{"name": "neurons", "size": 2, **PARAMS}],
        "projections": [
            {"source": "input", "target": "neurons", "synapse": "auto", "weight_scale": WEIGHT_SCALE, "weight": w_in.tolist()},
            {"source": "neurons", "target": "neurons", "synapse": "auto", "weight_scale": WEIGHT_SCALE, "weight": w_rec.tolist()},
        ],
        "outputs": [{"population": "neurons"}],
        "metadata": {
            "task": "frozen-noise classification: 2 frozen Poisson patterns on 60 channels, 500 ms; neuron k fires for pattern k",
            "weights": "template matching (not trained): w_in[i, k] ~ rate_k[i] - rate_other[i], max |w| = 1; "
                       "mutual inhibition -0.5",
            "seed": SEED,
            "time_constants": dict(PARAMS),
            "inputs": "inputs.npz (spikes [batch, T, 60], dt) and labels.npy",
            "generator": "tools/make_examples.py",
        },
    }
    return raw, w_in, w_rec, spikes, labels, rates


def _npy_bytes(arr) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, np.asarray(arr), allow_pickle=False)
    return b.getvalue()


def _npz_bytes(**arrays) -> bytes:
    import tempfile

    from neurodeploy.fileio import atomic_savez

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.npz"
        atomic_savez(p, **arrays)
        return p.read_bytes()


def render() -> dict[str, bytes]:
    """File name → bytes of every example file."""
    import tempfile

    from neurodeploy.importers.nir.export import export_nir
    from neurodeploy.device.profile import load_profile
    from neurodeploy.network import network_from_dict

    prof = load_profile("dynapse2")
    raw, w_in, w_rec, spikes, labels, _ = build()
    network = network_from_dict(raw, "frozen_noise", profile=prof)
    files = {"model.json": network.dumps().encode()}
    files["model.npz"] = _npz_bytes(w_in=w_in, w_rec=w_rec, dt=np.float64(DT), weight_scale=np.float64(WEIGHT_SCALE),
                                    name=np.array("frozen_noise"), **{k: np.float64(v) for k, v in PARAMS.items()})
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "model.nir"
        export_nir(network, p, profile=prof)
        files["model.nir"] = p.read_bytes()
    files["inputs.npz"] = _npz_bytes(spikes=spikes, dt=np.float64(DT))
    files["labels.npy"] = _npy_bytes(labels)
    return files


def sanity(spikes, labels, w_in, w_rec) -> float:
    """Accuracy of a plain discrete LIF (tau 20 ms, threshold 1) on the example inputs: a check the weights make sense."""
    n = spikes.shape[0]
    correct = 0
    alpha = np.exp(-DT / PARAMS["tau_mem"])
    for b in range(n):
        v = np.zeros(2)
        counts = np.zeros(2)
        z = np.zeros(2)
        for t in range(spikes.shape[1]):
            v = alpha * v + spikes[b, t] @ w_in * 0.25 + z @ w_rec
            z = (v > 1.0).astype(float)
            v[z > 0] = 0.0
            counts += z
        correct += int(np.argmax(counts) == labels[b] and counts.max() > counts.min())
    return correct / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args(argv)
    files = render()
    if args.check:
        bad = [name for name, data in files.items() if not (OUT / name).is_file() or (OUT / name).read_bytes() != data]
        for name in bad:
            print(f"examples/frozen_noise/{name}: differs from what tools/make_examples.py writes")
        return 1 if bad else 0
    from neurodeploy.fileio import atomic_write_bytes

    for name, data in files.items():
        atomic_write_bytes(OUT / name, data)
        print(f"wrote examples/frozen_noise/{name} ({len(data)} bytes)")
    _, w_in, w_rec, spikes, labels, rates = build()
    print(f"rates {rates.min():.1f}..{rates.max():.1f} Hz; {spikes.shape[0]} input samples, "
          f"{spikes.sum(axis=(1, 2)).mean():.0f} spikes each; plain-LIF sanity accuracy {sanity(spikes, labels, w_in, w_rec):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
