"""The training settings: :class:`TrainConfig` (every option of ``neurodeploy train``), checked on creation; its
:meth:`~TrainConfig.settings` are what a checkpoint and the model's ``metadata.training`` record."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .losses import LOSSES
from .task import TrainError

#: TrainConfig fields that may differ between a run and its --resume.
RESUMABLE = ("epochs", "stop_after", "progress")


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.01
    seed: int = 0
    loss: str = "ce"
    beta: float = 1.0                  # CE inverse temperature (per spike)
    clip: float = 1.0                  # global gradient-norm clip
    mismatch: float = 0.1              # σ of the mismatch factors (0: nominal chip only)
    draws: int = 4                     # mismatch draws per step (vmapped, loss averaged)
    redraw_every: int = 1              # fresh draws every K steps
    fan_in: bool = True
    fanin_every: int = 10
    qat: bool = True
    qat_epochs: int = 0                # 0: max(1, epochs // 4)
    qat_lr_factor: float = 0.3
    bias_range: bool = True
    train_currents: tuple = ()
    learn_delays: bool = False         # train per-synapse delays (s) within the chip's delay range
    max_delay: float = 0.0             # s, upper bound of learned delays (0: the task's, else the chip's/format's)
    ratio_weight: float = 0.0          # weight of the firing-rate-ratio hinge (losses.ratio_hinge)
    ratio_target: float = 8.0
    noise_weight: float = 0.0          # weight of the noise term (losses.noise_top) on trials without a class
    rate_reg: float = 0.0
    rate_max: float = 100.0
    patience: int = 0                  # float-phase early stopping (epochs without improvement; 0 = off)
    eval_draws: int = 8
    eval_every: int = 1                # validate every K epochs (and at the end of each phase)
    fresh_data: bool = True            # a fresh Poisson realisation of the training split every epoch
    stop_after: int | None = None      # stop after this many epochs in total (resume later)
    progress: bool = True
    chip_sha256: str | None = None     # fine-tuning for a measured chip: its chip profile's sha256 (resume checks it)
    precise_timing: bool = False       # spikes act at their times inside the step (neurodeploy.sim.model, (P1)–(P4))

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise TrainError(f"loss {self.loss!r}: expected one of {', '.join(LOSSES)}")
        for k in ("epochs", "batch_size", "draws", "redraw_every", "fanin_every", "eval_draws", "eval_every"):
            if int(getattr(self, k)) < 1:
                raise TrainError(f"--{k.replace('_', '-')} must be >= 1, got {getattr(self, k)}")
        if not (self.lr > 0 and self.mismatch >= 0):
            raise TrainError(f"--lr must be > 0 and --mismatch >= 0 (got {self.lr}, {self.mismatch})")
        self.train_currents = tuple(self.train_currents)

    @property
    def n_qat(self) -> int:
        if not self.qat:
            return 0
        return min(self.epochs - 1, self.qat_epochs or max(1, self.epochs // 4)) if self.epochs > 1 else 0

    def settings(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("stop_after", "progress")
             and not (k == "chip_sha256" and v is None) and not (k == "precise_timing" and not v)}
        d["train_currents"] = list(self.train_currents)
        d["qat_epochs"] = self.n_qat
        return d
