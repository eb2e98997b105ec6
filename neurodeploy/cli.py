"""Command-line interface: ``neurodeploy <command>``. Every command is thin over the library.

User errors (:class:`neurodeploy.errors.NeurodeployError`) print one line per problem and exit 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .cli_hardware import board_options, devices_cmd, flash_cmd, run_cmd
from .errors import NeurodeployError
from .fileio import check_outputs as _check_outputs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neurodeploy")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", count=True, help="Print each stage and its time on stderr (-vv: more).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings, no progress bars.")
@click.pass_context
def cli(ctx, debug, verbose, quiet):
    """Deploy trained spiking networks onto Dynap-SE2 (or its bit-accurate emulator)."""
    from .log import set_verbosity

    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    set_verbosity(-1 if quiet else verbose)


# ---------------------------------------------------------------------------------------
# quantize / map (deployment)
# ---------------------------------------------------------------------------------------
def _cam_profiles(specs):
    """--cam-profile FILE (chip 0) or CHIP=FILE, repeatable."""
    out = {}
    for i, s in enumerate(specs):
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
    click.option("-O", "--option", "import_options", multiple=True, metavar="KEY=VALUE",
                 help="Import option when MODEL is .nir/.npz/.npy (e.g. -O dt=0.001). Repeatable."),
]


def _with_deploy_options(f):
    for opt in reversed(_deploy_options):
        f = opt(f)
    return f


@cli.command("quantize")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="quantized.json to write.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the quantization report as JSON.")
@_with_deploy_options
def quantize_cmd(json_path, model, output, profile_name, chips, prune, strict_parameters, seed, no_spares, no_nmda_scale,
                 import_options):
    """Core assignment, bias codes and weight quantization (inspectable intermediate)."""
    from .profile import load_profile
    from .quantize.stage import quantize_network
    from .report import format_quantize_summary
    from .importers import load_network

    _check_outputs({"-o": output, "--json": json_path})
    prof = load_profile(profile_name)
    spec = load_network(model, profile=prof, **_parse_import_options(import_options))
    qn = quantize_network(spec, prof, max_chips=chips, prune=prune, strict=strict_parameters, seed=seed,
                          use_spares=not no_spares, use_nmda=not no_nmda_scale)
    from .fileio import dumps_json, write_texts

    write_texts({output: qn.dumps(), json_path: dumps_json(qn.report) if json_path else None})
    click.echo(format_quantize_summary(qn.report))
    click.echo(f"wrote {output}")


@cli.command("map")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="config.json", show_default=True, type=click.Path(dir_okay=False),
              help="Hardware config to write.")
@_with_deploy_options
@click.option("--cam-profile", "cam_profile", multiple=True,
              help="Measured CAM defect profile (JSON); FILE applies to chip 0, CHIP=FILE to a given chip. Repeatable.")
@click.option("--cam-tolerance", type=float, default=0.0, show_default=True,
              help="A CAM slot is usable when its measured failure rate is at most this.")
@click.option("--json", "--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write the full report (JSON; --report is the older name).")
@click.option("--quantized", "quantized_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the final quantized network (JSON).")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write PNG pictures (per-core weight error, CAM/SRAM use per core) into this folder.")
def map_cmd(model, output, profile_name, chips, prune, strict_parameters, seed, no_spares, no_nmda_scale,
            import_options, cam_profile, cam_tolerance, report_path, quantized_path, plot_dir):
    """quantize → map → config: turn MODEL (.json/.nir/.npz, or a quantized.json) into a hardware config."""
    from .deploy import deploy
    from .fileio import dumps_json, write_texts
    from .mapping.stage import map_quantized
    from .profile import load_profile
    from .quantize.model import is_quantized_file, load_quantized
    from .report import format_map_summary
    from .importers import load_network

    _check_outputs({"-o": output, "--json": report_path, "--quantized": quantized_path})
    if plot_dir:
        from .plots import require_matplotlib

        require_matplotlib()
    prof = load_profile(profile_name)
    cams = _cam_profiles(cam_profile)
    is_quantized = is_quantized_file(model)
    from .log import stage

    if is_quantized:
        given = [f for f, v in (("--chips", chips is not None), ("--prune", prune), ("--strict-parameters", strict_parameters),
                                ("--seed", seed != 0), ("--no-spares", no_spares), ("--no-nmda-scale", no_nmda_scale),
                                ("-O", bool(import_options))) if v]
        if given:
            from .errors import SpecError

            raise SpecError(f"{model}: is a quantized network (quantization already done): {', '.join(given)} "
                            f"only apply when mapping a model; drop them or map the model itself")
        d = map_quantized(load_quantized(model), prof, cam_profiles=cams, cam_tolerance=cam_tolerance)
    else:
        with stage(f"loading {model}"):
            spec = load_network(model, profile=prof, **_parse_import_options(import_options))
        with stage("quantize -> map -> config"):
            d = deploy(spec, prof, chips=chips, prune=prune, strict=strict_parameters, seed=seed, cam_profiles=cams,
                       cam_tolerance=cam_tolerance, use_spares=not no_spares, use_nmda=not no_nmda_scale)
    # every output rendered before any is written: a failure leaves none behind
    write_texts({output: d.config.dumps(), report_path: dumps_json(d.report) if report_path else None,
                 quantized_path: d.quantized.dumps() if quantized_path else None})
    if plot_dir:
        from .plots import map_plots

        for p in map_plots(d.report, d.config, prof, plot_dir):
            click.echo(f"wrote {p}")
    click.echo(format_map_summary(d.report))
    click.echo(f"wrote {output}")

# ---------------------------------------------------------------------------------------
# validate / schema / export (files: model.json, config.json, profiles, NIR)
# ---------------------------------------------------------------------------------------
def _parse_import_options(pairs) -> dict:
    """``-O key=value`` pairs → dict; values read as JSON (numbers, true/false, lists), else as strings."""
    import json as _json

    from .errors import SpecError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"option {pair!r}: expected KEY=VALUE (e.g. -O dt=0.001)")
        try:
            out[key.strip()] = _json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option("-O", "--option", "import_options", multiple=True, metavar="KEY=VALUE",
              help="Import option for .nir/.npz/.npy files (e.g. -O dt=0.001 -O convention=snntorch). Repeatable.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write every file's result as JSON.")
@click.option("--compare", "compare_path", type=click.Path(dir_okay=False), default=None,
              help="Reference .npz (spikes, dt, layer0, layer1, ...: a framework's own run): simulate the one network "
                   "given on its input and print per-layer spike-count agreement.")
def validate_cmd(files, import_options, json_path, compare_path):
    """Check model.json / config.json / profile YAML / .nir / .npz files.

    Prints `OK <kind> FILE: <summary>` per valid file, or one line per problem
    (`FILE: $.json.path: message`); exits 2 if any file is invalid. A config is also
    checked against the profile it names (a changed profile hash is a warning).
    """
    from .validate import validate_file

    _check_outputs({"--json": json_path})
    opts = _parse_import_options(import_options)
    failed = 0
    results = []
    for f in files:
        res = validate_file(f, **opts)
        for line in res.lines():
            click.echo(line, err=not line.startswith("OK "))
        failed += not res.ok
        results.append({"file": res.path, "kind": res.kind, "ok": res.ok, "summary": res.summary,
                        "errors": res.errors, "warnings": res.warnings})
    if json_path:
        from .fileio import write_json

        write_json(json_path, {"files": results, "ok": not failed})
    if compare_path and not failed:
        from .importers.nir.fidelity import report

        for line in report(files, compare_path, opts):
            click.echo(line)
    return 2 if failed else 0


@cli.command("schema")
@click.option("-o", "--output", "out_dir", default="schemas", show_default=True, type=click.Path(file_okay=False),
              help="Directory to write network/config/profile.schema.json into.")
@click.option("--check", is_flag=True, help="Write nothing; exit 2 if the files in the directory differ from the models.")
def schema_cmd(out_dir, check):
    """Write the JSON Schemas of model.json, config.json and device profiles (generated from the models)."""
    from .schema import stale_schemas, write_schemas

    if check:
        stale = stale_schemas(out_dir)
        for name in stale:
            click.echo(f"{out_dir}/{name}: out of date with the models (run `neurodeploy schema -o {out_dir}`)", err=True)
        if not stale:
            click.echo(f"OK schemas in {out_dir} match the models")
        return 2 if stale else 0
    for p in write_schemas(out_dir):
        click.echo(f"wrote {p}")
    return 0


@cli.command("export")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="File to write: .nir (NIR graph, CubaLIF approximation) or .json (NetworkSpec, e.g. from an import).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Profile name or YAML path.")
@click.option("-O", "--option", "import_options", multiple=True, metavar="KEY=VALUE",
              help="Import option when MODEL is .nir/.npz/.npy (e.g. -O dt=0.001). Repeatable.")
def export_cmd(model, output, profile_name, import_options):
    """Write MODEL (.json/.nir/.npz) as NIR (.nir) or as a NetworkSpec (.json).

    The NIR graph is Input → Affine → CubaLIF (+ recurrent Affine), an approximation of the
    DPI neuron stated in the graph's metadata; `neurodeploy` reads its own export back exactly.
    """
    from .errors import SpecError
    from .profile import load_profile
    from .importers import load_network

    _check_outputs({"-o": output})
    prof = load_profile(profile_name)
    spec = load_network(model, profile=prof, **_parse_import_options(import_options))
    suffix = output.lower().rsplit(".", 1)[-1] if "." in output else ""
    if suffix == "nir":
        from .importers.nir.export import export_nir

        export_nir(spec, output, profile=prof)
        click.echo(f"wrote {output}: NIR graph, {spec.n_neurons} CubaLIF neurons in {len(spec.populations)} populations, "
                   f"{len(spec.projections)} Affine projections (CubaLIF approximation of the DPI; see its metadata)")
    elif suffix == "json":
        spec.save(output)
        click.echo(f"wrote {output}: network {spec.name!r}, {spec.n_neurons} neurons")
    else:
        raise SpecError(f"{output}: unknown output type (expected .nir or .json)")
    return 0


# ---------------------------------------------------------------------------------------
# emulate / verify (bit-accurate emulator backend)
# ---------------------------------------------------------------------------------------
@cli.command("emulate")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="npz with 'spikes' [T, n] or [batch, T, n] (per model input channel) or 'events' [K, 4] "
                   "(timestamp µs, tag, chip, core mask), and 'dt' (s).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="npz to write.")
@click.option("--mismatch", type=float, default=0.0, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ); 0 = nominal chip.")
@click.option("--seed", type=int, default=0, show_default=True, help="Chip mismatch seed (frozen per emulated board).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the summary as JSON.")
def emulate_cmd(config, input_path, output, mismatch, seed, profile_name, json_path):
    """Run CONFIG on the bit-accurate emulator; writes spikes per neuron and per model output, and events.

    The same as `neurodeploy run CONFIG --backend emulator` (same npz).
    """
    from .backends.base import get_backend, run_file, summary
    from .profile import load_profile

    if not mismatch >= 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--mismatch")
    _check_outputs({"-o": output, "--json": json_path})
    prof = load_profile(profile_name)
    cfg, res = run_file(get_backend("emulator", prof, mismatch=mismatch, seed=seed), config, input_path, output, profile=prof)
    if json_path:
        from .backends.base import summary_json
        from .fileio import write_json

        write_json(json_path, summary_json(res, cfg, mismatch_sigma=mismatch, seed=seed))
    click.echo(summary(res, cfg, "emulated"))
    click.echo(f"wrote {output}")


@cli.command("verify")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="npz with 'spikes' [batch, T, n_inputs] and 'dt' (s).")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False), default=None,
              help="npy with one class label (output index) per input sample.")
@click.option("--trials", type=int, default=32, show_default=True, help="Mismatch draws (boards), in one vmapped call.")
@click.option("--mismatch", type=float, default=0.1, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--tolerance", multiple=True, metavar="KEY=VALUE",
              help="correlation=0.9 (min median rate r), accuracy_drop=0.02 (max), rate_difference=HZ (max). Repeatable.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write the full report (JSON).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True)
@click.option("-O", "--option", "import_options", multiple=True, metavar="KEY=VALUE",
              help="Import option when MODEL is .nir/.npz/.npy (e.g. -O dt=0.001). Repeatable.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write PNG pictures (rasters float vs deployed, rate scatter, accuracy across boards) into this folder.")
@click.option("--backend", type=click.Choice(["emulator", "samna"]), default="emulator", show_default=True,
              help="samna: judge one run of CONFIG on a real board (one mismatch draw) instead of emulated draws.")
@board_options
def verify_cmd(model, config, input_path, labels_path, trials, mismatch, seed, tolerance, json_path, profile_name,
               import_options, plot_dir, backend, device, bitfile):
    """Run MODEL (float) and CONFIG (emulated, or on a board) on the same inputs; PASS/FAIL, exit 1 on FAIL."""
    from .backends.events import load_input
    from .fileio import write_json
    from .profile import load_profile
    from .importers import load_network
    from .validate import load_checked_config
    from .sim.files import DT_TOLERANCE
    from .verify import Tolerance, VerifyError, check_labels, format_verify, load_labels, verify

    if trials < 0 or mismatch < 0:
        raise click.BadParameter("--trials and --mismatch must be ≥ 0")
    tol = Tolerance.parse(tolerance)
    _check_outputs({"--json": json_path})
    prof = load_profile(profile_name)
    spec = load_network(model, profile=prof, **_parse_import_options(import_options))
    cfg = load_checked_config(config, prof)
    data = load_input(input_path, n_inputs=spec.n_inputs)
    if "spikes" not in data:
        raise VerifyError(f"{input_path}: verify needs a raster 'spikes' [batch, T, n_inputs] (events are for emulate)")
    n_out = spec.output_indices().size
    labels = None
    if labels_path:
        labels = load_labels(labels_path, data["spikes"].shape[0], n_out, str(input_path))
    elif "labels" in data:
        labels = check_labels(data["labels"], data["spikes"].shape[0], n_out, f"{input_path}: $.labels", str(input_path))
    if not abs(data["dt"] - spec.dt) <= DT_TOLERANCE:
        raise VerifyError(f"{input_path}: dt = {data['dt']} s but the model {model} was trained at dt = {spec.dt} s")
    if plot_dir:
        from .plots import require_matplotlib

        require_matplotlib()
    board = None
    if backend == "samna":
        from .backends.base import get_backend

        board = get_backend("samna", prof, device=device, bitfile=bitfile)
    pictures: dict = {}
    try:
        report = verify(spec, cfg, prof, data["spikes"], data["dt"], labels=labels, trials=trials, mismatch=mismatch,
                        seed=seed, tolerance=tol, pictures=pictures, board=board)
    finally:
        if board is not None:
            board.close()
    if plot_dir:
        from .plots import verify_plots

        for p in verify_plots(report, pictures, plot_dir):
            click.echo(f"wrote {p}")
    if json_path:
        write_json(json_path, report)
    click.echo(format_verify(report))
    return 0 if report["passed"] else 1


# ---------------------------------------------------------------------------------------
# simulate (float model, neurodeploy.sim)
# ---------------------------------------------------------------------------------------
@cli.command("simulate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="npz with 'spikes' (event counts [T, n_inputs] or [batch, T, n_inputs]) and 'dt' (s, = the model's dt).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="npz to write (spikes; states with --record).")
@click.option("--mismatch", type=float, default=0.0, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ); 0 = nominal chip.")
@click.option("--seed", type=int, default=0, show_default=True, help="Mismatch seed (same seed → same chip).")
@click.option("--record", is_flag=True, help="Also write every state variable (I_mem, I_ampa, ..., A) per step.")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile name or YAML path.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the summary as JSON.")
@click.option("-O", "--option", "import_options", multiple=True, metavar="KEY=VALUE",
              help="Import option when MODEL is .nir/.npz/.npy (e.g. -O dt=0.001). Repeatable.")
def simulate_cmd(model, input_path, output, mismatch, seed, record, profile_name, json_path, import_options):
    """Simulate MODEL (NetworkSpec) on the DPI model of Dynap-SE2: spikes per neuron and step."""
    from .sim.files import simulate_files

    _check_outputs({"-o": output, "--json": json_path})
    r = simulate_files(model, input_path, output, mismatch=mismatch, seed=seed, record=record, profile=profile_name,
                       import_options=_parse_import_options(import_options))
    if json_path:
        from .fileio import write_json

        write_json(json_path, {**r, "mismatch_sigma": mismatch, "seed": seed})
    click.echo(f"simulated {r['batch']} sample(s) × {r['steps']} steps of {r['neurons']} neurons (dt = {r['dt']:g} s): "
               f"{r['spikes']} spikes, mean rate {r['rate']:.2f} Hz" + (f", mismatch σ = {mismatch:g} (seed {seed})" if mismatch else ""))
    click.echo(f"wrote {output}")


from .cli_tasks import task_data_cmd  # noqa: E402
cli.add_command(task_data_cmd)
from .cli_train import train_cmd  # noqa: E402
cli.add_command(train_cmd)

# ---------------------------------------------------------------------------------------
def _exit_on_sigterm() -> None:
    """SIGTERM → SystemExit(143) inside Python, so that temp files are removed as on Ctrl-C."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _term)


# ---------------------------------------------------------------------------------------
# hardware commands (neurodeploy/cli_hardware.py)
# ---------------------------------------------------------------------------------------
cli.add_command(devices_cmd)
cli.add_command(flash_cmd)
cli.add_command(run_cmd)



from .commands.rules import rules_cmd  # noqa: E402

cli.add_command(rules_cmd)


# ---------------------------------------------------------------------------------------
from .commands.device import bias, profile  # noqa: E402

cli.add_command(profile)
cli.add_command(bias)


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
