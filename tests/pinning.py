"""Pinned sha256 of the configs (and quantized networks) the deployment produces.

A refactor must keep every config byte-identical; tests/test_pinned_configs.py and tools/pin_configs.py
(the command line over this module) prove it. Small cases run in the test suite; the big bench networks
(1024 and 4096 neurons, several seconds each) run from the command line only:

    python tools/pin_configs.py            # check every case (exit 1 on a mismatch)
    python tools/pin_configs.py --quick    # the small cases only
    python tools/pin_configs.py --write    # re-pin (only after a deliberate, reviewed change)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "tests" / "data" / "config_sha256.json"
EXAMPLE = ROOT / "examples" / "frozen_noise" / "model.json"
CAM_RED = ROOT / "tests" / "data" / "cam_profile_chip_red.json.gz"

# name → (kind, arguments); "example": CLI options of `neurodeploy map`; "bench": random_network(n, fan_in, seed)
SMALL = {
    "example": ("example", []),
    "example-no-spares-no-nmda": ("example", ["--no-spares", "--no-nmda-scale"]),
    "bench-64x48": ("bench", (64, 48, 0)),
    "bench-256x48": ("bench", (256, 48, 0)),
    "bench-200x40-cam-red": ("bench-cam", (200, 40, 5)),
}
BIG = {
    "bench-1024x48": ("bench", (1024, 48, 0)),
    "bench-1024x64": ("bench", (1024, 64, 0)),
    "bench-4096x64": ("bench", (4096, 64, 0)),
}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def compute(name: str, tmp: Path | None = None) -> dict[str, str]:
    """sha256 of the config.json (and quantized.json) of a case, as the CLI / the library write them."""
    kind, args = {**SMALL, **BIG}[name]
    if kind == "example":
        import tempfile

        from neurodeploy.cli import main

        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            try:
                main(["map", str(EXAMPLE), "-o", str(d / "config.json"), "--quantized", str(d / "q.json"), *args])
            except SystemExit as e:
                if e.code not in (0, None):
                    raise RuntimeError(f"neurodeploy map exited {e.code}") from None
            return {"config": _sha((d / "config.json").read_text()), "quantized": _sha((d / "q.json").read_text())}
    from neurodeploy.mapping.mapper import map_quantized
    from neurodeploy.device.profile import load_profile
    from neurodeploy.quantize.quantizer import quantize_network
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from networks import random_network

    prof = load_profile("dynapse2")
    n, fan, seed = args
    q = quantize_network(random_network(n, fan, seed=seed), prof)
    cams = {0: str(CAM_RED)} if kind == "bench-cam" else None
    d = map_quantized(q, prof, cam_profiles=cams)
    return {"config": _sha(d.config.dumps()), "quantized": _sha(d.quantized.dumps()), "input_quantized": _sha(q.dumps())}


def pinned() -> dict:
    return json.loads(PINS.read_text())


def main(argv):
    names = list(SMALL) + ([] if "--quick" in argv else list(BIG))
    if "--write" in argv:
        pins = pinned() if PINS.exists() else {}
        for n in names:
            pins[n] = compute(n)
            print(n, pins[n]["config"])
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
        return 0
    pins, bad = pinned(), 0
    for n in names:
        got = compute(n)
        ok = got == pins.get(n)
        bad += not ok
        print(f"{'OK  ' if ok else 'DIFF'} {n}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
