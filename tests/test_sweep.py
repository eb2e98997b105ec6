"""Training sweeps (`neurodeploy sweep`): runs over the grid, each deployed and scored by its yield; the best
exported; on Ray Tune with ASHA stopping runs early, and a trial that fails restarting from its checkpoint."""

import json
import os

import numpy as np
import pytest


def tiny_data(path, seed=0):
    """3 classes, 12 channels, 36 trials of 60 steps: class k fires channels 4k..4k+3 at ~100 Hz."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 12)
    spikes = (rng.random((36, 60, 12)) < 0.02).astype(np.float32)
    for i, k in enumerate(labels):
        spikes[i, :, 4 * k:4 * k + 4] += rng.random((60, 4)) < 0.1
    np.savez(path, spikes=np.minimum(spikes, 1), labels=labels, dt=1e-3)


def sweep_file(tmp_path, grid="seed: [0, 1]", epochs=2):
    tiny_data(tmp_path / "data.npz")
    (tmp_path / "sweep.yaml").write_text(
        f"data: {tmp_path / 'data.npz'}\ntrain: {{epochs: {epochs}, hidden: 8, mismatch: 0.0, draws: 1}}\n"
        f"grid:\n  {grid}\nmetric: val_acc_nominal\nyield: {{boards: 4, mismatch: 0.1}}\n")
    return tmp_path / "sweep.yaml"


def test_bad_sweep_files_are_one_line(run_cli, tmp_path):
    (tmp_path / "s.yaml").write_text("task: frozen-noise\nbogus: 1\n")
    code, out, err = run_cli("sweep", tmp_path / "s.yaml", "-o", tmp_path / "o")
    assert code == 2 and "$.bogus: unknown key" in err and err.count("\n") == 1
    (tmp_path / "s.yaml").write_text("task: frozen-noise\ngrid: {lr: 0.1}\n")
    code, out, err = run_cli("sweep", tmp_path / "s.yaml", "-o", tmp_path / "o")
    assert code == 2 and "$.grid: expected a mapping of option → non-empty list" in err
    code, out, err = run_cli("sweep", sweep_file(tmp_path), "-o", tmp_path / "o", "--scheduler", "asha")
    assert code == 2 and "--scheduler asha needs --engine ray" in err


def test_grid_numbers_in_exponent_form_are_numbers(tmp_path):
    from neurodeploy.study.sweep import load_sweep, runs_of

    runs = runs_of(load_sweep(sweep_file(tmp_path, grid="lr: [1e-3, 5E-2]")))
    assert [r["options"]["lr"] for r in runs] == [1e-3, 5e-2]


def test_a_local_sweep_trains_deploys_scores_and_exports_the_best(run_cli, tmp_path):
    code, out, err = run_cli("sweep", sweep_file(tmp_path), "-o", tmp_path / "o")
    assert code == 0, err
    r = json.loads((tmp_path / "o" / "results.json").read_text())
    assert [x["id"] for x in r["runs"]] == ["seed0", "seed1"]
    for x in r["runs"]:
        assert x["epochs"] == 2 and not x["stopped_early"] and 0 <= x["yield"] <= 1
        assert (tmp_path / "o" / "runs" / x["id"] / "yield" / "summary.json").exists()
    best = next(x for x in r["runs"] if x["id"] == r["best"])
    assert best["yield"] == max(x["yield"] for x in r["runs"])
    assert (tmp_path / "o" / "best" / "model.json").read_bytes() == \
        (tmp_path / "o" / "runs" / r["best"] / "model.json").read_bytes()
    assert "(best)" in (tmp_path / "o" / "results.md").read_text()


@pytest.fixture(scope="module")
def cluster():
    """One local 1-CPU Ray cluster for the Tune tests of this module (one trial at a time, in grid order)."""
    pytest.importorskip("ray.tune")
    import ray

    from neurodeploy.study.engines import RayEngine

    RayEngine(num_cpus=1).start()
    yield ray
    ray.shutdown()


def test_an_asha_sweep_on_ray_tune_stops_runs_early_and_still_scores_them(cluster, tmp_path):
    from neurodeploy.study.sweep import load_sweep, run_sweep

    # one CPU: the trials run in grid order. ASHA's rungs are epochs 1 and 2 of 3; the second run (lr 1e-6: it
    # stays at chance, 1/3) trails the first (lr 0.05: it learns) at a rung and is
    # stopped there, the first runs to its end
    r = run_sweep(load_sweep(sweep_file(tmp_path, grid="lr: [0.05, 1e-6]", epochs=3)), tmp_path / "o",
                  engine="ray", scheduler="asha")
    (good, bad) = r["runs"]
    assert (good["epochs"], good["stopped_early"]) == (3, False)
    assert bad["stopped_early"] and bad["epochs"] < 3 and bad["metric"] < good["metric"]
    assert all("yield" in x for x in r["runs"])                      # every run, stopped or not, is deployed
    assert (tmp_path / "o" / "best" / "config.json").exists() and r["scheduler"] == "asha"


def test_a_trial_that_fails_restarts_from_its_checkpoint_and_ends_as_an_uninterrupted_run(cluster, tmp_path):
    from neurodeploy.study.sweep import load_sweep, runs_of
    from neurodeploy.study.trainrun import train_run
    from neurodeploy.study.tune import tune_runs

    sweep = load_sweep(sweep_file(tmp_path, grid="seed: [0]", epochs=2))
    (run,) = runs_of(sweep)
    log, failed = str(tmp_path / "epochs.log"), str(tmp_path / "failed")

    def fails_after_its_first_epoch(rid, row, run_dir):      # in the trial, after Tune took the epoch's checkpoint
        with open(log, "a") as f:
            f.write(f"{int(row['epoch'])}\n")
        if row["epoch"] == 1 and not os.path.exists(failed):
            open(failed, "w").close()
            os.remove(os.path.join(run_dir, "checkpoint.npz"))   # only Tune's copy of the checkpoint is left
            raise RuntimeError("the trial fails after its first epoch")

    hist = tune_runs(sweep, [run], tmp_path / "tune", hook=fails_after_its_first_epoch)
    assert os.path.exists(failed)
    assert open(log).read().split() == ["1", "2"]             # restarted at epoch 2, not again at 1
    assert [h["epoch"] for h in hist[run["id"]]] == [1, 2]     # the history keeps the epoch before the failure
    train_run(sweep, run, tmp_path / "uninterrupted")          # the same run in this process, never failing
    assert (tmp_path / "tune" / "runs" / run["id"] / "model.json").read_bytes() == \
        (tmp_path / "uninterrupted" / "model.json").read_bytes()


def test_a_run_trained_with_precise_timing_is_scored_so_and_on_the_spikes_own_times(run_cli, tmp_path):
    """A sweep on a data file of spike times with train {precise_timing: true}: each run's yield study runs with
    precise timing (its summary says so) on the test split's spike times, written so that they bin as before."""
    from neurodeploy.inputs import load_input
    from neurodeploy.train.tasks import load_data_file

    tiny_data(tmp_path / "counts.npz")
    z = np.load(tmp_path / "counts.npz")
    x = z["spikes"].astype(int)
    b, t, c = np.nonzero(x)
    times = (t + np.random.default_rng(0).uniform(0.05, 0.95, t.size)) * 1e-3
    np.savez(tmp_path / "data.npz", times=times, channels=c, samples=b, duration=0.06, labels=z["labels"], dt=1e-3)
    (tmp_path / "sweep.yaml").write_text(
        f"data: {tmp_path / 'data.npz'}\ntrain: {{epochs: 1, hidden: 8, mismatch: 0.0, draws: 1, precise_timing: true}}\n"
        f"grid:\n  seed: [0]\nmetric: val_acc_nominal\nyield: {{boards: 2, mismatch: 0.1}}\n")
    code, out, err = run_cli("sweep", tmp_path / "sweep.yaml", "-o", tmp_path / "o")
    assert code == 0, err
    run = tmp_path / "o" / "runs" / "seed0"
    assert json.loads((run / "yield" / "summary.json").read_text())["precise_timing"] is True
    written = load_input(run / "test.npz", 12, dt=1e-3)["spike_times"].timed()
    want = load_data_file(tmp_path / "data.npz").data("test").timed
    np.testing.assert_array_equal(written[0], want[0])
    np.testing.assert_allclose(written[1], want[1], atol=1e-9)
