"""Options and option parsing shared by several commands."""

from __future__ import annotations

import click

from ..fileio import check_outputs  # noqa: F401  (re-exported: every command checks its outputs first)

import_option = click.option("-O", "--option", "import_options", multiple=True, metavar="KEY=VALUE",
                             help="Import option when MODEL is .nir/.npz/.npy (e.g. -O dt=0.001). Repeatable.")


def cam_profiles(networks):
    """--cam-profile FILE (chip 0) or CHIP=FILE, repeatable."""
    out = {}
    for i, s in enumerate(networks):
        chip, sep, path = s.partition("=")
        if sep and chip.isdigit():
            out[int(chip)] = path
        else:
            out[i] = s
    return out


_deploy_options = [
    click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path."),
    click.option("--chips", type=int, default=None, help="Chips available (default: the profile's board size)."),
    click.option("--prune", is_flag=True, help="Keep the 64 largest |w| of a neuron with too many inputs (reported)."),
    click.option("--strict-parameters", is_flag=True, help="Refuse to cluster differing neuron parameters onto shared cores."),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of the (deterministic) optimiser."),
    click.option("--no-spares", is_flag=True, help="Do not use spare CAM entries as extra weight levels."),
    click.option("--no-nmda-scale", is_flag=True, help="Do not use a free NMDA dendrite as a second excitatory scale."),
    import_option,
]


def deploy_options(f):
    """The options of ``quantize`` and ``map`` (profile, chips, pruning, optimiser seed, import options)."""
    for opt in reversed(_deploy_options):
        f = opt(f)
    return f


def parse_import_options(pairs) -> dict:
    """``-O key=value`` pairs → dict; values read as JSON (numbers, true/false, lists), else as strings."""
    import json as _json

    from ..errors import NetworkError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise NetworkError(f"option {pair!r}: expected KEY=VALUE (e.g. -O dt=0.001)")
        try:
            out[key.strip()] = _json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


_board_options = [
    click.option("--device", default=None, metavar="SERIAL", help="Serial number of the board (default: the first one found)."),
    click.option("--bitfile", default=None, type=click.Path(dir_okay=False),
                 help="FPGA bitfile (SynSense's Dynapse2Stack.bit; default: $NEURODEPLOY_BITFILE)."),
    click.option("--chips", "n_chips", type=click.IntRange(1, 16), default=None,
                 help="Chips on the board's stack (set on the board; default: what the board reports)."),
]

_session_options = [
    click.option("--no-discharge", "no_discharge", is_flag=True,
                 help="samna: do not discharge the chip (all leaks at maximum) before each sample."),
    click.option("--settle", type=click.FloatRange(0, 10), default=0.1, show_default=True,
                 help="samna: seconds to wait after a reset or a configuration apply."),
    click.option("--wait-for-clock", "wait_for_clock", is_flag=True,
                 help="samna: wait for the FPGA clock to wrap instead of refusing a run that would cross the wrap."),
]


def board_options(f):
    """--device, --bitfile and --chips (commands that talk to a board)."""
    for opt in reversed(_board_options):
        f = opt(f)
    return f


def session_options(f):
    """--no-discharge, --settle and --wait-for-clock (commands that run input on a board)."""
    for opt in reversed(_session_options):
        f = opt(f)
    return f


def samna_options(device, bitfile, n_chips, no_discharge=False, settle=0.1, wait_for_clock=False, **more) -> dict:
    """The SamnaBackend keyword arguments of the board and session options."""
    return {"device": device, "bitfile": bitfile, "chips": n_chips, "discharge": not no_discharge, "settle": settle,
            "wait_for_clock": wait_for_clock, **more}


_config_run_options = [
    click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
                 help="npz with 'dt' (s) and 'spikes' [T, n] or [batch, T, n] (per model input channel), 'times' (s) "
                      "with 'channels' (one row per input spike) or 'events' [K, 4] (timestamp µs, tag, chip, core "
                      "mask)."),
    click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="npz to write."),
]


def config_run_options(f):
    """--input and -o of the commands that run a config (emulate, run)."""
    for opt in reversed(_config_run_options):
        f = opt(f)
    return f


window_option = click.option(
    "--window", "window", default=None, metavar="START:STOP",
    help="Read-out window in steps of dt: output spikes are counted in [START, STOP) only (overrides the input's "
         "'readout'; default: it, else the whole trial).")


def parse_window_option(text):
    """``--window START:STOP`` → (start, stop), or None when not given."""
    from ..inputs import parse_window

    return parse_window(text) if text is not None else None
