"""``neurodeploy task-data``: write a built-in task's split as an input npz (emulate / verify / --data format)."""

from __future__ import annotations

import click

from ..train.task import SPLITS, TrainError


def _parse_options(items: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` task options; VALUE as int, else float, else string."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TrainError(f"--option {item!r}: expected KEY=VALUE (e.g. --option n_samples=3)")
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


@click.command("task-data")
@click.argument("task")
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True, help="Which split to write.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Poisson realisation (same seed → same bytes; another → fresh spikes of the same trials).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A task option, e.g. --option n_samples=3 (repeatable).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .npz.")
def task_data_cmd(task, split, seed, options, output):
    """Write TASK's SPLIT (spikes, dt, labels, …) to an npz that emulate, verify and train --data read."""
    from ..fileio import atomic_savez
    from ..train.tasks import get_task

    t = get_task(task, **_parse_options(options))
    d = t.data(split, seed)
    atomic_savez(output, **d.arrays())
    extra = f", {int(d.negative.sum())} noise trials without a class" if d.negative is not None else ""
    click.echo(f"wrote {output}: {task} {split} split, {d.n} trials × {d.n_steps} bins × {d.n_inputs} inputs "
               f"(dt = {d.dt:g} s, {t.n_classes} classes{extra}), seed {seed}")
