"""Use a chip profile: the device profile with the measured constants, and the simulator's factors of a board.

* :func:`measured_profile` — the device profile whose C_mem, C_ref and C_pulse (and, for a chip profile with
  ``delay_calibrated``, C_dly0..2, then ``analog.delay_calibrated`` true) are the chip profile's (geometric mean over
  its cores): bias codes computed from it (``map --chip``) give the measured chip its time constants and delays;
* :func:`retarget_delay_codes` — each measured core's delay-stage codes for its own C_dly,i (the profile's are the
  cores' geometric mean C̄_dly,i): I'_i = I_i·r_i → the nearest code, r_i = C_dly,i(core)/C̄_dly,i (:func:`stage_ratios`);
* :func:`chip_stage_delays` — the stage delays the measured chip realises for a config, core by core,
  t_i(core) = V_th·C_dly,i(core)/I(code'_i) = r_i·t̄_i (s), t̄_i the stage delay decoded on the measured profile: the
  quantizer's t_i up to the code rounding of I'_i; :func:`chip_delays` — each entry's delay (s) and mismatch spread on
  the measured chip, Σ_i r_i·d_i from its stage parts d_i (:func:`chip_delay_factors`: their ratio to Σ_i d_i), which
  the emulated measured chip runs (:func:`on_chip_delays`: the chip's delay times the residual draw) and
  ``train --chip`` trains on (:mod:`neurodeploy.train.chip_delays`);
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
    """``profile`` with the chip profile's constants (geometric mean over its cores); with measured delay stages
    (``cp.delay_calibrated``) C_dly0..2 too, and ``analog.delay_calibrated`` true."""
    from ..device.chip_profile import DELAY_CONSTANTS

    names = ("C_mem", "C_ref", "C_pulse") + (DELAY_CONSTANTS if cp.delay_calibrated else ())
    update = {k: float(np.exp(np.mean([np.log(c.constants[k].value) for c in cp.cores if k in c.constants])))
              for k in names}
    if cp.delay_calibrated:
        update["delay_calibrated"] = True
    return profile.model_copy(update={"analog": profile.analog.model_copy(update=update)})


def retarget_delay_codes(cfg, cp, measured):
    """``cfg`` (mapped on ``measured``, :func:`measured_profile`) with each delay-calibrated core's stage codes
    recomputed for that core's own capacitors: the stage delay t_i = V_th·C̄_dly,i/I_i that the quantizer chose with
    the cores' geometric mean C̄ is kept on the core, I'_i = I_i·C_dly,i(core)/C̄_dly,i → the nearest code. A core
    without delay codes, or not in the chip profile, is unchanged. Returns (config, {(chip, core): [3] code
    changes})."""
    import json

    from ..config.config_json import config_from_dict
    from ..device.profile import DELAY_QUANTITIES

    if not cp.delay_calibrated:
        return cfg, {}
    a = measured.analog
    raw = json.loads(cfg.dumps())
    changed = {}
    for chip in raw["chips"]:
        for core in chip["cores"]:
            cc = cp.core(chip["chip"], core["core"])
            if cc is None:
                continue
            moved = []
            for i, q in enumerate(DELAY_QUANTITIES):
                pname = measured.quantity_to_parameter[q]
                code = core["parameters"].get(pname)
                if code is None:
                    continue
                cur = float(measured.bias.to_current(pname, code["coarse"], code["fine"]))
                r = cc.constants[f"C_dly{i}"].value / getattr(a, f"C_dly{i}")
                new = measured.bias.to_code(pname, cur * r, clip=True)
                core["parameters"][pname] = {"coarse": int(new.coarse), "fine": int(new.fine)}
                moved.append((code["coarse"], code["fine"]) != (int(new.coarse), int(new.fine)))
            if moved:
                changed[(chip["chip"], core["core"])] = moved
    return config_from_dict(raw, "the delay codes of the measured cores"), changed


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


def stage_ratios(cp, measured, chip: int, core: int) -> np.ndarray:
    """[3] r_i = C_dly,i(core)/C̄_dly,i: how much longer stage i of (``chip``, ``core``) delays than the cores' geometric
    mean C̄ (``measured``, :func:`measured_profile`) at the same code; 1 for a core the chip profile does not cover."""
    cc = cp.core(int(chip), int(core))
    a = measured.analog
    return np.array([cc.constants[f"C_dly{i}"].value / getattr(a, f"C_dly{i}") if cc is not None else 1.0
                     for i in range(3)])


def stage_delays(cfg, profile) -> dict:
    """{(chip, core): [3] (t₀, t₁, t₂) (s)} of every core of ``cfg`` that sets its three delay-stage codes, read as the
    decoder reads them on ``profile``: t_i = V_th·C_dly,i/I(code_i) (eq. (8) of :mod:`neurodeploy.device.delays`)."""
    from ..device.profile import DELAY_QUANTITIES

    names = [profile.quantity_to_parameter[q] for q in DELAY_QUANTITIES]
    out = {}
    for chip in cfg.chips:
        for core in chip.cores:
            codes = [core.parameters.get(n) for n in names]
            if all(c is not None for c in codes):
                cur = [float(profile.bias.to_current(n, c.coarse, c.fine)) for n, c in zip(names, codes)]
                out[chip.chip, core.core] = np.asarray(profile.delay_times(cur), np.float64)
    return out


def chip_stage_delays(cfg, cp, measured) -> dict:
    """{(chip, core): [3] s} the stage delays the measured chip realises for ``cfg`` (mapped on ``measured`` and
    retargeted, :func:`retarget_delay_codes`): t_i(core) = V_th·C_dly,i(core)/I(code_i) = r_i·t̄_i, with t̄_i
    (:func:`stage_delays` on ``measured``) and r_i (:func:`stage_ratios`) — what :func:`chip_delays` gives each entry."""
    return {ck: t * stage_ratios(cp, measured, *ck) for ck, t in stage_delays(cfg, measured).items()}


def _entry_ratios(decoded, cp, measured) -> np.ndarray:
    """[E, 3] the stage ratios r_i (:func:`stage_ratios`) of each decoded entry's core."""
    r = {ck: stage_ratios(cp, measured, *ck) for ck in {(int(c), int(k)) for c, k in decoded.sites[:, :2]}}
    site = decoded.sites[decoded.dst]
    return np.array([r[int(c), int(k)] for c, k in site[:, :2]]).reshape(-1, 3)


def chip_delay_factors(decoded, cp, measured) -> np.ndarray | None:
    """[E] each decoded entry's delay on its own core relative to its delay on ``measured`` (the cores' geometric
    mean C̄_dly; ``decoded`` decoded with it): with r_i = C_dly,i(core)/C̄_dly,i and the entry's stage parts d_i
    (``decoded.delay_terms``, eq. (9)),

        factor = Σ_i r_i·d_i / Σ_i d_i      (1 for an undelayed entry)

    None when the decoded network has no delays or the chip profile no measured delay stages."""
    if decoded.delay_terms is None or not cp.delay_calibrated:
        return None
    d = decoded.delay_terms.sum(axis=1)
    return np.where(d > 0, (decoded.delay_terms * _entry_ratios(decoded, cp, measured)).sum(axis=1)
                    / np.where(d > 0, d, 1.0), 1.0)


def chip_delays(decoded, cp, measured):
    """([E] delay (s), [E] spread) of each decoded entry on the measured chip, or None (as :func:`chip_delay_factors`):
    the stage parts d_i·r_i of its own core sum to the delay Σ_i r_i·d_i, and the spread (relative to the chip's σ)
    is eq. (10) of :mod:`neurodeploy.device.delays` for those parts, √Σ(s_i·r_i·d_i)² / Σ r_i·d_i (s_i the
    profile's ``dly_mismatch``). The emulated measured chip runs these (:func:`on_chip_delays`)."""
    from ..device.delays import entry_spread

    if decoded.delay_terms is None or not cp.delay_calibrated:
        return None
    t = decoded.delay_terms * _entry_ratios(decoded, cp, measured)
    spread = entry_spread(t[:, 0], t[:, 1], t[:, 2], t[:, 1] > 0, t[:, 2] > 0, measured.analog.dly_mismatch)
    return t.sum(axis=1), spread


def on_chip_delays(net, decoded, cp, measured):
    """The simulator network ``net`` (built from ``decoded``) with the measured chip's delays and spreads
    (:func:`chip_delays`): a mismatch draw m then delays an entry by d·max(1 + spread·(m − 1), ·), the chip's own
    delay d times the residual; ``net`` unchanged without measured delay stages."""
    import jax.numpy as jnp

    got = chip_delays(decoded, cp, measured)
    if got is None or net.delay is None:
        return net
    slots = max(net.delay_slots, int(np.ceil(2.0 * float(got[0].max(initial=0.0)) / net.dt - 1e-9)) + 2)
    return net.replace(delay=jnp.asarray(got[0], net.delay.dtype), delay_spread=jnp.asarray(got[1], net.delay.dtype),
                       delay_slots=slots)       # room for twice the longest delay, as the network was built with


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
