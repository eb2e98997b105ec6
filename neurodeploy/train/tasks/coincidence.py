"""``coincidence``: classes that differ only in the relative timing of spikes across input channels.

Inputs: ``n_groups`` channel groups of ``group_size`` channels. A trial of class k holds one volley per
group: every channel of group c fires one spike at

    t_c = t_start + o_k[c]·Δ + j          (bins of dt; j ∈ {−jitter..jitter} per spike, uniform)

where ``o_k`` is class k's permutation of (0, 1, …, n_groups − 1) (:func:`patterns`: chosen so that the
delays aligning one class align as few groups of any other class as possible — for 4 groups, one; cyclic
shifts would align n_groups − 1), Δ = ``spacing`` (s) and ``t_start`` is uniform in [lead, lead + ``onset_jitter``]. Every class has the same spikes per channel, and the same set of
volley times; only which group fires when differs. Optional background Poisson noise (``background`` Hz).

Why it needs delays: with synaptic and membrane time constants well below Δ, a neuron sees the
volleys as separate events, and its response (a spike count) is the same for every ordering — a
network without delays stays near chance (1/n_classes). Delays d_c = (n_groups − 1 − o_k[c])·Δ on
the synapses of output neuron k make its class's volleys coincide: it fires, the others do not. The
delays needed are the multiples 0, Δ, …, (n_groups − 1)·Δ — with 4 groups exactly the four delays a
Dynap-SE2 core offers per CAM entry (0, t₀ + t₁, t₀ + t₂, t₀ + t₁ + t₂ with t₀ → its minimum).

The readout window is the whole trial. Splits: the trial structure (classes, onsets, jitter) of each
split is fixed by ``structure_seed``; ``data()``'s seed draws only the background noise and the jitter
of a fresh realisation.
"""

from __future__ import annotations

import numpy as np

from ..task import TaskData, TrainError, _check_split, classification_metrics
from .common import SPLIT_CODE, check_positive, check_seed, one_hot_rates, poisson_spikes, rng, task_code, set_trial_options

CODE = task_code("coincidence")


def _overlap(a, b) -> int:
    """How many groups of two orderings a, b coincide after the best common shift: max multiplicity of a − b."""
    return int(np.max(np.unique(np.asarray(a) - np.asarray(b), return_counts=True)[1]))


def patterns(n_groups: int, n_classes: int, limit: int | None = None) -> np.ndarray:
    """[n_classes, n_groups] orderings (permutations of 0..n_groups − 1) such that no delay pattern aligning
    one class aligns more than ``limit`` groups of another (the max multiplicity of o_j − o_k; searched from
    1 up, depth-first over permutations in lexicographic order: deterministic). For 4 groups and 4 classes:
    (0 1 2 3), (1 3 0 2), (2 0 3 1), (3 2 1 0) — a wrong class never brings two volleys together."""
    from itertools import permutations

    perms = [np.array(p) for p in permutations(range(n_groups))]
    for lim in ([limit] if limit else range(1, n_groups + 1)):
        chosen: list[int] = []

        def grow(start: int) -> bool:
            if len(chosen) == n_classes:
                return True
            for i in range(start, len(perms)):
                if all(_overlap(perms[i], perms[j]) <= lim for j in chosen):
                    chosen.append(i)
                    if grow(i + 1):
                        return True
                    chosen.pop()
            return False

        if grow(0):
            return np.stack([perms[i] for i in chosen])
    raise TrainError(f"task options: no {n_classes} orderings of {n_groups} groups")  # unreachable: lim = n_groups fits


class Coincidence:
    name = "coincidence"

    def __init__(self, n_groups: int = 4, group_size: int = 4, n_classes: int = 4, spacing: float = 15e-3,
                 jitter: float = 1e-3, lead: float = 5e-3, onset_jitter: float = 20e-3, tail: float = 30e-3,
                 background: float = 2.0, dt: float = 1e-3, n_train: int = 256, n_val: int = 128, n_test: int = 256,
                 structure_seed: int = 0, rate_high: float = 50.0, rate_low: float = 0.0):
        self.dt = check_positive("dt", dt)
        steps = lambda name, v: int(round(check_positive(name, v, allow_zero=True) / self.dt))  # noqa: E731
        self.n_groups = check_positive("n_groups", n_groups, integer=True)
        self.group_size = check_positive("group_size", group_size, integer=True)
        self.n_classes = check_positive("n_classes", n_classes, integer=True)
        if not 2 <= self.n_classes <= self.n_groups or self.n_groups > 6:
            raise TrainError(f"task options n_groups/n_classes: need n_groups <= 6 and 2 <= n_classes <= n_groups, got "
                             f"{n_groups}/{n_classes}")
        self.n_inputs = self.n_groups * self.group_size
        self.patterns = patterns(self.n_groups, self.n_classes)
        self.spacing = max(steps("spacing", spacing), 1)
        self.jitter, self.lead, self.onset_jitter = steps("jitter", jitter), steps("lead", lead), steps("onset_jitter", onset_jitter)
        self.tail = max(steps("tail", tail), 1)
        self.background = check_positive("background", background, allow_zero=True)
        self.n_steps = self.lead + self.onset_jitter + (self.n_groups - 1) * self.spacing + self.jitter + self.tail + 1
        set_trial_options(self, n_train, n_val, n_test, structure_seed, rate_high, rate_low)

    def offsets(self, k: int) -> np.ndarray:
        """[n_groups] class k's volley slot of each group (times Δ): row k of :func:`patterns`."""
        return self.patterns[k]

    def structure(self, split: str) -> dict:
        """The split's fixed trials: ``labels`` (balanced) and ``start`` (bin of the first volley)."""
        _check_split(split)
        n = self.sizes[split]
        g = rng(CODE, self.structure_seed, SPLIT_CODE[split], 0)
        labels = g.permutation(np.arange(n) % self.n_classes).astype(np.int64)
        start = self.lead + g.integers(0, self.onset_jitter + 1, size=n)
        return {"labels": labels, "start": start.astype(np.int64)}

    def data(self, split: str, seed: int = 0) -> TaskData:
        s = self.structure(split)
        seed = check_seed(seed)
        n, T, gs = self.sizes[split], self.n_steps, self.group_size
        gen = rng(CODE, self.structure_seed, SPLIT_CODE[split], 1, seed)
        spikes = poisson_spikes(gen, np.full((n, T, self.n_inputs), self.background), self.dt)
        jit = gen.integers(-self.jitter, self.jitter + 1, size=(n, self.n_inputs))
        ch = np.arange(self.n_inputs)
        for i in range(n):
            t = s["start"][i] + self.offsets(int(s["labels"][i]))[ch // gs] * self.spacing + jit[i]
            spikes[i, np.clip(t, 0, T - 1), ch] = 1.0
        labels = s["labels"]
        return TaskData(spikes=spikes, labels=labels, dt=self.dt,
                        target_rates=one_hot_rates(labels, self.n_classes, self.rate_high, self.rate_low))

    def architecture(self) -> dict:
        """Inputs straight to 4 output neurons per class (read out as their sum), fast synapses and membrane
        (≪ Δ): only delays can bring a class's volleys together. ``max_delay``: (n_groups − 1)·Δ plus a margin.

        One neuron per class fires ~1 spike per trial; its own mismatch (threshold, gain) and its 16 entries'
        delay mismatch decide alone, and a board's worst neuron costs the class. Four neurons, each with its own
        entries, average both out; 4 mismatch draws per step."""
        # measured (test split, 16 boards at σ 10 %, neurodeploy evaluate): 1 neuron per class, 2 draws: median
        # 90.6 %, worst 67.6 %; 4 draws: 92.0 / 62.9; 4 draws, β 0.2: 81.5 / 45.3; 4 per class, 4 draws: 99.8 / 93.8
        return {"hidden": 0, "recurrent": False, "outputs_per_class": 4, "loss": "ce", "beta": 0.5, "epochs": 30,
                "batch_size": 32, "lr": 0.02, "draws": 4, "tau_mem": 8e-3, "tau_ampa": 3e-3, "tau_gaba": 3e-3, "init_rate": 10.0,
                "max_delay": ((self.n_groups - 1) * self.spacing + 5) * self.dt}

    def metrics(self, counts: np.ndarray, data: TaskData) -> dict:
        return classification_metrics(counts, data)
