"""``neurodeploy yield``: what fraction of chips a deployment works on (a Monte-Carlo study over emulated boards)."""

from __future__ import annotations

import click


@click.command("yield")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="npz with 'spikes' [B, T, n_inputs] or spike 'times' with 'channels' (and optional 'labels'), as "
                   "verify reads.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="The float model as the reference (else the nominal emulated board).")
@click.option("--boards", type=click.IntRange(min=1), default=100, show_default=True, help="Emulated boards.")
@click.option("--unit-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Boards per unit (one vmapped call; a unit is the piece that is written and resumed).")
@click.option("--mismatch", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Board b is `emulate --seed SEED+b`.")
@click.option("--window", default=None, metavar="START:STOP", help="Read-out window in steps (default: the whole input).")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False), help="Study folder.")
@click.option("--resume", is_flag=True, help="Continue the study in the folder: compute only its missing units.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: units one after another in this process; ray: units as Ray tasks.")
@click.option("--address", default=None, help="ray: the cluster's address ('auto': the running one; default: start a "
                                               "local cluster on this computer's CPUs).")
@click.option("--plot", is_flag=True, help="Also write histogram.png and yield_vs_tolerance.png (needs matplotlib).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="The reference and every board with precise spike timing (board b as `emulate --precise-timing`): a "
                   "spike acts on its targets at its time inside the step; recorded in the manifest (off: as before).")
def yield_cmd(config, input_path, model_path, boards, unit_size, mismatch, seed, window, out, resume, engine, address,
              plot, profile_name, precise_timing):
    """Emulate CONFIG on many mismatched boards: the distribution of its fidelity and the yield at verify's gates.

    Writes OUT/summary.json and OUT/summary.md (and OUT/units/, OUT/manifest.json).
    """
    from ..device.profile import load_profile
    from ..study.engines import LocalEngine, RayEngine
    from ..study.run import run_study
    from .options import parse_window_option

    eng = RayEngine(address=address) if engine == "ray" else LocalEngine()
    if engine == "local" and address:
        raise click.BadParameter("--address goes with --engine ray", param_hint="--address")
    s = run_study(config, input_path, out, model_path=model_path, boards=boards, unit_size=unit_size, seed=seed,
                  sigma=mismatch, window=parse_window_option(window), profile=load_profile(profile_name),
                  resume=resume, engine=eng, plot=plot, precise_timing=precise_timing)
    y = s["yield"]
    click.echo(f"yield {y['fraction']:.1%} ({y['passed']}/{s['boards']} boards; 95 % interval "
               f"{y['ci95'][0]:.1%}–{y['ci95'][1]:.1%}); wrote {out}/summary.json and summary.md")
    return 0


@click.command("sweep")
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False), help="Sweep folder.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: runs one after another in this process; ray: runs as Ray Tune trials.")
@click.option("--scheduler", type=click.Choice(["asha"]), default=None,
              help="ray: stop unpromising runs early on the sweep's metric (ASHA).")
@click.option("--address", default=None, help="ray: the cluster's address ('auto': the running one).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
def sweep_cmd(sweep_file, out, engine, scheduler, address, profile_name):
    """Train the runs of SWEEP_FILE (seeds × options), deploy each and score it by its yield; export the best.

    Writes OUT/results.json, OUT/results.md, OUT/runs/<id>/ and OUT/best/{model,config}.json.
    """
    from ..device.profile import load_profile
    from ..study.sweep import load_sweep, run_sweep

    r = run_sweep(load_sweep(sweep_file), out, engine=engine, scheduler=scheduler, address=address,
                  profile=load_profile(profile_name))
    best = next(x for x in r["runs"] if x["id"] == r["best"])
    click.echo(f"{len(r['runs'])} runs; best {best['id']}: deployed yield {best['yield']:.1%}; wrote {out}/results.md "
               f"and {out}/best/")
    return 0
