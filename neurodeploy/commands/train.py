"""``neurodeploy train``: train a built-in task (or ``--data FILE.npz``) on the chip model → model.json."""

from __future__ import annotations

import click

from ..train.task import TASK_NAMES, TrainError


@click.command("train")
@click.argument("task", required=False)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Trained model (.json).")
@click.option("--data", "data_path", type=click.Path(dir_okay=False),
              help="Your data instead of a built-in task: npz with spikes [n, T, n_in] counts (or spike 'times' (s) "
                   "with 'channels' and 'samples'), labels [n], dt (s).")
@click.option("--test", "test_path", type=click.Path(dir_okay=False),
              help="With --data: a separate test file (same format) instead of the held-out 20 % of the data file.")
@click.option("--init", "init", type=click.Path(dir_okay=False),
              help="Continue training this network (model.json, .nir or .npz; any import) instead of a fresh one.")
@click.option("--hidden", type=click.IntRange(min=0), help="Hidden neurons (0: inputs straight to the outputs).")
@click.option("--recurrent/--no-recurrent", default=None, help="Recurrent connections in the hidden (or output) population.")
@click.option("--outputs-per-class", type=click.IntRange(min=1),
              help="Output neurons per class, read out as one summed channel (default: the task's; 1 = one neuron).")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs (default: the task's).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Minibatch size (default: the task's).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate (default: the task's).")
@click.option("--loss", type=click.Choice(["ce", "ce_current", "rate_mse"]), help="Loss (default: the task's).")
@click.option("--beta", type=click.FloatRange(min=0, min_open=True),
              help="Inverse temperature of the count cross-entropy, per spike (default: the task's; lower asks for wider margins).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of everything.")
@click.option("--mismatch", type=click.FloatRange(min=0), default=None,
              help="σ of the device mismatch trained against (fraction; default 0.1). With --chip: the residual σ on "
                   "top of the measured chip (default 0.02).")
@click.option("--chip", "chip_path", type=click.Path(dir_okay=False), default=None,
              help="Chip profile (from `neurodeploy calibrate`): fine-tune the --init network for that measured chip, "
                   "its neurons where `map --chip` places them, with the chip's per-neuron factors; the model records "
                   "the chip profile's sha256 (map it with `map --chip` and the same file).")
@click.option("--no-mismatch", is_flag=True, help="Train on the nominal chip only.")
@click.option("--draws", type=click.IntRange(min=1),
              help="Mismatch draws per step (the loss is their mean; default: the task's, else 4).")
@click.option("--redraw-every", type=click.IntRange(min=1), default=1, show_default=True, help="Fresh draws every K steps.")
@click.option("--fixed-data", is_flag=True, help="Train on one Poisson realisation (default: a fresh one every epoch).")
@click.option("--no-fan-in", is_flag=True, help="Do not enforce the 64-entry CAM fan-in during training.")
@click.option("--no-qat", is_flag=True, help="Skip the quantization-aware final phase on the per-core 4-bit grid.")
@click.option("--qat-epochs", type=click.IntRange(min=0), default=0, help="Epochs of the QAT phase (0: a quarter).")
@click.option("--no-bias-range", is_flag=True, help="Do not keep trained currents inside the bias generator's range.")
@click.option("--train-currents", is_flag=True, help="Also train the circuit currents, one value per population.")
@click.option("--learn-delays", is_flag=True,
              help="Also train every synapse's delay (s), kept inside the chip's delay range; written to model.json's 'delay'.")
@click.option("--max-delay", type=click.FloatRange(min=0, min_open=True),
              help="Longest learned delay (s; default: the task's, else what the chip's delay stages produce, at most 0.1).")
@click.option("--ratio-loss", type=click.FloatRange(min=0), default=None,
              help="Weight of the firing-rate-ratio hinge (default: 1 with the rate_mse loss, else 0).")
@click.option("--noise-loss", type=click.FloatRange(min=0), default=None,
              help="Weight of the noise term: pushes down the most active output on trials without a class "
                   "(the data's 'negative'; default: the task's, else 0).")
@click.option("--rate-reg", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of the rate regulariser (penalises rates above --rate-max).")
@click.option("--rate-max", type=click.FloatRange(min=0, min_open=True), default=100.0, show_default=True, help="Hz.")
@click.option("--patience", type=click.IntRange(min=0), default=0, help="Early stopping after N epochs without validation gain.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint (OUTPUT.ckpt.npz or --checkpoint).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Checkpoint file (default: OUTPUT.ckpt.npz).")
@click.option("--keep-checkpoints", "keep_checkpoint", is_flag=True,
              help="Keep the checkpoint when the run completes (it is removed then; a run stopped early keeps it).")
@click.option("--stop-after", type=click.IntRange(min=1), help="Stop after this many epochs in total (continue with --resume).")
@click.option("--precise-timing", "precise_timing", is_flag=True,
              help="Train with precise spike timing: a spike acts on its targets at its time inside the step (as "
                   "`verify --precise-timing` and the chip, which runs in continuous time); recorded in the model's "
                   "metadata.training.")
@click.option("--profile", "profile_name", default="dynapse2", show_default=True, help="Device profile.")
@click.option("--no-report", is_flag=True, help="Do not write the training report.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_cmd(task, output, data_path, test_path, init, hidden, recurrent, outputs_per_class, epochs, batch_size, lr, loss, beta, seed,
              mismatch, no_mismatch, draws, redraw_every, fixed_data, no_fan_in, no_qat, qat_epochs, no_bias_range, train_currents,
              learn_delays, max_delay, ratio_loss, noise_loss, rate_reg, rate_max,
              patience, resume, checkpoint, keep_checkpoint, stop_after, profile_name, no_report, quiet, chip_path,
              precise_timing):
    """Train TASK (frozen-noise, temporal-xor, digits, coincidence) or --data FILE on the Dynap-SE2 model; write OUTPUT."""
    from ..device.profile import load_profile
    from ..train.loop import TrainConfig
    from ..train.run import TRAINABLE_CURRENTS, train
    from ..train.tasks import get_task, load_data_file

    if (task is None) == (data_path is None):
        raise TrainError(f"give a TASK ({', '.join(TASK_NAMES)}) or --data FILE.npz (exactly one)")
    if test_path and not data_path:
        raise TrainError("--test FILE goes with --data FILE (a built-in task has its own test split)")
    if chip_path and not init:
        raise TrainError("--chip fine-tunes a trained network for a measured chip: give it with --init model.json")
    if mismatch is None:
        from ..train.measured_chip import RESIDUAL_SIGMA

        mismatch = RESIDUAL_SIGMA if chip_path else 0.1
    t = load_data_file(data_path, test=test_path) if data_path else get_task(task)
    arch = t.architecture()
    over = {k: v for k, v in (("hidden", hidden), ("recurrent", recurrent), ("outputs_per_class", outputs_per_class))
            if v is not None}
    cfg = TrainConfig(
        epochs=epochs or int(arch.get("epochs", 20)), batch_size=batch_size or int(arch.get("batch_size", 32)),
        lr=lr or float(arch.get("lr", 0.01)), beta=beta or float(arch.get("beta", 1.0)), seed=seed, loss=loss or arch.get("loss", "ce"),
        mismatch=0.0 if no_mismatch else mismatch, draws=draws or int(arch.get("draws", 4)), redraw_every=redraw_every, fresh_data=not fixed_data, fan_in=not no_fan_in,
        qat=not no_qat, qat_epochs=qat_epochs, bias_range=not no_bias_range,
        train_currents=TRAINABLE_CURRENTS if train_currents else (), learn_delays=learn_delays, max_delay=max_delay or 0.0,
        ratio_weight=ratio_loss if ratio_loss is not None else float(arch.get("ratio_weight", 1.0 if (loss or arch.get("loss")) == "rate_mse" else 0.0)),
        ratio_target=float(arch.get("ratio_target", 8.0)),
        noise_weight=noise_loss if noise_loss is not None else float(arch.get("noise_weight", 0.0)),
        rate_reg=rate_reg, rate_max=rate_max,
        patience=patience, eval_every=int(arch.get("eval_every", 1)), stop_after=stop_after, progress=not quiet,
        precise_timing=precise_timing)
    s = train(t, output, cfg, load_profile(profile_name), arch_overrides=over, init=init, resume=resume,
              checkpoint=checkpoint, report=not no_report, keep_checkpoint=keep_checkpoint, chip=chip_path)
    m, c = s["metrics"], s["constraints"]
    line = f"test accuracy {m['test']['accuracy']:.3f} ({'the measured chip' if chip_path else 'nominal chip'})"
    if getattr(t, "test_description", None):
        line = f"test: {t.test_description}\n" + line
    if m["test_mismatch"].get("accuracy"):
        line += f", median {m['test_mismatch']['median_accuracy']:.3f} over {m['test_mismatch']['draws']} mismatch draws"
    for k in ("frr_min", "noise_frr_median", "noise_max_win_fraction"):
        if k in m["test"]:
            line += f", {k} {m['test'][k]:.2f}"
    click.echo(line)
    click.echo(f"constraints: fan-in max {c['fan_in_max']}/{c['fan_in_limit']}, currents in bias range: "
               f"{'yes' if c['currents_in_bias_range'] else 'no'}, map weight error {c['map_weight_error']}")
    click.echo(f"wrote {output}" + (f" and {', '.join(s['report'].values())}" if s.get("report") else ""))
