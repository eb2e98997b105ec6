"""Tutorial: train a network on your own data, deploy it and verify it, in Python.

    python docs/tutorials/train_deploy_verify.py [--epochs 8] [--trials 16] [--out DIR]

Writes into DIR (default: the current folder): data.npz (a small data set made here), model.json (the
trained network), config.json (what the chip holds), and two pictures,
train_history.png and train_deployed.png. About a minute on 2 cores with the defaults; ``--epochs 1
--trials 2`` runs it in a fraction of that.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def make_data(path: Path, n_per_class: int = 16, steps: int = 100, channels: int = 24, seed: int = 0) -> Path:
    """Three classes; in each, a different third of the input channels fires at 60 Hz, the rest at 10 Hz."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n_per_class)
    group = np.arange(channels) * 3 // channels                         # channel → its class
    rate_hz = np.where(group[None, :] == labels[:, None], 60.0, 10.0)   # [n, channels]
    dt = 1e-3
    spikes = (rng.random((labels.size, steps, channels)) < rate_hz[:, None, :] * dt).astype(np.uint8)
    np.savez(path, spikes=spikes, labels=labels, dt=np.float64(dt))
    return path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--trials", type=int, default=16, help="emulated mismatched boards verify judges")
    ap.add_argument("--out", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    from neurodeploy import deploy, emulate, load_network, simulate, verify
    from neurodeploy.api import train

    # 1. Data: spikes [n, T, channels] (event counts per 1 ms bin), labels [n], dt (s)
    data = make_data(out / "data.npz")

    # 2. Train on the chip model: device mismatch (σ = 10 %), the 64-entry fan-in, the per-core weight grid
    #    and the bias generator's range are part of training (what `neurodeploy train --data` runs)
    summary = train(data, out / "model.json", hidden=16, epochs=args.epochs, batch_size=8, draws=2, seed=0,
                    progress=False, report=False)
    print(f"trained: test accuracy {summary['metrics']['test']['accuracy']:.2f} on the nominal chip")

    # 3. Deploy: quantize → map → config (what `neurodeploy map` runs)
    network = load_network(out / "model.json")
    d = deploy(network)
    d.config.save(out / "config.json")
    print(f"deployed: relative RMS weight error {d.report['weights']['relative_rms_error']:.2%}")

    # 4. The float network and the deployed config on the same inputs
    z = np.load(data)
    x, labels, dt = z["spikes"], z["labels"], float(z["dt"])
    float_out = simulate(network, x, dt=dt)
    emulated = emulate(d.config, x, dt=dt)

    # 5. Verify over mismatched boards: the gate a CI job runs (report["passed"])
    report = verify(network, d.config, x, dt=dt, labels=labels, trials=args.trials)
    acc = report["quantization_and_mismatch"]["accuracy"]
    print(f"verify: {'PASS' if report['passed'] else 'FAIL'}; accuracy float {report['reference_accuracy']:.2f}, "
          f"deployed median {acc['median']:.2f} (min {acc['min']:.2f}) over {args.trials} boards")

    plot(out, summary["history"], float_out, emulated, labels, dt)


def plot(out: Path, history: list, float_out: dict, emulated, labels: np.ndarray, dt: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [h["epoch"] for h in history]            # one entry per validated epoch
    ax[0].plot(epochs, [h["train_loss"] for h in history], "o-")
    ax[0].set(xlabel="epoch", ylabel="training loss", title="training")
    ax[1].plot(epochs, [h["val_acc_nominal"] for h in history], "o-", label="nominal chip")
    ax[1].plot(epochs, [h["val_acc_mismatch"] for h in history], "s--", label="mismatched chips")
    ax[1].set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.05), title="validation")
    ax[1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "train_history.png", dpi=100)
    plt.close(fig)

    # output spike counts per sample: float network vs the deployed config (nominal chip)
    f_counts = float_out["spikes"][..., float_out["output_indices"]].sum(1)      # [n, outputs]
    e_counts = emulated.outputs.sum(1)                                           # [n, outputs]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    per_class = f_counts.shape[1] // (int(labels.max()) + 1)                   # outputs summed per class
    for k in range(f_counts.shape[1]):
        ax[0].scatter(f_counts[:, k], e_counts[:, k], s=14, color=f"C{k // per_class}",
                      label=f"class {k // per_class}" if k % per_class == 0 else None)
    lim = max(f_counts.max(), e_counts.max(), 1) * 1.05
    ax[0].plot([0, lim], [0, lim], "k:", lw=1)
    ax[0].set(xlabel="float network: spikes per sample", ylabel="deployed (emulated): spikes", title=f"per output neuron ({per_class} per class)")
    ax[0].legend(fontsize=8)
    i = int(np.flatnonzero(labels == 1)[0])
    t, n = np.nonzero(emulated.spikes[i])                                       # every neuron on the chip
    ax[1].scatter(t * dt * 1e3, n, marker="|", s=30, color="0.3")
    ax[1].set(xlabel="time (ms)", ylabel="neuron (chip order)", xlim=(0, emulated.spikes.shape[1] * dt * 1e3),
              title=f"deployed, sample {i} (class 1): all neurons")
    for a in ax:                                                                # counts and neuron indices: integers
        a.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax[0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(out / "train_deployed.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
