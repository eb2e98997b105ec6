"""``neurodeploy calibrate`` (measure a board, write its chip profile) and ``neurodeploy chip new`` (a hidden chip
to rehearse on)."""

from __future__ import annotations

import click

from .options import board_options, samna_options, session_options


def _int_list(text: str | None, option: str, hi: int):
    """"0,1,3" or "0-255" (or a mix) → sorted distinct ints in 0..hi; None → None."""
    if text is None:
        return None
    out = set()
    for part in text.split(","):
        lo, sep, up = part.strip().partition("-")
        try:
            a, b = int(lo), int(up) if sep else int(lo)
        except ValueError:
            raise click.BadParameter(f"{text!r}: expected numbers like 0,1,3 or 0-255", param_hint=option) from None
        if not 0 <= a <= b <= hi:
            raise click.BadParameter(f"{part.strip()!r}: expected values in 0..{hi}", param_hint=option)
        out.update(range(a, b + 1))
    return sorted(out)


@click.command("calibrate")
@click.option("--backend", type=click.Choice(["emulator", "samna"]), default="emulator", show_default=True)
@click.option("--hidden-chip", "hidden_chip", type=click.Path(dir_okay=False), default=None,
              help="emulator: run this hidden chip (from `neurodeploy chip new`) instead of --mismatch/--seed.")
@click.option("--mismatch", type=float, default=0.0, show_default=True, help="emulator: mismatch σ as a fraction (0.1 = 10 %).")
@click.option("--seed", type=int, default=0, show_default=True, help="emulator: chip mismatch seed.")
@board_options
@session_options
@click.option("--chip-ids", "chip_ids", default="0", show_default=True, help="Chips to calibrate (e.g. 0,1).")
@click.option("--cores", default=None, help="Cores to calibrate (e.g. 0,2; default: all).")
@click.option("--neurons", default=None, help="Neurons of each core to probe (e.g. 0-63; default: all).")
@click.option("--duration", type=click.FloatRange(0.5, 10), default=1.5, show_default=True,
              help="Seconds of chip time per probe run (the first 0.3 s settle).")
@click.option("--delays/--no-delays", default=True, show_default=True,
              help="Also run the delay probe and measure the delay stages C_dly0..2 of every core (on a profile that "
                   "models them).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Chip profile to write (chip.yaml); the probe data goes next to it (chip.probes.npz).")
def calibrate_cmd(backend, hidden_chip, mismatch, seed, device, bitfile, n_chips, no_discharge, settle, wait_for_clock,
                  chip_ids, cores, neurons, duration, delays, profile_name, output):
    """Measure a board (or an emulated one) through the backend and write its chip profile.

    Probes (DC f–I curves, a slow-refractory run, AMPA event trains) run on every chosen core at once through
    `load`/`run` only; the simulator is then fitted to the measured inter-spike intervals: per core the effective
    C_mem, C_ref and C_pulse, per neuron the factors of τ_mem, t_ref, DC drive and AMPA drive, each with its
    standard error. The delay probe (one event per delay level into neurons that fire on it, its latency against
    an undelayed entry) gives each core's delay stages C_dly0..2 (`map --chip` then sets the delay biases from
    them). Prints the constants and the probes' board time.
    """
    import time
    from pathlib import Path

    from ..backends.registry import get_backend
    from ..calibration.calibrate import calibrate, probe_sites
    from ..device.chip_profile import write_chip_profile
    from ..device.profile import load_profile
    from ..fileio import check_outputs
    from ..log import progress

    out = Path(output)
    npz_name = (out.stem if out.suffix else out.name) + ".probes.npz"
    check_outputs({"-o": output, "probe data": out.parent / npz_name})
    prof = load_profile(profile_name)
    geo = prof.geometry
    sites = probe_sites(prof, _int_list(chip_ids, "--chip-ids", geo.max_chips - 1),
                        _int_list(cores, "--cores", geo.cores_per_chip - 1), _int_list(neurons, "--neurons", geo.neurons_per_core - 1))
    if backend == "emulator":
        b = get_backend("emulator", prof, mismatch=mismatch, seed=seed, hidden_chip=hidden_chip)
        run_seed = None if hidden_chip else seed
    else:
        if hidden_chip:
            raise click.BadParameter("a hidden chip runs on the emulator (--backend emulator)", param_hint="--hidden-chip")
        b = get_backend("samna", prof, **samna_options(device, bitfile, n_chips, no_discharge, settle, wait_for_clock))
        run_seed = None
    t0 = time.perf_counter()
    with b:
        cp, npz, fit, probes = calibrate(b, prof, sites, backend_name=backend, seed=run_seed, npz_name=npz_name,
                                         progress=progress, duration=duration, delays=delays and prof.models_delays)
    write_chip_profile(out, cp, npz)
    for c in cp.cores:
        k = c.constants
        click.echo(f"chip {c.chip} core {c.core}: {len(c.neurons)} neurons fitted; "
                   + ", ".join(f"{n} = {k[n].value:.4g} F ± {100 * k[n].sigma:.1f} %" for n in ("C_mem", "C_ref", "C_pulse")))
        if cp.delay_calibrated:
            click.echo(f"chip {c.chip} core {c.core}: delay stages "
                       + ", ".join(f"{n} = {k[n].value:.4g} F ± {100 * k[n].sigma:.1f} %" for n in ("C_dly0", "C_dly1", "C_dly2")))
    missed = int((~fit["fitted"]).sum())
    if missed:
        click.echo(f"{missed} probed neuron(s) not fitted (fired in fewer than two DC runs): left out of the profile")
    dps = fit.get("delay_probes")
    extra = f" + delay probe {dps.board_time:.1f} s ({len(dps.runs)} runs × {dps.duration:g} s)" if dps else ""
    click.echo(f"board time of the probes: {cp.provenance.board_time:.1f} s ({len(probes.runs)} runs × {probes.duration:g} s{extra}); "
               f"wall time {time.perf_counter() - t0:.1f} s; estimated mismatch σ ≈ {fit['mismatch']:.3f}")
    click.echo(f"wrote {out} and {out.parent / npz_name}")


@click.group("chip")
def chip_group():
    """Hidden chips: emulated boards with unknown constants and mismatch, to rehearse calibration on."""


@chip_group.command("new")
@click.option("--seed", type=click.IntRange(0), required=True, help="Seed of the chip's constants and mismatch.")
@click.option("--sigma", type=click.FloatRange(0, 0.5), default=0.1, show_default=True, help="Mismatch σ as a fraction.")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile it perturbs.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Hidden chip file to write.")
def chip_new(seed, sigma, profile_name, output):
    """Write a hidden chip: the profile's analog constants perturbed (log-normal, σ 20 %) and a hidden
    per-location mismatch. Run it with `--backend emulator --hidden-chip FILE`."""
    from ..calibration.hidden import new_hidden_chip, write_hidden_chip
    from ..fileio import check_outputs

    check_outputs({"-o": output})
    write_hidden_chip(output, new_hidden_chip(seed, sigma, profile_name))
    click.echo(f"wrote {output} (hidden chip, seed {seed}, mismatch σ = {sigma:g})")


@chip_group.command("show")
@click.argument("chip_profile", type=click.Path(dir_okay=False))
def chip_show(chip_profile):
    """Check a chip profile (from `neurodeploy calibrate`) and print its constants and factor spreads."""
    import numpy as np

    from ..device.chip_profile import CONSTANTS, load_chip_profile

    cp = load_chip_profile(chip_profile)
    pv = cp.provenance
    click.echo(f"{chip_profile}: device profile {cp.device_profile.name}, backend {pv.backend}, probes {pv.probe_set} "
               f"({pv.board_time:g} s board time), {len(cp.cores)} core(s)")
    for c in cp.cores:
        consts = ", ".join(f"{k} = {c.constants[k].value:.4g} F ± {100 * c.constants[k].sigma:.1f} %" for k in CONSTANTS if k in c.constants)
        spread = ", ".join(f"{k} {100 * np.std(np.log(v)):.1f} %" for k, v in c.factors.items() if v)
        click.echo(f"  chip {c.chip} core {c.core}: {len(c.neurons)} neurons; {consts}; factor spread (sd of log): {spread}")
