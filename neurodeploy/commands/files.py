"""``neurodeploy validate``, ``schema`` and ``export``: checking and converting files."""

from __future__ import annotations

import click

from .options import import_option, check_outputs, parse_import_options


@click.command("validate")
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
    from ..validate import validate_file

    check_outputs({"--json": json_path})
    opts = parse_import_options(import_options)
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
        from ..fileio import write_json

        write_json(json_path, {"files": results, "ok": not failed})
    if compare_path and not failed:
        from ..importers.nir.fidelity import report

        for line in report(files, compare_path, opts):
            click.echo(line)
    return 2 if failed else 0


@click.command("schema")
@click.option("-o", "--output", "out_dir", default="schemas", show_default=True, type=click.Path(file_okay=False),
              help="Directory to write network/config/profile.schema.json into.")
@click.option("--check", is_flag=True, help="Write nothing; exit 2 if the files in the directory differ from the models.")
def schema_cmd(out_dir, check):
    """Write the JSON Schemas of model.json, config.json and device profiles (generated from the models)."""
    from ..schema import stale_schemas, write_schemas

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


@click.command("export")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="File to write: .nir (NIR graph, CubaLIF approximation) or .json (Network, e.g. from an import).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Profile name or YAML path.")
@import_option
def export_cmd(model, output, profile_name, import_options):
    """Write MODEL (.json/.nir/.npz) as NIR (.nir) or as a Network (.json).

    The NIR graph is Input → Affine → CubaLIF (+ recurrent Affine), an approximation of the
    DPI neuron stated in the graph's metadata; `neurodeploy` reads its own export back exactly.
    """
    from ..errors import NetworkError
    from ..device.profile import load_profile
    from ..importers import load_network

    check_outputs({"-o": output})
    prof = load_profile(profile_name)
    network = load_network(model, profile=prof, **parse_import_options(import_options))
    suffix = output.lower().rsplit(".", 1)[-1] if "." in output else ""
    if suffix == "nir":
        from ..importers.nir.export import export_nir

        export_nir(network, output, profile=prof)
        click.echo(f"wrote {output}: NIR graph, {network.n_neurons} CubaLIF neurons in {len(network.populations)} populations, "
                   f"{len(network.projections)} Affine projections (CubaLIF approximation of the DPI; see its metadata)")
    elif suffix == "json":
        network.save(output)
        click.echo(f"wrote {output}: network {network.name!r}, {network.n_neurons} neurons")
    else:
        raise NetworkError(f"{output}: unknown output type (expected .nir or .json)")
    return 0
