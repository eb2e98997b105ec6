"""The training engine on tiny configurations: structure round trip, shared currents, constraints
exact, a few steps lower the loss, same seed → identical model.json, --resume continues exactly."""

import json

import jax
import numpy as np
import pytest

from neurodeploy.network import network_from_dict
from neurodeploy.train.task import TaskData, classification_metrics

N_IN = 70          # > 64: the fan-in constraint has work to do


class TinyTask:
    """Two classes, each a different half of the inputs firing faster (60 bins)."""

    name = "tiny"
    n_inputs = N_IN
    n_classes = 2
    dt = 1e-3

    def data(self, split, seed=0):
        n = {"train": 8, "val": 4, "test": 6}[split]
        rng = np.random.default_rng([seed, {"train": 0, "val": 1, "test": 2}[split]])
        y = np.arange(n) % 2
        rate = np.where((np.arange(N_IN)[None, :] < N_IN // 2) == (y[:, None] == 0), 0.08, 0.02)
        x = (rng.random((n, 60, N_IN)) < rate[:, None, :]).astype(np.float32)
        return TaskData(x, y.astype(np.int64), self.dt)

    def architecture(self):
        return {"hidden": 0, "recurrent": True, "loss": "ce", "epochs": 3, "batch_size": 4, "lr": 0.02,
                "tau_mem": 0.02, "tau_ampa": 0.01, "tau_gaba": 0.01}

    def metrics(self, counts, data):
        return classification_metrics(counts, data)


def _cfg(**kw):
    from neurodeploy.train.loop import TrainConfig

    base = dict(epochs=3, batch_size=4, lr=0.02, seed=1, draws=2, eval_draws=2, qat_epochs=1, progress=False,
                train_currents=("Itau_mem", "Igain_mem"))
    base.update(kw)
    return TrainConfig(**base)


def test_structure_round_trip_keeps_zeros_and_forms(profile):
    from neurodeploy.train.structure import Structure

    network = network_from_dict({
        "n_inputs": 3, "populations": [{"name": "a", "size": 2}, {"name": "b", "size": 2}],
        "projections": [
            {"source": "input", "target": "a", "weight": [[0.0, 0.5], [-0.25, 0.0], [0.125, 1.0]]},
            {"source": "input", "target": "b", "synapse": "nmda", "pre": [0, 2], "post": [1, 0], "w": [0.0, 0.75]},
            {"source": "a", "target": "b", "pre": [0, 1], "post": [0, 0], "w": [-0.5, 0.0]}],
        "outputs": [{"population": "b"}]})
    st = Structure(network, profile, currents=("Itau_mem",))
    assert st.slots.n == 6 + 2 + 2                      # every slot, zeros included
    theta = st.par.init()
    assert theta["log_currents"]["Itau_mem"].shape == (2,)   # one value per population
    back = st.to_network(theta, metadata=network.metadata).to_json_dict()
    assert back["projections"] == network.to_json_dict()["projections"]
    # a zero slot trains: it gets a gradient and can become a synapse
    w = np.asarray(theta["weights"]).copy()
    w[0] = 0.3
    out = st.to_network(theta, weights=w).to_json_dict()
    assert out["projections"][0]["weight"][0][0] == pytest.approx(0.3)
    # a shared current moves every neuron of its population together
    theta["log_currents"]["Itau_mem"] = theta["log_currents"]["Itau_mem"].at[1].set(np.log(2.0))
    cur = st.currents_of(theta)["Itau_mem"]
    ref = network.neuron_params(profile)["Itau_mem"]
    np.testing.assert_allclose(cur / ref, [1, 1, 2, 2], rtol=1e-6)


def test_fan_in_mask_keeps_the_largest_64_per_neuron():
    from neurodeploy.train.constraints import fan_in, fan_in_mask

    rng = np.random.default_rng(0)
    dst = np.repeat([0, 1, 2], [100, 64, 10])
    w = rng.normal(size=dst.size)
    m = fan_in_mask(w, dst, 64)
    assert list(fan_in(w * m, dst, 3)) == [64, 64, 10]
    kept0 = np.abs(w[:100][m[:100] > 0])
    assert kept0.min() >= np.abs(w[:100][m[:100] == 0]).max()


def test_bias_range_projection_is_exact(profile):
    import jax.numpy as jnp

    from neurodeploy.train.loop import Trainer
    from neurodeploy.train.run import build_network
    from neurodeploy.train.structure import Structure

    task = TinyTask()
    network = build_network(task, task.architecture(), profile, 0, data=task.data("train"))
    st = Structure(network, profile, currents=("Itau_mem", "Ispkthr"))
    tr = Trainer(st, task.data("train"), task.data("val"), _cfg(), profile)
    theta = st.par.init()
    theta = {"log_currents": {q: jnp.full_like(v, 40.0 if q == "Itau_mem" else -40.0) for q, v in theta["log_currents"].items()},
             "weights": theta["weights"] * 1e6}
    theta = tr._project(theta)
    for q, v in st.currents_of(theta).items():
        lo, hi = profile.bias.range(profile.quantity_to_parameter[q])
        assert np.all((v >= lo) & (v <= hi)), q
        profile.bias.to_code(profile.quantity_to_parameter[q], v)      # representable: no BiasRangeError
    assert np.all(np.abs(np.asarray(theta["weights"])) <= st.weight_bound() + 1e-6)


def test_a_few_steps_lower_the_loss(profile):
    from neurodeploy.train.loop import Trainer
    from neurodeploy.train.run import build_network
    from neurodeploy.train.structure import Structure

    task = TinyTask()
    tr_d, va_d = task.data("train"), task.data("val")
    network = build_network(task, task.architecture(), profile, 0, data=tr_d)
    st = Structure(network, profile)
    cfg = _cfg(epochs=100, fan_in=False, qat=False, mismatch=0.0)
    tr = Trainer(st, tr_d, tr_d, cfg, profile)
    state = tr.fresh(st.par.init())
    before = tr.evaluate(state.theta, np.asarray(state.theta["weights"]), tr_d)["loss_nominal"]
    cfg.stop_after = 4
    state = tr.fit(state)
    after = tr.evaluate(state.theta, np.asarray(state.theta["weights"]), tr_d)["loss_nominal"]
    assert after < before


@pytest.fixture(scope="module")
def trained(tmp_path_factory, profile):
    from neurodeploy.train.run import train

    d = tmp_path_factory.mktemp("train")
    s = train(TinyTask(), d / "a.json", _cfg(), profile, report=False, keep_checkpoint=True)
    return d, s


def test_constraints_hold_exactly_after_training(trained, profile):
    from neurodeploy.quantize.quantizer import quantize_network
    from neurodeploy.importers import load_network

    d, s = trained
    network = load_network(d / "a.json")
    fan = np.zeros(network.n_neurons, int)
    off = network.offsets()
    for k, pr in enumerate(network.projections):
        _, post, _ = network.projection_coo(k)
        np.add.at(fan, post + off[pr.target], 1)
    assert fan.max() <= 64 and s["constraints"]["fan_in_ok"]
    # QAT: the deployment quantizer reproduces the trained weights (map's weight error ~ 0)
    qn = quantize_network(network, profile)          # would raise on bias-range or fan-in
    assert qn.report["weights"]["relative_rms_error"] < 0.01
    meta = network.metadata
    assert meta["task"] == "tiny" and meta["seed"] == 1 and "accuracy" in meta["metrics"]["test"]
    assert meta["training"]["qat"] and meta["constraints"]["currents_in_bias_range"]


def test_same_seed_same_bytes_and_resume_continues(trained, tmp_path, profile):
    from neurodeploy.train.run import train

    d, _ = trained
    train(TinyTask(), tmp_path / "a.json", _cfg(stop_after=2), profile, report=False)
    meta = json.loads((tmp_path / "a.json").read_text())["metadata"]
    assert meta["epochs_done"] == 2 and meta["complete"] is False
    assert (tmp_path / "a.json.ckpt.npz").exists()                 # stopped early: kept for --resume
    s = train(TinyTask(), tmp_path / "a.json", _cfg(), profile, report=False, resume=True)
    assert (tmp_path / "a.json").read_bytes() == (d / "a.json").read_bytes()
    assert not (tmp_path / "a.json.ckpt.npz").exists() and s["checkpoint"] is None   # complete: removed


def test_resume_refuses_other_settings(trained, tmp_path, profile):
    from neurodeploy.train.run import train
    from neurodeploy.train.task import TrainError

    d, _ = trained
    with pytest.raises(TrainError, match="other settings"):
        train(TinyTask(), tmp_path / "b.json", _cfg(lr=0.5), profile, report=False, resume=True,
              checkpoint=d / "a.json.ckpt.npz")


def test_runs_that_differ_in_lr_or_epochs_compile_one_step(profile):
    """The learning rate and the schedule's length are values of the optimiser's state: the float and QAT phases run
    one compiled step, and runs that differ only in them (a sweep over lr or epochs) compile the same program; each
    optimiser still starts from its own rate and length."""
    from neurodeploy.train.loop import Trainer
    from neurodeploy.train.run import build_network
    from neurodeploy.train.structure import Structure

    task = TinyTask()
    tr_d = task.data("train")
    network = build_network(task, task.architecture(), profile, 0, data=tr_d)
    st = Structure(network, profile)
    texts, hyper = [], []
    for lr, epochs in ((0.02, 3), (0.5, 5)):
        tr = Trainer(st, tr_d, tr_d, _cfg(lr=lr, epochs=epochs), profile)
        assert tr.steps["float"] is tr.steps["qat"]
        s = tr.fresh(st.par.init())
        zeros = np.zeros(st.slots.n, np.float32)
        args = (s.theta, s.opt_state, s.mask, zeros, zeros, np.ones(st.slots.n, np.float32), False,
                tr_d.spikes[:4], tr_d.labels[:4], np.zeros((4, st.readout.shape[1]), np.float32),
                np.ones(4, np.float32), jax.random.PRNGKey(0))
        texts.append(tr.steps["float"].lower(*args).as_text())
        hyper.append({k: float(v) for k, v in s.opt_state.hyperparams.items()})
    assert texts[0] == texts[1]
    # tiny task: 8 trials, batch 4 → 2 steps per epoch; one QAT epoch (qat_epochs=1)
    assert hyper == [pytest.approx({"learning_rate": 0.02, "decay_steps": 4.0}),
                     pytest.approx({"learning_rate": 0.5, "decay_steps": 8.0})]


def test_resume_refuses_a_checkpoint_of_another_optimiser_layout(trained, tmp_path, profile):
    from neurodeploy.train.run import train
    from neurodeploy.train.task import TrainError

    d, _ = trained
    with np.load(d / "a.json.ckpt.npz") as z:
        data = {k: z[k] for k in z.files}
    last = max(int(k[4:]) for k in data if k.startswith("opt/"))
    data.pop(f"opt/{last}")                          # one optimiser array fewer: an earlier layout
    np.savez(tmp_path / "old.ckpt.npz", **data)
    with pytest.raises(TrainError, match="another version of neurodeploy .*start afresh without --resume"):
        train(TinyTask(), tmp_path / "c.json", _cfg(), profile, report=False, resume=True,
              checkpoint=tmp_path / "old.ckpt.npz")


def test_cli_bad_data_file_is_one_line(run_cli, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, spikes=np.full((4, 10, 3), np.nan, np.float32), labels=np.zeros(4, int), dt=1e-3)
    code, out, err = run_cli("train", "--data", bad, "-o", tmp_path / "m.json", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "bad.npz" in err
    assert not (tmp_path / "m.json").exists()


def test_losses_ratio_hinge_and_current_logits():
    import jax.numpy as jnp

    from neurodeploy.train.losses import ce_counts, current_logits, rate_mse, ratio_hinge

    counts = jnp.array([[20.0, 1.0], [3.0, 3.0]])
    y, v = jnp.array([0, 1]), jnp.array([1.0, 1.0])
    # sample 0 has FRR 10.5 ≥ 8 → no loss; sample 1 has FRR 1 → log 8
    assert float(ratio_hinge(counts, y, v, 8.0)) == pytest.approx(np.log(8.0) / 2, rel=1e-5)
    assert float(ratio_hinge(counts, y, jnp.array([1.0, 0.0]), 8.0)) == 0.0        # a skipped (negative) trial
    right = jnp.array([[4.0, 1.0], [1.0, 3.0]])
    assert float(ce_counts(right, y, v)) > float(ce_counts(right * 2, y, v)) > 0      # a larger margin, a lower loss
    assert float(rate_mse(jnp.array([[25.0, 0.0]]), jnp.array([[50.0, 0.0]]), jnp.array([1.0]), 0.5)) == 0.0
    rec = {k: jnp.full((1, 10, 3), 2e-9) for k in ("I_ampa", "I_nmda", "I_gaba")}
    lg = current_logits(rec, np.array([1, 2]), (0, 10), jnp.array([1e-9, 1e-9, 4e-9]))
    np.testing.assert_allclose(np.asarray(lg), [[2.0, 0.5]], rtol=1e-5)


def test_eval_every_validates_less_often_but_at_each_phase_end(tmp_path, profile):
    from neurodeploy.train.run import train

    s = train(TinyTask(), tmp_path / "e.json", _cfg(epochs=5, qat_epochs=1, eval_every=3),
              profile, report=False)
    assert [h["epoch"] for h in s["history"]] == [3, 4, 5]     # every 3rd, the float phase's end, the end


def test_nominal_training_with_currents_stays_finite(tmp_path, profile):
    """--no-mismatch with --train-currents used to write NaN weights (the nominal draw folded as constants)."""
    from neurodeploy.train.run import train

    train(TinyTask(), tmp_path / "m.json", _cfg(mismatch=0.0, epochs=2, qat_epochs=1), profile, report=False)
    network = json.loads((tmp_path / "m.json").read_text())
    w = np.concatenate([np.ravel(p["weight"]) for p in network["projections"] if "weight" in p])
    assert w.size and np.all(np.isfinite(w))
    assert all(np.all(np.isfinite(v)) for k, v in network["populations"][0].items() if k.startswith("I"))


def test_precise_timing_trains_on_the_spikes_times_and_is_recorded(trained, tmp_path, profile):
    """train --precise-timing: the simulator it trains with has precise spike timing, the model differs from the one
    trained without (TinyTask's outputs are recurrent: spikes reach them inside the step; its weights end on the same
    grid levels, its trained currents do not), the model's
    metadata.training records it (and a model trained without does not name it), a resume must keep it."""
    from neurodeploy.importers import load_network
    from neurodeploy.train.run import train
    from neurodeploy.train.structure import Structure
    from neurodeploy.train.task import TrainError

    d, _ = trained
    train(TinyTask(), tmp_path / "p.json", _cfg(precise_timing=True), profile, report=False, keep_checkpoint=True)
    timed, plain = load_network(tmp_path / "p.json"), load_network(d / "a.json")
    assert timed.metadata["training"]["precise_timing"] is True and "precise_timing" not in plain.metadata["training"]
    assert [p.Itau_mem for p in timed.populations] != [p.Itau_mem for p in plain.populations]   # the trained currents
    assert Structure(timed, profile, precise_timing=True).net.precise_timing
    assert not Structure(timed, profile).net.precise_timing
    with pytest.raises(TrainError, match="precise_timing"):
        train(TinyTask(), tmp_path / "q.json", _cfg(), profile, report=False, resume=True,
              checkpoint=tmp_path / "p.json.ckpt.npz")


def test_a_data_file_of_spike_times_trains_on_their_counts_or_with_precise_timing_on_their_times(tmp_path, profile):
    """--data with input spike times: trained as the same counts without --precise-timing (the same model), and with
    it on the spikes' own times (another model than with the counts at their bins' starts)."""
    from neurodeploy.importers import load_network
    from neurodeploy.train.run import train
    from neurodeploy.train.tasks import load_data_file
    from test_tasks_datafile import _as_times

    task = TinyTask()
    parts = [task.data(s) for s in ("train", "val", "test")]
    x = np.concatenate([p.spikes for p in parts]).astype(np.uint8)
    y = np.concatenate([p.labels for p in parts])
    np.savez(tmp_path / "counts.npz", spikes=x, labels=y, dt=1e-3)
    np.savez(tmp_path / "times.npz", **_as_times(x), labels=y, dt=1e-3)
    models = {}
    for name in ("counts", "times"):
        for timed in (False, True):
            out = tmp_path / f"{name}{timed}.json"
            train(load_data_file(tmp_path / f"{name}.npz"), out, _cfg(epochs=1, qat=False, mismatch=0.0,
                                                                      precise_timing=timed), profile,
                  report=False)
            m = load_network(out)
            models[name, timed] = ([p.Itau_mem for p in m.populations], m.projection_coo(0)[2].tolist())
    assert models["times", False] == models["counts", False]
    assert models["times", True] != models["counts", True]
