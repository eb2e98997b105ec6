"""Command-line interface: ``neurodeploy <command>``. Every command is thin over the library.

User errors (:class:`neurodeploy.errors.NeurodeployError`) print one line per problem and exit 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .errors import NeurodeployError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neurodeploy")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx, debug):
    """Deploy trained spiking networks onto Dynap-SE2 (or its bit-accurate emulator)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# ---------------------------------------------------------------------------------------
# profile
# ---------------------------------------------------------------------------------------
@cli.group()
def profile():
    """Device profiles (geometry, limits, bias generator)."""


@profile.command("show")
@click.argument("name", default="dynapse2")
def profile_show(name):
    """Print a profile's limits, analog constants and parameter table."""
    from .profile import load_profile
    from .report import format_profile

    click.echo(format_profile(load_profile(name)))


# ---------------------------------------------------------------------------------------
# bias
# ---------------------------------------------------------------------------------------
@cli.group()
def bias():
    """Convert between bias currents and (coarse, fine) DAC codes."""


@bias.command("to-code")
@click.argument("parameter")
@click.argument("currents", nargs=-1, required=True, type=float)
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Profile name or YAML path.")
@click.option("--clip", is_flag=True, help="Clip out-of-range currents to the reachable range (reported).")
def bias_to_code(parameter, currents, profile_name, clip):
    """Nearest (coarse, fine) code for each CURRENT (amperes) of PARAMETER."""
    from .profile import load_profile

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
    from .profile import load_profile

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


# ---------------------------------------------------------------------------------------
def main(argv=None):
    """Console-script entry point: run the CLI, turning user errors into one-line messages."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        rv = cli.main(args=args, prog_name="neurodeploy", standalone_mode=False)
        if isinstance(rv, int) and rv != 0:
            sys.exit(rv)
    except NeurodeployError as e:
        if debug:
            raise
        for line in str(e).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # an internal error: still one line unless --debug
        if debug:
            raise
        click.echo(f"internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback; please report it)", err=True)
        sys.exit(3)
    sys.exit(0)


if __name__ == "__main__":
    main()
