"""The float network's draws in verify: units of one fixed shape, each draw's counts the same bits in any unit."""

from pathlib import Path

import numpy as np

EX = Path(__file__).resolve().parents[1] / "examples" / "frozen_noise"


def test_a_short_unit_gives_its_draws_the_counts_they_have_in_a_full_one(profile):
    from neurodeploy.importers import load_network
    from neurodeploy.study.engines import LocalEngine
    from neurodeploy.verification.float_draws import DRAWS_PER_UNIT, float_counts, float_draws, run_float_unit

    network = load_network(EX / "model.json", profile=profile)
    z = np.load(EX / "inputs.npz")
    x, dt, n_mm = np.asarray(z["spikes"][:3, :200], np.float32), float(z["dt"]), DRAWS_PER_UNIT + 1
    counts, raster = float_counts(LocalEngine(), network, profile, x, dt, (20, 180), n_mm, 0.3, 5)
    assert counts.shape == (n_mm + 1, 3, network.output_indices().size)
    assert len({c.tobytes() for c in counts}) > 2                      # the draws differ from each other
    draws = float_draws(network, profile, n_mm, 0.3, 5)
    part, first = run_float_unit(network, profile, x, dt, (20, 180), _slice(draws, 3, 5))
    assert np.array_equal(part, counts[3:5])                           # draws 3, 4 alone: the same counts
    assert np.array_equal(raster[20:180].sum(0), counts[0, 0])        # the nominal chip's raster, sample 0
    assert np.array_equal(first[20:180].sum(0), counts[3, 0])         # a unit's raster: its first draw's


def _slice(tree, lo, hi):
    import jax

    return jax.tree_util.tree_map(lambda a: a[lo:hi], tree)
