"""``neurodeploy profile`` (show, path, copy) and ``neurodeploy bias`` (to-code, to-current): the device
profile and its bias generator, from the command line."""

from __future__ import annotations

import click


# ---------------------------------------------------------------------------------------
# profile
# ---------------------------------------------------------------------------------------
@click.group()
def profile():
    """Device profiles (geometry, limits, bias generator)."""


@profile.command("show")
@click.argument("name", default="dynapse2")
def profile_show(name):
    """Print a profile's limits, analog constants and parameter table."""
    from ..device.profile import load_profile
    from ..report import format_profile

    click.echo(format_profile(load_profile(name)))


@profile.command("path")
@click.argument("name", default="dynapse2")
def profile_path(name):
    """Print the YAML file a profile NAME (or path) resolves to."""
    from ..device.profile import load_profile

    click.echo(load_profile(name).source)


@profile.command("copy")
@click.argument("name", default="dynapse2")
@click.argument("dest", type=click.Path())
@click.option("--with-tables", is_flag=True, help="Also copy the bias table and scale-curve CSVs (to calibrate them).")
def profile_copy(name, dest, with_tables):
    """Copy profile NAME to DEST (a .yaml file) to edit, e.g. with calibrated capacitances; use it with
    --profile DEST. Its tables are read from the built-in folder unless copied next to it (--with-tables)."""
    from pathlib import Path

    from ..errors import ProfileError
    from ..fileio import atomic_write_bytes, check_outputs
    from ..device.profile import load_profile

    prof = load_profile(name)
    dest_p = Path(dest)
    if dest_p.suffix not in (".yaml", ".yml"):
        raise ProfileError(f"{dest}: a profile copy must be a .yaml file")
    src = Path(prof.source)
    outs = {dest_p: src.read_bytes()}
    if with_tables:
        for f in (prof.bias_generator.table_file, prof.bias_generator.scale_curves_file):
            for folder in (src.parent, Path(__file__).parents[1] / "device_profiles"):
                if (folder / f).is_file():
                    outs[dest_p.parent / f] = (folder / f).read_bytes()
                    break
    check_outputs({str(p): str(p) for p in outs})
    for p, data in outs.items():
        atomic_write_bytes(p, data)
        click.echo(f"wrote {p}")
    load_profile(dest_p)   # the copy loads


# ---------------------------------------------------------------------------------------
# bias
# ---------------------------------------------------------------------------------------
@click.group()
def bias():
    """Convert between bias currents and (coarse, fine) DAC codes."""


@bias.command("to-code")
@click.argument("parameter")
@click.argument("currents", nargs=-1, required=True, type=float)
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Profile name or YAML path.")
@click.option("--clip", is_flag=True, help="Clip out-of-range currents to the reachable range (reported).")
def bias_to_code(parameter, currents, profile_name, clip):
    """Nearest (coarse, fine) code for each CURRENT (amperes) of PARAMETER."""
    from ..device.profile import load_profile

    prof = load_profile(profile_name)
    prof.parameter(parameter)
    conv = prof.bias.to_code(parameter, list(currents), clip=clip)
    click.echo(f"{'parameter':15s} {'target (A)':>12s} {'coarse':>6s} {'fine':>4s} {'current (A)':>12s} {'rel.err':>8s}")
    for i in range(len(currents)):
        note = "  CLIPPED to range" if conv.clipped[i] else ""
        click.echo(f"{parameter:15s} {conv.target[i]:12.4e} {int(conv.coarse[i]):6d} {int(conv.fine[i]):4d} "
                   f"{conv.current[i]:12.4e} {conv.rel_error[i]:+8.2%}{note}")


@bias.command("to-current")
@click.argument("parameter")
@click.argument("coarse", type=int)
@click.argument("fine", type=int)
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Profile name or YAML path.")
def bias_to_current(parameter, coarse, fine, profile_name):
    """Circuit current of PARAMETER at code (COARSE, FINE), and the round-trip error."""
    from ..device.profile import load_profile

    prof = load_profile(profile_name)
    prof.parameter(parameter)
    cur = float(prof.bias.to_current(parameter, coarse, fine))
    back = prof.bias.to_code(parameter, cur)
    click.echo(f"{'parameter':15s} {'coarse':>6s} {'fine':>4s} {'current (A)':>12s} {'rel.err':>8s}")
    click.echo(f"{parameter:15s} {coarse:6d} {fine:4d} {cur:12.4e} {0.0:+8.2%}")
    if (int(back.coarse), int(back.fine)) != (coarse, fine):
        click.echo(f"note: code ({int(back.coarse)}, {int(back.fine)}) gives the same current "
                   f"({float(back.current):.4e} A); the inverse returns that one")
    click.echo(f"scale: {prof.bias.scale_source(parameter)}")
