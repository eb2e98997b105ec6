"""Use a chip profile: the device profile with the measured constants, and the simulator's factors of a board.

* :func:`measured_profile` — the device profile whose C_mem, C_ref and C_pulse are the chip profile's (geometric
  mean over its cores): bias codes computed from it (``map --chip``) give the measured chip its time constants;
* :func:`chip_factors` — the mismatch pytree of a decoded network on the measured board: per probed neuron

      C_mem factor  = (C_mem,core / C_mem,profile)·tau_mem        C_ref factor = (C_ref,core / C_ref,profile)·t_ref
      I_dc factor   = dc_drive                                   weight factor (every entry of the neuron)
                                                                 = (C_pulse,core / C_pulse,profile)·ampa_drive

  (the AMPA drive is mostly the neuron's membrane gain, shared by its dendrites, so it scales all its entries);
  1 for what the chip profile does not cover. ``--mismatch σ`` on top draws a residual per location for what the
  calibration could not pin down (each CAM slot's weight, the unidentified currents).
"""

from __future__ import annotations

import numpy as np


def measured_profile(profile, cp):
    """``profile`` with the chip profile's constants (geometric mean over its cores)."""
    names = ("C_mem", "C_ref", "C_pulse")
    update = {k: float(np.exp(np.mean([np.log(c.constants[k].value) for c in cp.cores if k in c.constants])))
              for k in names}
    return profile.model_copy(update={"analog": profile.analog.model_copy(update=update)})


def chip_factors(sites: np.ndarray, dst: np.ndarray, n_synapses: int, cp, measured) -> dict:
    """Per-neuron and per-entry factors (numpy) for neurons at ``sites`` [N, 3] and entries onto ``dst`` [S]:
    {"C_mem", "C_ref", "Idc": [N], "weight": [S]} (module doc)."""
    a = measured.analog
    n = len(sites)
    f = {k: np.ones(n) for k in ("C_mem", "C_ref", "Idc", "w")}
    for core in cp.cores:
        idx = {int(nn): i for i, nn in enumerate(core.neurons)}
        sel = np.nonzero((sites[:, 0] == core.chip) & (sites[:, 1] == core.core))[0]
        for j in sel:
            i = idx.get(int(sites[j, 2]))
            if i is None:
                continue
            f["C_mem"][j] = core.constants["C_mem"].value / a.C_mem * core.factors["tau_mem"][i]
            f["C_ref"][j] = core.constants["C_ref"].value / a.C_ref * core.factors["t_ref"][i]
            f["Idc"][j] = core.factors["dc_drive"][i]
            f["w"][j] = core.constants["C_pulse"].value / a.C_pulse * core.factors["ampa_drive"][i]
    return {"C_mem": f["C_mem"], "C_ref": f["C_ref"], "Idc": f["Idc"],
            "weight": f["w"][np.asarray(dst, np.int64)] if n_synapses else np.ones(0)}


def apply_chip_factors(mm: dict, factors: dict) -> dict:
    """The draw ``mm`` (a simulator mismatch pytree) times the chip factors."""
    import jax.numpy as jnp

    out = {"currents": dict(mm["currents"]), "capacitances": dict(mm["capacitances"]), **{k: v for k, v in mm.items()
                                                                                       if k not in ("currents", "capacitances")}}
    for k, group in (("C_mem", "capacitances"), ("C_ref", "capacitances"), ("Idc", "currents")):
        out[group][k] = out[group][k] * jnp.asarray(factors[k], out[group][k].dtype)
    out["weight"] = out["weight"] * jnp.asarray(factors["weight"], out["weight"].dtype)
    return out


#: the currents a network's time constants and gains need, and the measured constant each one scales with
RETARGETED: tuple[tuple[str, str], ...] = (("Itau_mem", "C_mem"), ("Igain_mem", "C_mem"), ("Iref", "C_ref"),
                                           ("Ipulse", "C_pulse"))


def retarget_network(network, nominal, measured):
    """The network with the currents that give it, on the measured chip, the dynamics it has on the nominal one
    (r_X = X_measured / X_nominal for the constant X):

        I'_tau_mem + I_0 = (I_tau_mem + I_0)·r_C_mem     τ_eff = U_T·C_mem/(κ·(I_tau + I_0)) kept
        I'_gain_mem      = I_gain_mem·r_C_mem             the membrane gain I_gain/(I_tau + I_0) kept
        I'_ref           = I_ref·r_C_ref                  t_ref = V_th·C_ref/I_ref kept
        I'_pulse         = I_pulse·r_C_pulse              the synaptic efficacy ∝ C_pulse/I_pulse kept

    (with the profile's I_0). The gain matters as much as the time constant: the membrane's steady state under an
    input current I_in is I_gain·I_in/(I_tau + I_0), so a τ_eff kept by I_tau alone would scale every synaptic
    and DC drive by 1/r_C_mem. A current the network leaves unset is taken at the profile's default code."""
    defaults = nominal.default_currents()
    i0 = nominal.analog.I_0
    pops = []
    for p in network.populations:
        update = {}
        for q, c in RETARGETED:
            r = getattr(measured.analog, c) / getattr(nominal.analog, c)
            v = np.asarray(getattr(p, q) if getattr(p, q) is not None else defaults[q], np.float64)
            new = (v + i0) * r - i0 if q == "Itau_mem" else v * r
            update[q] = float(new) if new.ndim == 0 else [float(x) for x in new]
        pops.append(p.model_copy(update=update))
    return network.model_copy(update={"populations": pops})
