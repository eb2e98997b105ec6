"""examples/ci/neurodeploy-verify.yml: its ``run:`` steps, in order, in a sample repository holding the shipped
example model (the install step aside: this environment's ``neurodeploy`` is on PATH). The job passes on a
faithful config, with and without a labels file, and stops on a stale config.json."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "neurodeploy-verify.yml"
EX = ROOT / "examples" / "frozen_noise"


def _job():
    wf = yaml.safe_load(WORKFLOW.read_text())
    (job,) = wf["jobs"].values()
    return wf["env"], [s for s in job["steps"] if "run" in s]


def _run_steps(repo: Path, env: dict, steps: list) -> list:
    """Each step as GitHub runs it (bash -e, workspace as cwd); returns the completed processes."""
    done = []
    for step in steps:
        p = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True,
                           timeout=300)
        done.append(p)
        if p.returncode:
            break
    return done


@pytest.fixture
def sample_repo(tmp_path):
    """A repository as the workflow's header describes: model, committed config, inputs and labels."""
    env_defaults, _ = _job()
    repo = tmp_path / "repo"
    (repo / Path(env_defaults["INPUTS"]).parent).mkdir(parents=True)
    shutil.copy(EX / "model.json", repo / env_defaults["MODEL"])
    shutil.copy(EX / "inputs.npz", repo / env_defaults["INPUTS"])
    shutil.copy(EX / "labels.npy", repo / env_defaults["LABELS"])
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, **{k: str(v) for k, v in env_defaults.items()}, "TRIALS": "4", "RUNNER_TEMP": str(runner_temp),
           "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    assert shutil.which("neurodeploy", path=env["PATH"]), "the test environment's neurodeploy command"
    subprocess.run(["neurodeploy", "map", env["MODEL"], "-o", env["CONFIG"]], cwd=repo, env=env, check=True,
                   capture_output=True)
    return repo, env


def test_the_jobs_steps_pass_on_a_faithful_config(sample_repo):
    repo, env = sample_repo
    _, steps = _job()
    install, *rest = steps
    assert install["run"].strip() == "pip install ."       # from the checked-out repository, no placeholder URL
    assert [s["name"] for s in rest][-1].startswith("The emulated deployment")
    done = _run_steps(repo, env, rest)
    assert [p.returncode for p in done] == [0] * len(rest), done[-1].stderr
    assert "PASS" in done[-1].stdout
    report = json.loads((repo / "verify-report.json").read_text())
    assert report["passed"] is True and report["trials"] == 4

    # LABELS empty: the labels come from the input npz (here: none, so spike counts only)
    (repo / "verify-report.json").unlink()
    done = _run_steps(repo, {**env, "LABELS": ""}, rest[-1:])
    assert done[0].returncode == 0, done[0].stderr
    assert json.loads((repo / "verify-report.json").read_text())["passed"] is True


def test_a_stale_config_stops_the_job(sample_repo):
    repo, env = sample_repo
    _, steps = _job()
    cfg = json.loads((repo / env["CONFIG"]).read_text())
    cfg["neurodeploy_version"] = "0.0.0"                   # another version wrote the same config: not stale
    (repo / env["CONFIG"]).write_text(json.dumps(cfg))
    check = steps[1]
    assert _run_steps(repo, env, [check])[0].returncode == 0
    # the model changed after config.json was made
    model = json.loads((repo / env["MODEL"]).read_text())
    proj = model["projections"][0]
    proj["weight"] = (np.asarray(proj["weight"]) * 0.5).round(4).tolist()
    (repo / env["MODEL"]).write_text(json.dumps(model))
    (p,) = _run_steps(repo, env, [check])
    assert p.returncode != 0 and "is stale: re-run neurodeploy map" in p.stderr, p.stderr
