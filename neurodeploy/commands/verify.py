"""``neurodeploy verify``: the float model vs the deployed config over emulated boards (or a real one); PASS/FAIL."""

from __future__ import annotations

import click

from .options import (import_option, board_options, check_outputs, parse_import_options, parse_window_option, samna_options,
                      session_options, window_option)

#: ``--chip``'s residual mismatch σ when ``--mismatch`` is not given: what a calibration leaves unmeasured (each CAM
#: slot's weight, the currents it does not identify) on top of the measured per-neuron factors.
CHIP_RESIDUAL_SIGMA = 0.02


@click.command("verify")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="npz with 'dt' (s) and 'spikes' [batch, T, n_inputs] (counts per step) or 'times' (s) and "
                   "'channels' (one row per input spike; optionally 'samples', 'batch', 'duration'); optionally "
                   "'labels' [batch] and 'readout' [start, stop) steps (the read-out window).")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False), default=None,
              help="npy with one class label (output index) per input sample.")
@click.option("--trials", type=int, default=32, show_default=True,
              help="Emulated mismatched boards; board b is `emulate --seed SEED+b`.")
@click.option("--mismatch", type=float, default=0.1, show_default=True,
              help="Device mismatch σ as a fraction (0.1 = 10 %, i.e. 30 % at 3σ). With --chip: the residual σ on "
                   "top of the measured chip (default there: 0.02).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--tolerance", multiple=True, metavar="NAME=VALUE",
              help="A gate by its check's name: rate_correlation=0.9 (min median r), relative_rate_error=1.0 (max), "
                   "accuracy_drop=0.02 (max), rate_difference_hz=HZ (max; off by default). Repeatable.")
@window_option
@click.option("--allow-other-model", is_flag=True,
              help="Judge a config mapped from another model (check same_model passes, saying so).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write the full report (JSON).")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True)
@import_option
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write PNG pictures (rasters float vs deployed, rate scatter, accuracy across boards) into this folder.")
@click.option("--backend", type=click.Choice(["emulator", "samna"]), default="emulator", show_default=True,
              help="samna: judge one run of CONFIG on a real board (one mismatch draw) instead of emulated draws.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the emulated boards (in units of --unit-size boards) and the float model's mismatch draws "
                   "(units of 8) run: local (in this process) or ray (Ray tasks, as `neurodeploy yield --engine "
                   "ray`); the report is the same either way.")
@click.option("--address", default=None, help="ray: the cluster's address ('auto': the running one; default: start a "
                                               "local cluster on this computer's CPUs).")
@click.option("--unit-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Boards per unit (one vmapped call, one task on Ray).")
@click.option("--chip", "chip_path", type=click.Path(dir_okay=False), default=None,
              help="Chip profile (from `neurodeploy calibrate`): the deployed boards are that measured chip (its "
                   "constants and per-neuron factors) with a residual σ (--mismatch, default 0.02) for what the "
                   "calibration could not pin down; the report names the chip profile and its sha256. Emulated "
                   "boards, on --engine local or ray (not with --backend samna: there the board is the chip).")
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="Both sides with precise spike timing: the float model and every emulated board (on either "
                   "engine; board b is `emulate --precise-timing --seed SEED+b`) — a spike acts on its targets at "
                   "its time inside the step instead of at the next step's start; the report says so (off: the "
                   "deployed numbers as before). Input spike times ('times') act at their own times too; an "
                   "input's counts per step act at their steps' starts either way.")
@board_options
@session_options
def verify_cmd(model, config, input_path, labels_path, trials, mismatch, seed, tolerance, window, allow_other_model,
               json_path, profile_name, import_options, plot_dir, backend, engine, address, unit_size, chip_path,
               precise_timing, device, bitfile, n_chips, no_discharge, settle, wait_for_clock):
    """Run MODEL (float) and CONFIG (emulated, or on a board) on the same inputs; PASS/FAIL, exit 1 on FAIL."""
    from ..inputs import load_input, resolve_window
    from ..fileio import write_json
    from ..device.profile import load_profile
    from ..importers import load_network
    from ..validate import load_checked_config
    from ..verification import Tolerance, VerifyError, check_labels, format_verify, load_labels, verify

    if trials < 0 or mismatch < 0:
        raise click.BadParameter("--trials and --mismatch must be ≥ 0")
    chip = None
    if chip_path:
        from ..device.chip_profile import load_chip_profile

        if backend != "emulator":
            raise click.BadParameter(f"a chip profile describes emulated boards; with --backend {backend} the board is "
                                     "the chip itself: drop --chip or --backend", param_hint="--chip")
        chip = load_chip_profile(chip_path)
        if click.get_current_context().get_parameter_source("mismatch").name == "DEFAULT":
            mismatch = CHIP_RESIDUAL_SIGMA
    eng = _engine(engine, address, backend)
    tol = Tolerance.parse(tolerance)
    window = parse_window_option(window)
    check_outputs({"--json": json_path})
    prof = load_profile(profile_name)
    network = load_network(model, profile=prof, **parse_import_options(import_options))
    cfg = load_checked_config(config, prof)
    if (network.metadata.get("training") or {}).get("precise_timing") and not precise_timing:
        click.echo(f"note: {model} was trained with precise spike timing (metadata.training.precise_timing); "
                   f"add --precise-timing to verify it in that integration", err=True)
    data = load_input(input_path, network.n_inputs, dt=network.dt, model=str(model), events=False)
    win = resolve_window(data, window, data["spikes"].shape[1], input_path)
    n_out = network.n_readouts               # labels are read-out channels (classes)
    labels = None
    if labels_path:
        labels = load_labels(labels_path, data["spikes"].shape[0], n_out, str(input_path))
    elif "labels" in data:
        labels = check_labels(data["labels"], data["spikes"].shape[0], n_out, f"{input_path}: $.labels", str(input_path))
    if plot_dir:
        from ..plots import require_matplotlib

        require_matplotlib()
    board = None
    if backend == "samna":
        from ..backends.registry import get_backend

        board = get_backend("samna", prof, **samna_options(device, bitfile, n_chips, no_discharge, settle, wait_for_clock))
    pictures: dict = {}
    try:
        report = verify(network, cfg, prof, data.get("spike_times", data["spikes"]), data["dt"], labels=labels, trials=trials, mismatch=mismatch,
                        seed=seed, tolerance=tol, pictures=pictures, board=board, window=win,
                        allow_other_model=allow_other_model, engine=eng, unit_size=unit_size,
                        negative=data.get("negative") if labels is not None else None, chip=chip,
                        chip_source=chip_path, precise_timing=precise_timing)
    finally:
        if board is not None:
            board.close()
    if plot_dir:
        from ..plots import verify_plots

        for p in verify_plots(report, pictures, plot_dir):
            click.echo(f"wrote {p}")
    if json_path:
        write_json(json_path, report)
    click.echo(format_verify(report))
    return 0 if report["passed"] else 1


def _engine(engine: str, address, backend: str):
    """The engine of the emulated boards, started before any work (Ray forks its helpers before JAX's threads
    start; without Ray installed, one line and exit 2)."""
    from ..study.engines import LocalEngine, RayEngine

    if engine == "local":
        if address:
            raise click.BadParameter("--address goes with --engine ray", param_hint="--address")
        return LocalEngine()
    if backend != "emulator":
        raise click.BadParameter(f"--engine ray runs emulated boards; --backend {backend} judges one real board",
                                 param_hint="--engine")
    eng = RayEngine(address=address)
    eng.start()
    return eng
