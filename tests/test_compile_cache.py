"""The CLI's persistent compilation cache (neurodeploy/compile_cache.py)."""

import os
import subprocess
import sys
from pathlib import Path

from neurodeploy import compile_cache

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "frozen_noise"


def test_where_the_cache_lives():
    assert compile_cache.cache_dir({"NEURODEPLOY_CACHE_DIR": "/x/y"}) == Path("/x/y")
    assert compile_cache.cache_dir({"NEURODEPLOY_CACHE_DIR": "off"}) is None
    assert compile_cache.cache_dir({"NEURODEPLOY_CACHE_DIR": " OFF "}) is None
    assert compile_cache.cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/neurodeploy/xla")
    assert compile_cache.cache_dir({}) == Path(os.path.expanduser("~")) / ".cache" / "neurodeploy" / "xla"


def test_enable_leaves_a_users_own_setting_and_unwritable_places_alone(tmp_path, capsys):
    assert compile_cache.enable({"JAX_COMPILATION_CACHE_DIR": str(tmp_path)}) is None
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert compile_cache.enable({"NEURODEPLOY_CACHE_DIR": str(blocker / "cache")}) is None
    warned = capsys.readouterr().err
    assert warned.count("\n") == 1 and "NEURODEPLOY_CACHE_DIR=" in warned and "not a writable directory" in warned
    assert compile_cache.enable({"NEURODEPLOY_CACHE_DIR": "off"}) is None


def test_trim_deletes_the_oldest_entries_down_to_three_quarters(tmp_path):
    for i in range(8):
        f = tmp_path / f"entry{i}"
        f.write_bytes(b"x" * 100)
        os.utime(f, (1000 + i, 1000 + i))
    assert compile_cache.trim(tmp_path, max_bytes=1000) == 0          # 800 bytes: within the limit
    assert compile_cache.trim(tmp_path, max_bytes=500) == 5           # down to 300 ≤ 375 bytes
    assert sorted(f.name for f in tmp_path.iterdir()) == ["entry5", "entry6", "entry7"]


def _simulate(cache: Path, out: Path):
    env = {**os.environ, "NEURODEPLOY_CACHE_DIR": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    subprocess.run([sys.executable, "-m", "neurodeploy.cli", "simulate", str(EXAMPLE / "model.json"),
                    "--input", str(EXAMPLE / "inputs.npz"), "-o", str(out)],
                   env=env, check=True, capture_output=True, text=True)


def test_a_second_run_loads_the_compiled_program_and_writes_the_same_bytes(tmp_path):
    cache = tmp_path / "xla"
    _simulate(cache, tmp_path / "cold.npz")
    entries = {f.name: f.stat().st_mtime_ns for f in cache.iterdir()}
    assert any(name.startswith("jit__run") for name in entries)      # the simulator's program was stored
    _simulate(cache, tmp_path / "warm.npz")
    assert {f.name: f.stat().st_mtime_ns for f in cache.iterdir()} == entries   # loaded, nothing compiled anew
    assert (tmp_path / "cold.npz").read_bytes() == (tmp_path / "warm.npz").read_bytes()
