"""One physics module: the circuit relations the profile, importers, export and quantizer use, without jax."""

import subprocess
import sys

import numpy as np
import pytest

from neurodeploy.device import physics


def test_importing_physics_profile_and_deploy_stages_does_not_import_jax():
    code = ("import sys; import neurodeploy, neurodeploy.device.physics, neurodeploy.device.profile, neurodeploy.quantize.quantizer, "
            "neurodeploy.mapping.mapper, neurodeploy.importers.nir, neurodeploy.importers.nir.export, neurodeploy.rules; "
            "print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_simulator_uses_the_same_relations():
    from neurodeploy.sim import dpi

    assert dpi.time_constant is physics.time_constant
    assert dpi.pulse_width is physics.pulse_width
    assert dpi.charge_per_event is physics.charge_per_event


def test_numpy_and_jax_give_the_same_numbers():
    import jax.numpy as jnp

    args = (np.array([1e-9, 2e-9]), np.array([1e-11, 5e-11]), np.array([0.01, 0.002]), 1e-5)
    a = physics.charge_per_event(*args)
    b = physics.charge_per_event(*(jnp.asarray(x) if isinstance(x, np.ndarray) else x for x in args))
    assert isinstance(a, np.ndarray) and not isinstance(b, np.ndarray)
    np.testing.assert_allclose(np.asarray(b), a, rtol=1e-6)
    # eq. (4) by hand
    np.testing.assert_allclose(a, (args[0] / args[1]) * (1 - np.exp(-args[3] / args[2])), rtol=1e-12)


def test_relations_and_their_inverses(profile):
    a = profile.analog
    tau = 0.02
    i = profile.tau_to_current(tau, "C_mem")
    assert i == pytest.approx(a.U_T * a.C_mem / (a.kappa * tau), rel=1e-15)
    assert profile.current_to_tau(i, "C_mem") == pytest.approx(tau, rel=1e-12)
    assert profile.pulse_to_current(1e-5) == pytest.approx(a.V_th * a.C_pulse / 1e-5, rel=1e-15)
    assert physics.pulse_width(a.C_pulse, profile.pulse_to_current(1e-5), a.V_th) == pytest.approx(1e-5)
    # the DC steady state and its inverse (NIR import / export)
    idc = physics.dc_current(0.4, 1e-7, 2e-12, 4e-12)
    assert idc == pytest.approx(0.4 * 1e-7 * 2e-12 / 4e-12)
    assert physics.dc_fraction(idc, 1e-7, 2e-12, 4e-12) == pytest.approx(0.4)
    # NMDA at AMPA's time constant: same τ with its own capacitance
    i_n = physics.same_tau_current(3e-12, a.C_ampa, a.C_nmda)
    assert physics.time_constant(a.C_nmda, i_n, a.U_T, a.kappa) == pytest.approx(physics.time_constant(a.C_ampa, 3e-12, a.U_T, a.kappa))
