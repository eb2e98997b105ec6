"""``neurodeploy evaluate``: a trained model's task metric after deployment, on emulated mismatched boards."""

from __future__ import annotations

import click


@click.command("evaluate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("task")
@click.option("--boards", type=click.IntRange(min=0), default=16, show_default=True,
              help="Mismatched emulated boards (the nominal board is always scored too).")
@click.option("--mismatch", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Boards' mismatch seed and the task data's Poisson realisation.")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Splits to score (repeatable; default: train and test).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the summary and every board's metrics as JSON.")
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="Emulate the boards with precise spike timing (as `emulate --precise-timing`): a spike acts on its "
                   "targets at its time inside the step (off: the deployed numbers as before).")
def evaluate_cmd(model, task, boards, mismatch, seed, splits, profile_name, json_path, precise_timing):
    """Map MODEL and score the built-in TASK's metric on the nominal and BOARDS mismatched emulated boards.

    The metric is the one training reports (accuracy, and for frozen-noise the firing-rate ratios).
    """
    from ..device.profile import load_profile
    from ..evaluate import evaluate, format_evaluation
    from ..fileio import check_output_path
    from ..importers import load_network
    from ..train.tasks import get_task

    if json_path:
        check_output_path(json_path, "--json")
    prof = load_profile(profile_name)
    network = load_network(model, profile=prof)
    ev = evaluate(network, get_task(task), prof, boards=boards, sigma=mismatch, seed=seed,
                  splits=tuple(splits) or ("train", "test"), task_name=task, precise_timing=precise_timing)
    click.echo(format_evaluation(ev))
    if json_path:
        from ..fileio import write_json

        write_json(json_path, {"summary": ev.summary(), "per_board": ev.per_board})
    return 0
