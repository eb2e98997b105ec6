"""The Python API for notebooks and scripts: ``from neurodeploy import load_network, deploy, simulate, emulate, verify``.

Each function takes objects or file paths (and a profile as a DeviceProfile, a built-in name or a YAML
path); the CLI commands are thin over the same library calls.

    >>> from neurodeploy import load_network, deploy, simulate, emulate, verify
    >>> spec = load_network("examples/frozen_noise/model.json")
    >>> out = simulate(spec, x, dt=1e-3, mismatch=0.1)       # the float model on the DPI simulator
    >>> d = deploy(spec)                       # d.config (HardwareConfig), d.report, d.quantized
    >>> res = emulate(d.config, x, dt=1e-3, mismatch=0.1)    # x: counts [batch, T, n_inputs]
    >>> report = verify(spec, d.config, x, dt=1e-3, labels=y)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .deploy import deploy  # noqa: F401  (re-exported)
from .profile import load_profile


def _profile(profile):
    return load_profile(profile) if isinstance(profile, (str, Path)) else profile


def load_network(path, *, profile="dynapse2", **import_options):
    """A NetworkSpec from model.json / .nir / .npz / .npy (``import_options`` as ``-O key=value`` on the CLI)."""
    from .importers import load_network as _load

    return _load(path, profile=_profile(profile), **import_options)


def _config(config):
    if isinstance(config, (str, Path)):
        from .config.model import load_config

        return load_config(config)
    return config


def _inputs(inputs, dt):
    """(counts [batch, T, n], dt) from an array (+ dt) or an npz file with 'spikes' and 'dt'."""
    if isinstance(inputs, (str, Path)):
        from .inputs import load_input

        data = load_input(inputs, events=False)
        return data["spikes"], data["dt"]
    if dt is None:
        raise ValueError("dt (s) is required with an input array")
    x = np.asarray(inputs, np.float32)
    return (x[None] if x.ndim == 2 else x), float(dt)


def simulate(model, inputs, dt: float | None = None, *, profile="dynapse2", mismatch: float = 0.0, seed: int = 0,
             record: bool = False) -> dict:
    """Run a NetworkSpec (or any model file) on the float DPI simulator (:mod:`neurodeploy.sim`); σ =
    ``mismatch`` (0.1 = 10 %, 0 = the nominal chip), the draw seeded by ``seed``.

    Returns ``{"spikes": [batch, T, N] uint8, "dt", "output_indices", "mismatch", "seed"}`` plus, with
    ``record``, every state variable of :data:`neurodeploy.sim.RECORDED` ([batch, T, N] float32, A).
    """
    import jax

    from .sim.errors import SimError
    from .sim.mismatch import sample_mismatch
    from .sim.network import build_from_spec
    from .sim.simulate import simulate as _simulate

    if not (np.isfinite(mismatch) and mismatch >= 0):
        raise SimError(f"--mismatch: expected a relative standard deviation >= 0 (0.1 = 10 %), got {mismatch}")
    prof = _profile(profile)
    spec = load_network(model, profile=prof) if isinstance(model, (str, Path)) else model
    x, dt = _inputs(inputs, spec.dt if dt is None else dt)
    net, index = build_from_spec(spec, prof)
    draw = sample_mismatch(net, jax.random.PRNGKey(seed), sigma=mismatch) if mismatch > 0 else None
    spikes, _, rec = _simulate(net, x, draw, dt=None if dt == spec.dt else dt, record=record)
    out = {"spikes": np.round(np.asarray(spikes)).astype(np.uint8), "dt": np.float64(dt),
           "output_indices": np.asarray(index.output_indices, np.int64), "mismatch": np.float64(mismatch),
           "seed": np.int64(seed)}
    out.update({k: np.asarray(v, np.float32) for k, v in (rec or {}).items()} if record else {})
    return out


def emulate(config, inputs, dt: float | None = None, *, profile="dynapse2", mismatch: float = 0.0, seed: int = 0):
    """Run a HardwareConfig (or config.json) on the bit-accurate emulator; σ = ``mismatch`` (0.1 = 10 %).
    Returns an :class:`~neurodeploy.backends.emulator.EmulationResult` (spikes, outputs, sites, events())."""
    from .backends.emulator import Emulator

    x, dt = _inputs(inputs, dt)
    return Emulator(_config(config), _profile(profile), dt=dt).run(x, dt, mismatch=mismatch, seed=seed)


def verify(model, config, inputs, dt: float | None = None, *, labels=None, trials: int = 32, mismatch: float = 0.1,
           seed: int = 0, tolerance=None, profile="dynapse2") -> dict:
    """Float model vs deployed config on the same inputs over ``trials`` mismatch draws; the report dict
    (``passed`` inside). ``tolerance``: a :class:`~neurodeploy.verify.Tolerance` or None (defaults)."""
    from .verify import verify as _verify

    prof = _profile(profile)
    spec = load_network(model, profile=prof) if isinstance(model, (str, Path)) else model
    x, dt = _inputs(inputs, dt)
    if labels is not None and isinstance(labels, (str, Path)):
        labels = np.load(labels, allow_pickle=False)
    return _verify(spec, _config(config), prof, x, dt, labels=labels, trials=trials, mismatch=mismatch, seed=seed,
                   tolerance=tolerance)
