"""Hardware commands: ``neurodeploy devices``, ``selftest``, ``flash`` and ``run`` (registered in :mod:`neurodeploy.cli`).

samna is imported only when a command needs a board; without it the command prints one line saying
how to install it and exits 2. ``run --backend emulator`` is the same as ``emulate`` (same file).
"""

from __future__ import annotations

import click

from .options import board_options, config_run_options, parse_window_option, samna_options, session_options, window_option



@click.command("devices")
@click.option("--all", "all_devices", is_flag=True, help="Also list boards already opened by a process.")
def devices_cmd(all_devices):
    """List the Dynap-SE2 boards connected to this computer (needs samna)."""
    from ..backends.samna import require_samna
    from ..backends.samna_board import list_boards

    infos = list_boards(require_samna(), all_devices=all_devices)
    if not infos:
        click.echo("no Dynap-SE2 board found" + ("" if all_devices else " (unopened; --all lists opened ones too)"))
        return 0
    for i in infos:
        click.echo(f"{i.serial_number}\t{i.device_type_name}")
    return 0


@click.command("flash")
@click.argument("config", type=click.Path(dir_okay=False))
@board_options
@click.option("--samna-json", "samna_json", type=click.Path(dir_okay=False), default=None,
              help="Only write samna's JSON of the configuration to this file (no board; needs samna).")
def flash_cmd(config, device, bitfile, n_chips, samna_json):
    """Validate CONFIG, write it to a board, read it back and compare (exit 1 on any difference)."""
    from ..backends.samna import to_samna_json
    from ..backends.samna_board import SamnaBackend
    from ..config.config_json import load_config
    from ..errors import ConfigError
    from ..validate import validate_file

    res = validate_file(config)
    if not res.ok:
        raise ConfigError(config, lines=[ln for ln in res.lines() if not ln.startswith("OK ")])
    cfg = load_config(config)
    if samna_json:
        from ..fileio import atomic_write_text

        atomic_write_text(samna_json, to_samna_json(cfg))
        click.echo(f"wrote {samna_json}")
        return 0
    with SamnaBackend(device=device, bitfile=bitfile, chips=n_chips) as board:
        board.load(cfg)
    n_neurons = sum(len(k.neurons) for c in cfg.chips for k in c.cores)
    n_params = sum(len(k.parameters) for c in cfg.chips for k in c.cores)
    n_cam = sum(len(n.synapses) for c in cfg.chips for k in c.cores for n in k.neurons)
    n_sram = sum(len(n.destinations) for c in cfg.chips for k in c.cores for n in k.neurons)
    click.echo(f"flashed {config}: {len(cfg.chips)} chip(s), {n_params} parameters, {n_neurons} neurons, {n_cam} CAM and "
               f"{n_sram} SRAM entries; samna's copy of the configuration matches (samna cannot read the chip's memory back: "
               f"`neurodeploy selftest` checks that the chip answers)")
    return 0


@click.command("run")
@click.argument("config", type=click.Path(dir_okay=False))
@config_run_options
@click.option("--backend", type=click.Choice(["emulator", "samna"]), default="emulator", show_default=True)
@click.option("--mismatch", type=float, default=0.0, show_default=True, help="emulator: mismatch σ as a fraction (0.1 = 10 %).")
@click.option("--seed", type=int, default=0, show_default=True, help="emulator: chip mismatch seed.")
@board_options
@session_options
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="samna: seconds to wait for the end-of-run marker after the input ends.")
@click.option("--max-input-rate", type=float, default=None,
              help="samna: warn above this input rate (events/s; default 1e6, an assumption — see README).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the summary as JSON.")
@window_option
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="emulator: spikes, and input events from their µs timestamps, act at their times inside the step "
                   "instead of at a step's start, and the output events carry the spikes' times, as `emulate "
                   "--precise-timing` (off: the deployed numbers and events as before).")
def run_cmd(config, input_path, output, backend, mismatch, seed, device, bitfile, n_chips, no_discharge, settle,
            wait_for_clock, timeout, max_input_rate, profile_name, json_path, window, precise_timing):
    """Run CONFIG on a backend (emulator or a board) → spikes per neuron and per model output, and events."""
    from ..backends.base import run_file, summary, summary_json
    from ..backends.registry import get_backend
    from ..fileio import check_output_path
    from ..device.profile import load_profile

    if not mismatch >= 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--mismatch")
    if precise_timing and backend != "emulator":
        raise click.BadParameter(f"times spikes inside the emulator's steps; --backend {backend} runs a board, "
                                 "whose events keep their own times: drop --precise-timing", param_hint="--precise-timing")
    window = parse_window_option(window)
    check_output_path(output, "-o")
    if json_path:
        check_output_path(json_path, "--json")
    prof = load_profile(profile_name)
    if backend == "emulator":
        b = get_backend("emulator", prof, mismatch=mismatch, seed=seed,
                        **({"precise_timing": True} if precise_timing else {}))
    else:
        opts = samna_options(device, bitfile, n_chips, no_discharge, settle, wait_for_clock, timeout=timeout)
        if max_input_rate is not None:
            opts["max_input_rate"] = max_input_rate
        b = get_backend("samna", prof, **opts)
    with b:
        cfg, res = run_file(b, config, input_path, output, profile=prof, window=window)
    if json_path:
        from ..fileio import write_json

        extra = ({"mismatch_sigma": mismatch, "seed": seed, **({"precise_timing": True} if precise_timing else {})}
                 if backend == "emulator" else {"backend": "samna", **(res.info or {})})
        write_json(json_path, summary_json(res, cfg, **extra))
    click.echo(summary(res, cfg, "emulated" if backend == "emulator" else "ran on the board"))
    click.echo(f"wrote {output}")
    return 0


@click.command("selftest")
@click.option("--backend", type=click.Choice(["samna", "emulator"]), default="samna", show_default=True)
@board_options
@session_options
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="samna: seconds to wait for the end-of-run marker after the input ends.")
@click.option("--mismatch", type=float, default=0.0, show_default=True, help="emulator: mismatch σ as a fraction.")
@click.option("--seed", type=int, default=0, show_default=True, help="emulator: chip mismatch seed.")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the table as JSON.")
def selftest_cmd(backend, device, bitfile, n_chips, no_discharge, settle, wait_for_clock, timeout, mismatch, seed,
                 profile_name, json_path):
    """Check that every chip and core of a board answers: routing, DC firing, one synapse per dendrite type.

    Flashes a small probe configuration, runs it without and with input, prints a table per core and
    exits 1 when a core fails (the first command to run on a new board).
    """
    from ..backends.registry import get_backend
    from ..backends.selftest import format_table, selftest
    from ..fileio import check_output_path
    from ..log import info
    from ..device.profile import load_profile

    if json_path:
        check_output_path(json_path, "--json")
    prof = load_profile(profile_name)
    if backend == "emulator":
        b = get_backend("emulator", prof, mismatch=mismatch, seed=seed)
        chips = n_chips or 1
    else:
        b = get_backend("samna", prof, **samna_options(device, bitfile, n_chips, no_discharge, settle, wait_for_clock,
                                                       timeout=timeout))
        b.open()
        chips = n_chips or b.n_chips or 1
    with b:
        results = selftest(b, prof, chips, progress=info)
    click.echo(format_table(results))
    if json_path:
        from ..fileio import write_json

        write_json(json_path, {"backend": backend, "chips": chips, "passed": all(r.ok for r in results),
                               "cores": [{"chip": r.chip, "core": r.core, "ok": r.ok, "checks": r.passed,
                                          "spikes_without_with_input": {k: list(v) for k, v in r.counts.items()}}
                                         for r in results]})
    if not all(r.ok for r in results):
        raise SystemExit(1)
    return 0
