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
@click.option("-v", "--verbose", count=True, help="Print each stage and its time on stderr (-vv: more).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings, no progress bars.")
@click.pass_context
def cli(ctx, debug, verbose, quiet):
    """Deploy trained spiking networks onto Dynap-SE2 (or its bit-accurate emulator)."""
    from .compile_cache import enable
    from .log import set_verbosity
    from .xla_flags import apply

    apply()     # small time loops compiled whole (neurodeploy/xla_flags.py); before any JAX computation
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    set_verbosity(-1 if quiet else verbose)
    enable()    # compiled XLA programs kept on disk between runs (neurodeploy/compile_cache.py)


# ---------------------------------------------------------------------------------------
# The commands live in neurodeploy/commands/ (one module per group); register a new one here.
# ---------------------------------------------------------------------------------------
from .commands.deploy import map_cmd, quantize_cmd  # noqa: E402
from .commands.calibrate import calibrate_cmd, chip_group  # noqa: E402
from .commands.device import bias, profile  # noqa: E402
from .commands.emulate import emulate_cmd, simulate_cmd  # noqa: E402
from .commands.files import export_cmd, schema_cmd, validate_cmd  # noqa: E402
from .commands.evaluate import evaluate_cmd  # noqa: E402
from .commands.study import sweep_cmd, yield_cmd  # noqa: E402
from .commands.hardware import devices_cmd, flash_cmd, run_cmd, selftest_cmd  # noqa: E402
from .commands.rules import rules_cmd  # noqa: E402
from .commands.verify import verify_cmd  # noqa: E402
from .commands.tasks import task_data_cmd  # noqa: E402
from .commands.train import train_cmd  # noqa: E402

for _cmd in (quantize_cmd, map_cmd, validate_cmd, schema_cmd, export_cmd, emulate_cmd, verify_cmd, simulate_cmd,
             task_data_cmd, train_cmd, devices_cmd, flash_cmd, run_cmd, selftest_cmd, evaluate_cmd, yield_cmd, sweep_cmd, rules_cmd, profile, bias,
             calibrate_cmd, chip_group):
    cli.add_command(_cmd)


def _exit_on_sigterm() -> None:
    """SIGTERM → SystemExit(143) inside Python, so that temp files are removed as on Ctrl-C."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _term)


def main(argv=None):
    """Console-script entry point: run the CLI, turning user errors into one-line messages."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    _exit_on_sigterm()
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
    except click.ClickException as e:   # usage errors too: one line, with where to look
        hint = ""
        if isinstance(e, click.UsageError) and e.ctx is not None:
            hint = f" (see `{e.ctx.command_path} --help`)"
        msg = " ".join(e.format_message().split())
        click.echo(f"error: {msg}{hint}", err=True)
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
