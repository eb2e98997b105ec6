"""``train --chip`` with learned delays: the QAT phase puts them on the levels the measured chip realises after
``map --chip``, core by core.

What is left between a model and its chip is the code rounding of ``retarget_delay_codes``: a stage delays
t_i(core) = V_th·C_dly,i(core)/I(code'_i), the quantizer's t̄_i only up to rounding I_i·r_i to a code, so a level
moves by |Σ_i (t_i(core) − t̄_i)| / Σ_i t̄_i over the stages it uses (``rounding`` of
:func:`neurodeploy.calibration.delay_check.deployed_delays`). Measured on the chip of tests/chips.py (each core's
C_dly,i −23 … +26 % off the cores' mean): a model fine-tuned on the nominal quantizer's levels (what ``train --chip``
gives with a chip profile without measured delay stages) is delayed 0.5 % (this network; 1.7 % on the 80-neuron one
of docs/results.md) off its own delays, more than that rounding (0.26 %); fine-tuned for the chip, it is delayed
within the rounding (0.23 %), and exactly as the training's chip quantizer delays it.
"""

import numpy as np
import pytest
from chips import synthetic_chip

from neurodeploy.network import network_from_dict

SMALL = dict(n_train=16, n_val=8, n_test=8)
#: the float32 rounding of model.json's delays (relative)
RTOL = 1e-5


def _chip(profile, delays: bool):
    return synthetic_chip(profile, delays)


def _cfg():
    from neurodeploy.train.loop import TrainConfig

    return TrainConfig(epochs=2, qat_epochs=1, batch_size=8, lr=0.05, seed=1, draws=1, eval_draws=1, mismatch=0.02,
                       progress=False, learn_delays=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, profile):
    """The coincidence task's default network (init.json), fine-tuned for the delay-calibrated chip and for the same
    chip without measured delay stages."""
    from neurodeploy.train.architecture import default_network
    from neurodeploy.train.run import train
    from neurodeploy.train.tasks import get_task

    d = tmp_path_factory.mktemp("chip_delays")
    task = get_task("coincidence", **SMALL)
    default_network(task, task.architecture(), profile, seed=0).save(d / "init.json")
    for name, delays in (("chip", True), ("plain", False)):
        train(task, d / f"{name}.json", _cfg(), profile, init=d / "init.json", chip=_chip(profile, delays), report=False)
    return d


def _deployed(path, cp, profile):
    """The model's and the emulated measured chip's delay of every deployed entry after ``map --chip``, and the code
    rounding that ``map --chip`` leaves (:func:`neurodeploy.calibration.delay_check.deployed_delays`)."""
    from neurodeploy.calibration.delay_check import deployed_delays
    from neurodeploy.importers import load_network

    return deployed_delays(load_network(path, profile=profile), profile, cp)


def _chip_quantizer_levels(path, cp, profile) -> np.ndarray:
    """The distinct non-zero delays (s) the training's chip quantizer gives the model's delays."""
    from neurodeploy.importers import load_network
    from neurodeploy.train.chip_delays import ChipGridQuantizer
    from neurodeploy.train.structure import Structure

    st = Structure(load_network(path, profile=profile), profile, learn_delays=True, seed=0)
    theta = st.init_theta()
    qz = ChipGridQuantizer(st, profile, cp)
    qz.refit(theta, np.asarray(theta["weights"]))
    u = qz.delay_values(np.asarray(theta["delays"])) * st.delay_unit
    return np.unique(np.round(u[u > 0], 9))


def test_the_measured_chip_realises_the_delays_trained_for_it(trained, profile):
    cp = _chip(profile, True)
    model, realised, rounding, _ = _deployed(trained / "chip.json", cp, profile)
    on = model > 0
    assert on.sum() > 10
    assert 0 < rounding < 0.02
    assert np.max(np.abs(realised[on] / model[on] - 1)) <= rounding + RTOL
    # what the chip delays them by is what the training's chip quantizer delays them by
    np.testing.assert_allclose(np.unique(np.round(realised[on], 9)), _chip_quantizer_levels(trained / "chip.json", cp,
                                                                                              profile), rtol=RTOL)
    # trained on the nominal levels (a chip profile without measured delay stages), the chip delays them further off
    model, realised, rounding, _ = _deployed(trained / "plain.json", cp, profile)
    on = model > 0
    assert np.max(np.abs(realised[on] / model[on] - 1)) > rounding + RTOL


def test_chip_levels_replace_the_nominal_ones_only_with_measured_delay_stages(trained, profile):
    """Without measured delay stages the fine-tuned delays sit on the nominal quantizer's levels (as without --chip);
    with them, on the chip's, which the nominal quantizer does not reproduce."""
    from neurodeploy.importers import load_network
    from neurodeploy.train.constraints import GridQuantizer
    from neurodeploy.train.structure import Structure

    def off_nominal(path) -> float:
        network = load_network(path, profile=profile)
        st = Structure(network, profile, learn_delays=True, seed=0)
        theta = st.init_theta()
        qz = GridQuantizer(st, profile)
        qz.refit(theta, np.asarray(theta["weights"]))
        u = np.asarray(theta["delays"], np.float64)
        on = u > 0
        return float(np.max(np.abs(qz.delay_values(u)[on] / u[on] - 1)))

    assert off_nominal(trained / "plain.json") <= RTOL
    assert off_nominal(trained / "chip.json") > 100 * RTOL


def test_the_emulated_chip_delays_an_entry_by_its_core_not_by_its_spread(profile):
    """An entry on DLY2 (mismatch spread 3) is delayed by Σ r_i·d_i on its core — the chip's delay — and a residual
    draw of σ scales that delay, not the chip's deviation."""
    from neurodeploy.backends.emulator import EmulatorBackend
    from neurodeploy.calibration.apply import chip_delay_factors
    from neurodeploy.calibration.placement import deploy_on_chip
    from neurodeploy.sim.mismatch import mismatched_delay

    delays = [0.012, 0.018, 0.03, 0.03]
    network = network_from_dict({"n_inputs": 4, "populations": [{"name": "p", "size": 4}],
                                 "outputs": [{"population": "p"}],
                                 "projections": [{"source": "input", "target": "p", "weight_scale": 1e-7,
                                                  "pre": [0, 1, 2, 3], "post": [0, 1, 2, 3], "w": [3.0] * 4,
                                                  "delay": delays}]})
    cp = _chip(profile, True)
    _, cfg, _ = deploy_on_chip(network, profile, cp)
    backend = EmulatorBackend(profile, chip_profile=cp)
    backend.load(cfg)
    backend.run({"spikes": np.zeros((1, 4, 4), np.float32), "dt": 1e-3})
    d = backend.emulator.decoded
    assert np.any(d.delay_spread > 2)                           # an entry uses DLY2
    want = d.delay * chip_delay_factors(d, cp, backend.profile)
    np.testing.assert_allclose(np.asarray(mismatched_delay(*backend.measured_chip(backend.emulator))), want, rtol=1e-6)
    np.testing.assert_allclose(np.sort(want), delays, rtol=0.02)        # map --chip kept the delays on that core
