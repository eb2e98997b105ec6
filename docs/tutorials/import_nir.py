"""Tutorial: import a NIR graph, deploy it and check that the chip does what the file says.

    python docs/tutorials/import_nir.py [--trials 16] [--out DIR]

Reads the shipped example ``examples/frozen_noise/model.nir`` (a 60-input, 2-neuron recurrent classifier written
by ``neurodeploy export``; a graph from snnTorch, Norse, Sinabs, SpikingJelly or Rockpool imports the same way,
with ``convention=...``) with the inputs and labels beside it, and writes into DIR (default: the current folder) model.json (the import as neurodeploy's own format),
config.json, and the pictures nir_counts.png and nir_raster.png. Under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "frozen_noise"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16, help="emulated mismatched boards verify judges")
    ap.add_argument("--out", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    from neurodeploy import deploy, emulate, load_network, simulate, verify

    # 1. Import. NIR has no time step and no units: give dt (s); `convention` names the framework whose
    #    numbers the file holds (default "nir"). Everything the import assumed is in metadata["import"].
    network = load_network(EXAMPLE / "model.nir", dt=1e-3)
    network.save(out / "model.json")
    print(f"imported: {network.n_inputs} inputs, populations {[(p.name, p.size) for p in network.populations]}")
    for line in network.metadata["import"]["assumptions"]:
        print(f"  assumed: {line}")

    # 2. The import on the float DPI model, next to the same network written by hand as model.json
    z = np.load(EXAMPLE / "inputs.npz")
    x, dt = z["spikes"], float(z["dt"])
    labels = np.load(EXAMPLE / "labels.npy")
    nir_out = simulate(network, x, dt=dt)
    json_out = simulate(load_network(EXAMPLE / "model.json"), x, dt=dt)
    counts = {name: o["spikes"][..., o["output_indices"]].sum(1) for name, o in
              (("NIR import", nir_out), ("model.json", json_out))}
    print("output spikes per sample, NIR import:", counts["NIR import"].tolist())

    # 3. Deploy and run on the emulator (the nominal chip)
    d = deploy(network)
    d.config.save(out / "config.json")
    emulated = emulate(d.config, x, dt=dt)
    counts["deployed (emulated)"] = emulated.outputs.sum(1)

    # 4. The gate: float vs deployed over mismatched boards; exit status 1 on FAIL, as `neurodeploy verify`
    report = verify(network, d.config, x, dt=dt, labels=labels, trials=args.trials)
    for c in report["checks"]:
        print(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['name']}: {c['value']} (limit {c['limit']})")
    print("PASS" if report["passed"] else "FAIL")

    plot(out, counts, labels, emulated, dt)
    raise SystemExit(0 if report["passed"] else 1)


def plot(out: Path, counts: dict, labels: np.ndarray, emulated, dt: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    width = 0.8 / len(counts)
    for k in range(2):
        for j, (name, c) in enumerate(counts.items()):
            ax[k].bar(np.arange(n) + (j - 1) * width, c[:, k], width, label=name)
        ax[k].set(xlabel="sample (label)", title=f"output neuron {k}", xticks=range(n),
                  xticklabels=[f"{i} ({y})" for i, y in enumerate(labels)])
    ax[0].set(ylabel="spikes per sample")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "nir_counts.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 2.6))
    ev = emulated.events()                    # (sample, timestamp µs, chip, core, neuron): what a board reports
    for s in range(n):
        sel = ev[:, 0] == s
        ax.scatter(ev[sel, 1] * 1e-3 + s * emulated.outputs.shape[1] * dt * 1e3, ev[sel, 4], marker="|", s=80,
                   color=f"C{int(labels[s])}")
    ax.set(xlabel="time (ms), the 8 samples one after the other", ylabel="neuron", yticks=[0, 1],
           title="deployed (emulated) output events; colour = the sample's label")
    fig.tight_layout()
    fig.savefig(out / "nir_raster.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
