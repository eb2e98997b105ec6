"""``neurodeploy emulate`` (a config on the bit-accurate emulator) and ``neurodeploy simulate`` (a model on the
float DPI simulator)."""

from __future__ import annotations

import click
import numpy as np

from .options import config_run_options, import_option, check_outputs, parse_import_options, parse_window_option, window_option


@click.command("emulate")
@click.argument("config", type=click.Path(dir_okay=False))
@config_run_options
@click.option("--mismatch", type=float, default=0.0, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ); 0 = nominal chip.")
@click.option("--seed", type=int, default=0, show_default=True, help="Chip mismatch seed (frozen per emulated board).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the summary as JSON.")
@window_option
@click.option("--chip", "chip_path", type=click.Path(dir_okay=False), default=None,
              help="Chip profile (from `neurodeploy calibrate`): emulate that measured board (--mismatch: residual σ on top).")
@click.option("--hidden-chip", "hidden_chip", type=click.Path(dir_okay=False), default=None,
              help="Hidden chip (from `neurodeploy chip new`): emulate it (its own mismatch; --mismatch/--seed ignored).")
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="Spikes, and input events or spike times from their timestamps, act at their times inside the "
                   "step instead of at a step's start, and the output events carry the spikes' times (off: the "
                   "deployed numbers and events at the steps' starts, as before).")
def emulate_cmd(config, input_path, output, mismatch, seed, profile_name, json_path, window, chip_path, hidden_chip,
                precise_timing):
    """Run CONFIG on the bit-accurate emulator; writes spikes per neuron and per model output, and events.

    The same as `neurodeploy run CONFIG --backend emulator` (same npz). The printed output spike counts are
    those in the read-out window (the input's 'readout' or --window) when there is one; the npz holds every step.
    """
    from ..backends.base import run_file, summary
    from ..backends.registry import get_backend
    from ..device.profile import load_profile

    if not mismatch >= 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--mismatch")
    window = parse_window_option(window)
    check_outputs({"-o": output, "--json": json_path})
    prof = load_profile(profile_name)
    if chip_path and hidden_chip:
        raise click.UsageError("give --chip (a measured board) or --hidden-chip (a hidden one), not both")
    opts = {"hidden_chip": hidden_chip} if hidden_chip else {}
    if precise_timing:
        opts["precise_timing"] = True
    if chip_path:
        from ..device.chip_profile import load_chip_profile

        opts["chip_profile"] = load_chip_profile(chip_path)
    cfg, res = run_file(get_backend("emulator", prof, mismatch=mismatch, seed=seed, **opts), config, input_path, output,
                        profile=prof, window=window)
    if json_path:
        from ..backends.base import summary_json
        from ..fileio import write_json

        timing = {"precise_timing": True} if precise_timing else {}
        write_json(json_path, summary_json(res, cfg, mismatch_sigma=mismatch, seed=seed, **timing))
    click.echo(summary(res, cfg, "emulated"))
    click.echo(f"wrote {output}")


@click.command("simulate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="npz with 'dt' (s, = the model's dt) and 'spikes' (event counts [T, n_inputs] or [batch, T, "
                   "n_inputs]) or 'times' (s) with 'channels' (one row per input spike, each counted in its step).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="npz to write (spikes; states with --record).")
@click.option("--mismatch", type=float, default=0.0, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ); 0 = nominal chip.")
@click.option("--seed", type=int, default=0, show_default=True, help="Mismatch seed (same seed → same chip).")
@click.option("--record", is_flag=True, help="Also write every state variable (I_mem, I_ampa, ..., A) per step.")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the summary as JSON.")
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="Spikes, and input spike times ('times'), act at their times inside the step instead of at a "
                   "step's start; the npz also holds 'lateness' (s): a spike of step t is at (t + 1)·dt − lateness.")
@import_option
def simulate_cmd(model, input_path, output, mismatch, seed, record, profile_name, json_path, import_options,
                 precise_timing):
    """Simulate MODEL (Network) on the DPI model of Dynap-SE2: spikes per neuron and step."""
    from ..api import simulate
    from ..fileio import atomic_savez
    from ..inputs import load_input
    from ..device.profile import load_profile
    from ..importers import load_network

    check_outputs({"-o": output, "--json": json_path})
    prof = load_profile(profile_name)
    network = load_network(model, profile=prof, **parse_import_options(import_options))
    data = load_input(input_path, network.n_inputs, dt=network.dt, model=str(model), events=False)
    out = simulate(network, input_path if precise_timing else data["spikes"], network.dt, profile=prof,
                   mismatch=mismatch, seed=seed, record=record, precise_timing=precise_timing)
    if not data["batched"]:     # [T, n] in → [T, N] out
        out = {k: (v[0] if np.ndim(v) == 3 else v) for k, v in out.items()}
    atomic_savez(output, **out)
    batch, steps = data["spikes"].shape[:2]
    total = int(out["spikes"].sum(dtype=np.int64))
    r = {"batch": int(batch), "steps": int(steps), "neurons": network.n_neurons, "dt": network.dt, "spikes": total,
         "rate": total / max(batch * steps * network.dt * max(network.n_neurons, 1), 1e-30), "output": str(output)}
    if json_path:
        from ..fileio import write_json

        write_json(json_path, {**r, "mismatch_sigma": mismatch, "seed": seed,
                               **({"precise_timing": True} if precise_timing else {})})
    click.echo(f"simulated {batch} sample(s) × {steps} steps of {network.n_neurons} neurons (dt = {network.dt:g} s): "
               f"{total} spikes, mean rate {r['rate']:.2f} Hz" + (f", mismatch σ = {mismatch:g} (seed {seed})" if mismatch else "")
               + (", precise spike timing" if precise_timing else ""))
    click.echo(f"wrote {output}")
