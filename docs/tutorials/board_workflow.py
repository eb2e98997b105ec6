"""Tutorial: the board workflow — selftest, map, run, verify — with the emulator standing in for the board.

    python docs/tutorials/board_workflow.py [--trials 16] [--out DIR]

Runs the ``neurodeploy`` commands a lab member runs on a Dynap-SE2 board, each with ``--backend emulator``
(on a board: ``--backend samna``, see the guide "Run on a board"), on the shipped example
``examples/frozen_noise/``. Writes into DIR (default: the current folder) selftest.json, config.json,
run.npz, verify.json, verify's pictures in plots/, and board_selftest.png and board_events.png. Under a
minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "frozen_noise"


def neurodeploy(*args, check: bool = True) -> int:
    """Run one ``neurodeploy`` command (the one installed next to this Python), printing it and its output."""
    exe = Path(sys.executable).with_name("neurodeploy")
    exe = str(exe) if exe.exists() else shutil.which("neurodeploy")
    print("$ neurodeploy " + " ".join(str(a) for a in args), flush=True)
    code = subprocess.run([exe, *map(str, args)]).returncode
    if check and code:
        raise SystemExit(code)
    return code


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16, help="emulated mismatched boards verify judges")
    ap.add_argument("--out", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    # 1. Smoke test: a probe configuration on every core (DC firing, one synapse per dendrite type, routes)
    neurodeploy("selftest", "--backend", "emulator", "--json", out / "selftest.json")
    # 2. Map: every output neuron gets a route to the host (the only way a board reports a spike)
    neurodeploy("map", EXAMPLE / "model.json", "-o", out / "config.json")
    # 3. Run the config on the inputs; the output file is the same whichever backend ran it
    neurodeploy("run", out / "config.json", "--input", EXAMPLE / "inputs.npz", "-o", out / "run.npz",
                "--backend", "emulator")
    # 4. The gate: float network vs the deployed config over mismatched boards; exit status 1 on FAIL
    code = neurodeploy("verify", EXAMPLE / "model.json", out / "config.json", "--input", EXAMPLE / "inputs.npz",
                       "--labels", EXAMPLE / "labels.npy", "--trials", args.trials, "--json", out / "verify.json",
                       "--plot", out / "plots", check=False)

    plot(out, json.loads((out / "selftest.json").read_text()), np.load(out / "run.npz"))
    raise SystemExit(code)


def plot(out: Path, selftest: dict, run) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cores = selftest["cores"]
    checks = list(cores[0]["spikes_without_with_input"])
    fig, ax = plt.subplots(1, len(cores), figsize=(10, 2.8), sharey=True)
    for a, core in zip(np.atleast_1d(ax), cores):
        counts = np.array([core["spikes_without_with_input"][c] for c in checks])     # [checks, 2]
        x = np.arange(len(checks))
        a.bar(x - 0.2, counts[:, 0], 0.4, label="without input")
        a.bar(x + 0.2, counts[:, 1], 0.4, label="with input")
        a.set(xticks=x, title=f"chip {core['chip']} core {core['core']}: {'OK' if core['ok'] else 'FAIL'}")
        a.set_xticklabels(checks, rotation=45, fontsize=8)
    np.atleast_1d(ax)[0].set(ylabel="spikes")
    np.atleast_1d(ax)[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "board_selftest.png", dpi=100)
    plt.close(fig)

    ev, dt = run["events"], float(run["dt"])          # (sample, timestamp µs, chip, core, neuron)
    steps = run["outputs"].shape[1]
    fig, ax = plt.subplots(figsize=(9, 2.6))
    for s in np.unique(ev[:, 0]):
        sel = ev[:, 0] == s
        ax.scatter(ev[sel, 1] * 1e-3 + s * steps * dt * 1e3, ev[sel, 4], marker="|", s=80, color=f"C{s % 10}")
    ax.set(xlabel="time (ms), samples one after the other", ylabel="neuron on its core",
           title="neurodeploy run --backend emulator: the events a board would report")
    fig.tight_layout()
    fig.savefig(out / "board_events.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
