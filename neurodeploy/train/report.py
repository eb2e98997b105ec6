"""The training report, written next to the model: ``<model>.report.json``, ``.report.md`` and,
when matplotlib is installed (``pip install matplotlib``), ``.report.png`` with the loss and
accuracy curves, an input raster and the output rasters per class, the FRR histogram of unseen noise
(frozen-noise), the confusion matrix (classification tasks with > 2 classes) and the test accuracy
across mismatch draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fileio import atomic_write_text, dumps_json


def _paths(output: Path) -> dict:
    stem = output.name[:-5] if output.name.endswith(".json") else output.name
    return {k: output.with_name(f"{stem}.report.{k}") for k in ("json", "md", "png")}


def confusion(counts: np.ndarray, data) -> np.ndarray:
    """[C, C] counts of (label, prediction) over the trials with a target class."""
    pos = data.positive
    C = counts.shape[1]
    m = np.zeros((C, C), np.int64)
    np.add.at(m, (data.labels[pos], np.argmax(counts[pos], axis=1)), 1)
    return m


def noise_frr(counts: np.ndarray, data) -> np.ndarray:
    """FRR = (top + 1)/(second + 1) of the trials without a target class (unseen noise)."""
    neg = ~data.positive
    if not neg.any() or counts.shape[1] < 2:
        return np.zeros(0)
    c = np.sort(counts[neg], axis=1)
    return (c[:, -1] + 1.0) / (c[:, -2] + 1.0)


def _markdown(task, history, metrics, cons, paths, conf, chip: str = "nominal chip") -> str:
    t = metrics["test"]
    mm = metrics["test_mismatch"]
    lines = [f"# Training report: {task.name}", "",
             f"- test accuracy ({chip}): **{t.get('accuracy', float('nan')):.3f}**"]
    if getattr(task, "test_description", None):
        lines.append(f"- test split: {task.test_description}")
    if mm.get("accuracy"):
        a = np.asarray(mm["accuracy"])
        lines.append(f"- test accuracy over {a.size} mismatch draws: median **{np.median(a):.3f}**, min {a.min():.3f}, max {a.max():.3f}")
    for k in ("frr_min", "frr_median", "noise_frr_median", "noise_max_win_fraction"):
        if k in t:
            lines.append(f"- {k}: {t[k]:.3f}")
    lines += ["", "## Hardware constraints", "",
              f"- fan-in: max {cons['fan_in_max']} CAM entries per neuron (limit {cons['fan_in_limit']}): "
              f"{'ok' if cons['fan_in_ok'] else 'EXCEEDED'}",
              f"- currents inside the bias generator's range: {'yes' if cons['currents_in_bias_range'] else 'NO: ' + ', '.join(cons['currents_out_of_range'])}",
              f"- weight error of `map` (relative RMS): {cons['map_weight_error']}" + (" (quantization-aware trained)" if cons["qat"] else ""),
              "", "## Curves", "", "| epoch | phase | train loss | train acc | val acc nominal | val acc mismatch |",
              "|---|---|---|---|---|---|"]
    for h in history:
        lines.append(f"| {h['epoch']} | {h['phase']} | {h['train_loss']:.4f} | {h['train_acc']:.3f} | "
                     f"{h['val_acc_nominal']:.3f} | {h['val_acc_mismatch']:.3f} |")
    if conf is not None and conf.shape[0] > 2:
        lines += ["", "## Confusion matrix (rows: label, columns: prediction)", ""]
        lines += [" ".join(f"{v:4d}" for v in row) for row in conf]
    if paths["png"].exists():
        lines += ["", f"![training report]({paths['png'].name})"]
    return "\n".join(lines) + "\n"


def write_report(output, task, st, trainer, theta, weights, history, metrics, cons, test_d, counts) -> dict:
    output = Path(output)
    paths = _paths(output)
    conf = confusion(counts[0], test_d) if test_d.positive.any() else None
    frr = noise_frr(counts[0], test_d)
    atomic_write_text(paths["json"], dumps_json({
        "task": task.name, "test_split": getattr(task, "test_description", None), "history": history,
        "metrics": metrics, "constraints": cons,
        "confusion": None if conf is None else conf.tolist(), "noise_frr": frr.tolist()}))
    png = plot(paths["png"], task, st, theta, weights, history, metrics, test_d, conf, frr)
    chip = "the measured chip" if getattr(trainer, "chip", None) is not None else "nominal chip"
    atomic_write_text(paths["md"], _markdown(task, history, metrics, cons, paths, conf, chip))
    return {k: str(v) for k, v in paths.items() if k != "png" or png}


def plot(path: Path, task, st, theta, weights, history, metrics, test_d, conf, frr) -> bool:
    """The report figure; False (and a one-line note) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib not installed; the report has no pictures (pip install matplotlib)")
        return False
    from ..sim import simulate

    classes = [int(np.flatnonzero((test_d.labels == k) & test_d.positive)[0])
               for k in range(min(task.n_classes, 4)) if np.any((test_d.labels == k) & test_d.positive)]
    net = st.apply({**theta, "weights": np.asarray(weights, np.float32)})
    spikes = np.asarray(simulate(net, test_d.spikes[classes])[0]) if classes else None
    fig, ax = plt.subplots(2, 4, figsize=(18, 8))
    ep = [h["epoch"] for h in history]
    ax[0, 0].plot(ep, [h["train_loss"] for h in history], label="train")
    ax[0, 0].plot(ep, [h["val_loss_mismatch"] for h in history], label="val (mismatch)")
    ax[0, 0].set(title="loss", xlabel="epoch", ylabel="loss")
    ax[0, 0].legend()
    for k, lab in (("train_acc", "train"), ("val_acc_nominal", "val nominal"), ("val_acc_mismatch", "val mismatch")):
        ax[0, 1].plot(ep, [h[k] for h in history], label=lab)
    ax[0, 1].set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.05))
    ax[0, 1].legend()
    if classes:
        t, i = np.nonzero(test_d.spikes[classes[0]])
        ax[0, 2].plot(t * test_d.dt, i, "|", ms=2)
        ax[0, 2].set(title=f"input raster (class {test_d.labels[classes[0]]})", xlabel="s", ylabel="channel")
        for j, trial in enumerate(classes):
            tt, nn = np.nonzero(spikes[j][:, st.outputs])
            ax[0, 3].plot(tt * test_d.dt, nn + j * (len(st.outputs) + 1), "|", ms=4, label=f"class {test_d.labels[trial]}")
        ax[0, 3].set(title="output rasters per class", xlabel="s", ylabel="output neuron (blocks: class)")
        ax[0, 3].legend(fontsize=7)
    a = metrics["test_mismatch"].get("accuracy") or []
    ax[1, 0].bar(range(len(a)), a)
    ax[1, 0].axhline(metrics["test"].get("accuracy", 0), color="k", ls="--", label="nominal")
    ax[1, 0].set(title="test accuracy per mismatch draw", xlabel="draw", ylabel="accuracy", ylim=(0, 1.05))
    ax[1, 0].legend()
    if frr.size:
        ax[1, 1].hist(frr, bins=20)
        ax[1, 1].set(title="FRR on unseen noise", xlabel="FRR", ylabel="trials")
    else:                                           # no noise trials: the test counts per class instead
        n_class = np.bincount(np.asarray(test_d.labels)[test_d.positive], minlength=task.n_classes)
        ax[1, 1].bar(range(task.n_classes), n_class)
        ax[1, 1].set(title="test trials per class", xlabel="class", ylabel="trials", xticks=range(task.n_classes))
    if conf is not None:
        ax[1, 2].imshow(conf, cmap="Blues")
        k = conf.shape[0]
        ax[1, 2].set(title="confusion (test, nominal)", xlabel="prediction", ylabel="label",
                     xticks=range(conf.shape[1]), yticks=range(k))
        peak = conf.max() if conf.size else 0
        for (i, j), v in np.ndenumerate(conf):
            ax[1, 2].text(j, i, str(int(v)), ha="center", va="center", fontsize=8,
                          color="white" if peak and v > peak / 2 else "black")
    else:
        ax[1, 2].axis("off")
    w = np.asarray(weights)
    ax[1, 3].hist(w[w != 0], bins=60)
    ax[1, 3].set(title="trained weights (non-zero)", xlabel="w (unitless)", ylabel="synapses")
    from matplotlib.ticker import MaxNLocator

    for a_, axis in ((ax[0, 0], "x"), (ax[0, 1], "x"), (ax[0, 2], "y"), (ax[0, 3], "y"), (ax[1, 0], "x")):
        (a_.xaxis if axis == "x" else a_.yaxis).set_major_locator(MaxNLocator(integer=True))   # epochs, channels, draws
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    from ..fileio import atomic_write_bytes

    atomic_write_bytes(path, buf.getvalue())
    return True
