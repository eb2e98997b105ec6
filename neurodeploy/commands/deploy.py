"""``neurodeploy quantize`` and ``neurodeploy map``: a model → quantized network → hardware config."""

from __future__ import annotations

import click

from .options import cam_profiles, check_outputs, deploy_options, parse_import_options


@click.command("quantize")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="quantized.json to write.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the quantization report as JSON.")
@deploy_options
def quantize_cmd(json_path, model, output, profile_name, chips, prune, strict_parameters, seed, no_spares, no_nmda_scale,
                 import_options):
    """Core assignment, bias codes and weight quantization (inspectable intermediate)."""
    from ..device.profile import load_profile
    from ..quantize.quantizer import quantize_network
    from ..report import format_quantize_summary
    from ..importers import load_network

    check_outputs({"-o": output, "--json": json_path})
    prof = load_profile(profile_name)
    network = load_network(model, profile=prof, **parse_import_options(import_options))
    qn = quantize_network(network, prof, max_chips=chips, prune=prune, strict=strict_parameters, seed=seed,
                          use_spares=not no_spares, use_nmda=not no_nmda_scale)
    from ..fileio import dumps_json, write_texts

    write_texts({output: qn.dumps(), json_path: dumps_json(qn.report) if json_path else None})
    click.echo(format_quantize_summary(qn.report))
    click.echo(f"wrote {output}")


@click.command("map")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="config.json", show_default=True, type=click.Path(dir_okay=False),
              help="Hardware config to write.")
@deploy_options
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
@click.option("--chip", "chip_path", type=click.Path(dir_okay=False), default=None,
              help="Chip profile (from `neurodeploy calibrate`): bias codes from its measured constants.")
def map_cmd(model, output, profile_name, chips, prune, strict_parameters, seed, no_spares, no_nmda_scale,
            import_options, cam_profile, cam_tolerance, report_path, quantized_path, plot_dir, chip_path):
    """quantize → map → config: turn MODEL (.json/.nir/.npz, or a quantized.json) into a hardware config."""
    import hashlib
    from pathlib import Path

    from ..deployment import deploy
    from ..fileio import dumps_json, write_texts
    from ..mapping.mapper import map_quantized
    from ..device.profile import load_profile
    from ..quantize.quantized_json import is_quantized_file, load_quantized
    from ..report import format_map_summary
    from ..importers import load_network

    check_outputs({"-o": output, "--json": report_path, "--quantized": quantized_path})
    if plot_dir:
        from ..plots import require_matplotlib

        require_matplotlib()
    prof = nominal = load_profile(profile_name)
    if chip_path:
        from ..calibration.apply import measured_profile
        from ..device.chip_profile import load_chip_profile

        chip = load_chip_profile(chip_path)
        prof = measured_profile(prof, chip)
    cams = cam_profiles(cam_profile)
    is_quantized = is_quantized_file(model)
    from ..log import stage

    if is_quantized:
        given = [f for f, v in (("--chips", chips is not None), ("--prune", prune), ("--strict-parameters", strict_parameters),
                                ("--seed", seed != 0), ("--no-spares", no_spares), ("--no-nmda-scale", no_nmda_scale),
                                ("-O", bool(import_options))) if v]
        if given:
            from ..errors import NetworkError

            raise NetworkError(f"{model}: is a quantized network (quantization already done): {', '.join(given)} "
                            f"only apply when mapping a model; drop them or map the model itself")
        if chip_path:
            raise click.UsageError("--chip needs the model itself (its currents are retargeted), not a quantized network")
        d = map_quantized(load_quantized(model), prof, cam_profiles=cams, cam_tolerance=cam_tolerance)
    else:
        with stage(f"loading {model}"):
            network = load_network(model, profile=nominal, **parse_import_options(import_options))
            source_sha = network.sha256()      # the config records the model, not its retargeted currents
        tuned = ((network.metadata or {}).get("chip_profile") or {}).get("sha256")
        if tuned and (not chip_path or tuned != hashlib.sha256(Path(chip_path).read_bytes()).hexdigest()):
            click.echo(f"note: {model} was fine-tuned for the chip profile with sha256 {tuned[:12]}…; "
                       + ("--chip gives another one" if chip_path else "map it with --chip and that chip profile"))
        opts = dict(chips=chips, prune=prune, strict=strict_parameters, seed=seed, cam_profiles=cams,
                    cam_tolerance=cam_tolerance, use_spares=not no_spares, use_nmda=not no_nmda_scale)
        with stage("quantize -> map -> config"):
            if chip_path:
                from ..calibration.placement import deploy_on_chip

                d, config, moved = deploy_on_chip(network, nominal, chip, **opts)
            else:
                d = deploy(network, prof, **opts)
    if not chip_path:
        config = d.config
    if chip_path and cams:
        click.echo("--chip with --cam-profile: the neurons keep the CAM-defect placement (not moved onto the "
                   "best-measured physical neurons)")
    if chip_path:
        config = config.model_copy(update={"source_model_sha256": source_sha})
        for (c, k), (before, after) in moved.items():
            click.echo(f"chip {c} core {k}: neurons on the best-measured physical neurons (mean squared log-deviation "
                       f"of their factors {before:.4f} → {after:.4f})")
    # every output rendered before any is written: a failure leaves none behind
    write_texts({output: config.dumps(), report_path: dumps_json(d.report) if report_path else None,
                 quantized_path: d.quantized.dumps() if quantized_path else None})
    if plot_dir:
        from ..plots import map_plots

        for p in map_plots(d.report, d.config, prof, plot_dir):
            click.echo(f"wrote {p}")
    click.echo(format_map_summary(d.report))
    click.echo(f"wrote {output}")
