"""The draws' work-precision benchmark (tools/bench_draws_precision.py): its equal-accuracy summary and a small run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import bench_draws_precision as bdp  # noqa: E402


def _row(dt, error, cost, n=64):
    return {"kind": "rec", "n": n, "rate": 100.0, "dt": dt, "error": error, "cost": cost}


def test_the_summary_takes_each_simulators_cheapest_step_within_the_target():
    ours = [_row(2e-3, 0.015, 2e-3), _row(1e-3, 0.007, 3e-3)]
    rp = [_row(1e-3, 0.27, 6e-4), _row(1e-4, 0.04, 8e-3), _row(5e-5, 0.014, 1.6e-2)]
    assert bdp.cheapest(ours, ("rec", 64, 100.0), 0.02)["dt"] == 2e-3
    assert bdp.cheapest(rp, ("rec", 64, 100.0), 0.02)["dt"] == 5e-5
    assert bdp.cheapest(rp, ("rec", 64, 100.0), 0.01) is None
    text = bdp.tables(ours, rp, 0.02)
    assert "| recurrent N = 64, 100 Hz | 1.5 % at dt 2 ms, 2.00 ms | 1.4 % at dt 0.05 ms, 16.00 ms | 8.0× |" in text
    assert "| recurrent N = 64, 100 Hz | 0.7 % at dt 1 ms, 3.00 ms | none | — |" in bdp.tables(ours, rp, 0.01)


def test_each_draws_error_is_against_its_own_reference():
    import numpy as np
    ref = np.array([[10.0, 10.0], [1.0, 1.0]])
    counts = np.array([[10.0, 12.0], [1.0, 2.0]])         # 10 % off and 50 % off
    assert bdp.draw_errors(counts, ref) == pytest.approx(0.3)


def test_a_dt_off_the_reference_grid_is_refused():
    with pytest.raises(SystemExit, match="not a multiple of the reference step 0.3 ms"):
        bdp.binned(bdp.raster(100.0, 0, 3e-4), 1e-3, 3e-4)


def test_a_small_run_measures_every_step(tmp_path):
    out = tmp_path / "rows.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, str(TOOLS / "bench_draws_precision.py"), "--sizes", "8", "--draws", "2",
                          "--dts", "2,1", "--reference", "0.5", "--repeats", "1", "--json", str(out)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(out.read_text())["ours"]
    assert [r["dt"] for r in rows] == [2e-3, 1e-3]
    assert all(r["count"] > 0 and r["cost"] > 0 and 0 <= r["error"] < 1 for r in rows)
    assert "| recurrent N = 8, 100 Hz |" in res.stdout
