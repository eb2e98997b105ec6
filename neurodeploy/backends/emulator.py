"""Bit-accurate emulator of a Dynap-SE2 board: runs a HardwareConfig like the chips would.

The digital side is decoded exactly (:func:`neurodeploy.config.decode.decode`: DAC codes through
the measured bias table, 4-bit masks summing the core's base weights, tag matching including
crosstalk and repeated tags, hops, core masks, latches). The analog side is the ONE simulator
(:mod:`neurodeploy.sim`) run on the decoded network, with device mismatch.

Mismatch belongs to the silicon: the factor of a neuron's bias current or capacitance is drawn
from (seed, chip, core, neuron) and a weight's from (seed, chip, core, neuron, CAM slot), so a
physical location keeps its factor whatever else is configured, and crosstalk matches of one CAM
entry share its factor. ``trials`` stacks independent boards (seeds) for one vmapped call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.decode import DecodedNetwork, decode
from ..profile import NEURON_QUANTITIES
from .events import spike_events


@dataclass
class EmulationResult:
    spikes: np.ndarray      # [(trials,) batch, T, M] spikes of every configured neuron
    outputs: np.ndarray     # [(trials,) batch, T, n_out] spikes of the model outputs, in order
    sites: np.ndarray       # [M, 3] (chip, core, neuron)
    dt: float

    def events(self) -> np.ndarray:
        """[K, 5] (batch, timestamp µs, chip, core, neuron) — first trial when several."""
        s = self.spikes if self.spikes.ndim == 3 else self.spikes[0]
        return spike_events(s, self.sites, self.dt)


class Emulator:
    """A board running ``cfg``. ``input_routes`` (from raw FPGA events) replaces the config's inputs."""

    def __init__(self, cfg, profile, input_routes=None, dt: float = 1e-3):
        from ..sim import build_from_arrays

        self.cfg, self.profile = cfg, profile
        self.decoded: DecodedNetwork = decode(cfg, profile, input_routes)
        d = self.decoded
        self.net = build_from_arrays(d.n_inputs, d.params, d.flags, d.src, d.dst, d.dendrite, d.weight, profile, dt=dt)

    # ---- mismatch --------------------------------------------------------------------------
    def mismatch(self, seed: int, percent: float, sigma_rule: float = 3.0, trials: int | None = None):
        """Mismatch draw(s) of this board (see module doc); ``trials`` → stacked draws."""
        import jax
        import jax.numpy as jnp

        from ..sim.mismatch import MIN_FACTOR, sigma_of
        from ..sim.network import CAPACITANCES

        sigma = sigma_of(percent, sigma_rule)
        geo = self.profile.geometry
        d = self.decoded
        chips = np.unique(d.sites[:, 0]) if d.sites.size else np.zeros(0, np.int64)
        site_flat = jnp.asarray(d.sites[:, 1] * geo.neurons_per_core + d.sites[:, 2])
        chip_pos = {int(c): i for i, c in enumerate(chips)}
        chip_of = jnp.asarray([chip_pos[int(c)] for c in d.sites[:, 0]], jnp.int32)
        slot = d.cam_entry % geo.cam_entries_per_neuron
        entry_flat = jnp.asarray(d.sites[d.dst, 1] * geo.neurons_per_core * geo.cam_entries_per_neuron
                                 + d.sites[d.dst, 2] * geo.cam_entries_per_neuron + slot) if d.dst.size else jnp.zeros(0, jnp.int32)
        entry_chip = jnp.asarray([chip_pos[int(c)] for c in d.sites[d.dst, 0]], jnp.int32) if d.dst.size else jnp.zeros(0, jnp.int32)
        n_site = geo.cores_per_chip * geo.neurons_per_core
        names = list(NEURON_QUANTITIES) + list(CAPACITANCES)

        def one(key):
            cur, cap = {}, {}
            per_chip = []
            for c in chips:
                kc = jax.random.fold_in(key, int(c))
                ks = jax.random.split(kc, len(names) + 1)
                per_chip.append((ks, kc))
            def factors(i, size):
                return jnp.stack([jnp.maximum(1 + sigma * jax.random.normal(ks[i], (size,)), MIN_FACTOR)
                                  for ks, _ in per_chip]) if per_chip else jnp.ones((0, size))
            for i, name in enumerate(names):
                f = factors(i, n_site)[chip_of, site_flat]
                (cur if name in NEURON_QUANTITIES else cap)[name] = f.astype(jnp.float32)
            wf = factors(len(names), n_site * geo.cam_entries_per_neuron)
            w = wf[entry_chip, entry_flat].astype(jnp.float32)
            return {"currents": cur, "capacitances": cap, "weight": w}

        if trials is None:
            return one(jax.random.PRNGKey(seed))
        return jax.vmap(one)(jax.random.split(jax.random.PRNGKey(seed), trials))

    # ---- running ---------------------------------------------------------------------------
    def run(self, raster, dt: float, *, mismatch_percent: float = 0.0, seed: int = 0, trials: int | None = None,
            sigma_rule: float = 3.0, with_nominal: bool = False) -> EmulationResult:
        """Run on input counts [batch, T, n_sources] (or [T, n]); ``trials`` boards in one vmapped call.

        ``with_nominal`` (with ``trials``): trial 0 is the nominal board (no mismatch), followed by
        the ``trials`` mismatched boards — one compilation for both.
        """
        import jax
        import jax.numpy as jnp

        from ..sim import no_mismatch, simulate

        x = np.asarray(raster, np.float32)
        if x.ndim == 2:
            x = x[None]
        if mismatch_percent > 0 or trials is not None:
            mm = self.mismatch(seed, mismatch_percent, sigma_rule, trials)
            if trials is not None and with_nominal:
                mm = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), no_mismatch(self.net), mm)
        else:
            mm = None
        if trials is None:
            spikes, _, _ = simulate(self.net, x, mm, dt=dt)
        else:
            spikes = jax.vmap(lambda m: simulate(self.net, x, m, dt=dt)[0])(mm)
        spikes = np.asarray(spikes)
        return EmulationResult(spikes, spikes[..., self.decoded.outputs], self.decoded.sites, dt)


def emulate_file(config_path, input_path, profile, *, mismatch: float = 0.0, seed: int = 0):
    """Load a config and an input file (raster or events) and run them: the CLI's library call."""
    from ..validate import load_checked_config
    from .events import load_input, raster_from_events

    cfg = load_checked_config(config_path, profile)
    data = load_input(input_path, n_inputs=None)
    if "events" in data:
        raster, routes = raster_from_events(data["events"], data["dt"], data.get("duration"))
        emu = Emulator(cfg, profile, input_routes=routes, dt=data["dt"])
    else:
        raster = data["spikes"]
        if raster.shape[2] != len(cfg.inputs):
            from .events import InputError

            raise InputError(f"{input_path}: 'spikes' has {raster.shape[2]} input channels, the config "
                             f"{config_path} has {len(cfg.inputs)} ($.inputs)")
        emu = Emulator(cfg, profile, dt=data["dt"])
    return emu, emu.run(raster, data["dt"], mismatch_percent=mismatch * 100.0, seed=seed)
