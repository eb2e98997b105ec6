"""docs/tutorials/*.py run as they are, scaled down by their own arguments, each in a fresh folder, and write
the pictures their pages show."""

import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"

CASES = {
    "train_deploy_verify.py": (["--epochs", "1", "--trials", "2"], ["train_history.png", "train_deployed.png"]),
    "import_nir.py": (["--trials", "3"], ["nir_counts.png", "nir_raster.png"]),
    "board_workflow.py": (["--trials", "3"], ["board_selftest.png", "board_events.png",
                                              "plots/verify_rasters.png"]),
}


def test_every_tutorial_is_tested():
    assert sorted(p.name for p in TUTORIALS.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_tutorial_runs_and_draws(script, tmp_path):
    args, pictures = CASES[script]
    p = subprocess.run([sys.executable, TUTORIALS / script, *args], cwd=tmp_path, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    for name in pictures:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    # each page shows the pictures its script draws
    page = (TUTORIALS / script.replace(".py", ".md")).read_text()
    assert all(f"img/{Path(n).name}" in page for n in pictures if "/" not in n)
