"""Deployed metrics of a trained model: map it (quantize → map → config), run the config on the
emulator over mismatched boards, and apply the task's metric per board.

    python tools/eval_deployed.py demo-out/model.json frozen-noise [--boards 16] [--sigma 0.1]

Prints, per board, the task metric (frozen-noise: FRR of each trained sample, and on the unseen
noise samples the median FRR and the largest win fraction; other tasks: test accuracy), then the
summary the issue asks for (e.g. frozen-noise: boards with FRR ≥ 5 on both samples).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurodeploy.backends.emulator import Emulator  # noqa: E402
from neurodeploy.deploy import deploy  # noqa: E402
from neurodeploy.profile import load_profile  # noqa: E402
from neurodeploy.importers import load_network  # noqa: E402
from neurodeploy.train.task import get_task  # noqa: E402


def board_counts(cfg, profile, data, boards, sigma, seed, readout, chunk=64):
    """Read-out channel counts [1 + boards, n, channels] (0 = nominal board; neuron counts @ ``readout``)."""
    emu = Emulator(cfg, profile, dt=data.dt)
    out = []
    for i in range(0, data.n, chunk):
        r = emu.run(data.spikes[i:i + chunk], data.dt, mismatch=sigma, seed=seed, trials=boards,
                    with_nominal=True)
        w0, w1 = data.window
        out.append(np.asarray(r.outputs)[:, :, w0:w1].sum(axis=2) @ readout)
    return np.concatenate(out, axis=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("task")
    ap.add_argument("--boards", type=int, default=16)
    ap.add_argument("--sigma", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    prof = load_profile("dynapse2")
    spec = load_network(a.model, profile=prof)
    task = get_task(a.task)
    d = deploy(spec, prof)
    print(f"map: weight error {d.report.get('weights', d.report.get('quantize', {})).get('relative_rms_error', '?')}")
    splits = {"train": task.data("train", seed=a.seed), "test": task.data("test", seed=a.seed)}
    res = {}
    for name, data in splits.items():
        c = board_counts(d.config, prof, data, a.boards, a.sigma, a.seed, spec.readout_matrix())
        res[name] = [task.metrics(ci, data) for ci in c]
    summary = {"boards": a.boards, "sigma": a.sigma}
    if a.task == "frozen-noise":
        frr = np.array([m["frr"] for m in res["train"][1:]])
        noise_med = np.array([m.get("noise_frr_median", np.nan) for m in res["test"][1:]])
        noise_win = np.array([m.get("noise_max_win_fraction", np.nan) for m in res["test"][1:]])
        for b in range(a.boards):
            print(f"board {b:2d}: FRR {frr[b].round(2).tolist()}  unseen noise: median FRR {noise_med[b]:.2f}, "
                  f"max win fraction {noise_win[b]:.2f}")
        summary.update(boards_frr_ge5_both=int(np.sum(frr.min(axis=1) >= 5)), median_frr_min=float(np.median(frr.min(axis=1))),
                       nominal_frr=res["train"][0]["frr"], noise_frr_median=float(np.median(noise_med)),
                       noise_max_win_fraction_median=float(np.median(noise_win)))
    else:
        acc = np.array([m["accuracy"] for m in res["test"][1:]])
        print("test accuracy per board:", acc.round(3).tolist())
        summary.update(nominal_board_accuracy=res["test"][0]["accuracy"], median_accuracy=float(np.median(acc)),
                       min_accuracy=float(acc.min()))
    print(json.dumps(summary, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps({"summary": summary, "per_board": res}, indent=1, default=float))


if __name__ == "__main__":
    main()
