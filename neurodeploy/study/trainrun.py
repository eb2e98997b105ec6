"""One run of a sweep: ``train`` into the run's folder, checkpoint kept beside it (used in-process and on Tune)."""

from __future__ import annotations

from pathlib import Path


def train_run(sweep: dict, run: dict, run_dir: Path, on_epoch=None, resume: bool = False, profile=None) -> dict:
    """Train one run into ``run_dir/model.json`` (checkpoint ``run_dir/checkpoint.npz``) → its summary."""
    from ..device.profile import load_profile
    from ..train.run import train_with_options

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    opts = dict(run["options"])
    opts.setdefault("progress", False)
    return train_with_options(sweep["task"] or sweep["data"], run_dir / "model.json", profile=profile or load_profile(),
                              report=False, keep_checkpoint=True, on_epoch=on_epoch, resume=resume,
                              checkpoint=run_dir / "checkpoint.npz", **opts)
