"""Calibration: measure one board through the backend interface and fit the simulator to it.

- :mod:`.probes` — the probe experiments (DC f–I curves, a slow-refractory run, AMPA event trains), run with
  ``load``/``run`` only, so the same code measures an emulated board and a real one;
- :mod:`.delay_probe` — the delay-stage probe (one event per delay level into neurons that fire on it, timed
  against an undelayed entry of the same neuron) and its linear fit of C_dly0..2 per core;
- :mod:`.model` — the closed-form inter-spike interval of a DPI neuron under constant drive;
- :mod:`.fit` — per-neuron log-factors fitted with optax (then Gauss–Newton), uncertainties from the curvature;
- :mod:`.refine` — the simulator run with the fitted factors: the fit's forward model is corrected until it is
  the simulator's own;
- :mod:`.calibrate` — the whole calibration → a :class:`~neurodeploy.device.chip_profile.ChipProfile`;
- :mod:`.apply`, :mod:`.placement` — a chip profile used: the measured profile, retargeted currents and delay
  codes, the placement on the best-measured neurons (``map --chip``), the measured chip's factors;
- :mod:`.hidden` — hidden chips (perturbed constants + hidden mismatch) to rehearse on and to score.

**Identifiable from spikes** (with these probes): per neuron the effective membrane time constant τ_eff, the
refractory period t_ref, the DC drive I_gain·I_dc/(I_tau·I_spkthr) and the AMPA drive (the neuron's part of a
synaptic event's effect); per core their geometric means, written as the effective constants C_mem (with the
profile's U_T, κ, I_0), C_ref (with V_th) and C_pulse (with V_th, through the AMPA drive); and per core the three
delay stages, written as the effective C_dly0, C_dly1, C_dly2 (with V_th: t_i = V_th·C_dly,i/I_dly,i), from the
latencies of the delay levels (the mean over the probed neurons: each CAM entry's own delay factor is averaged out).

**Not identifiable** separately (they enter the spikes only in the combinations above, or not at all with these
probes): U_T, κ_n, κ_p, V_th and I_0 on their own; C_ampa, C_nmda, C_gaba, C_shunt, C_ahp, C_pulse_ahp (the rate
probes see a synapse's charge, not its time constant); a neuron's I_gain, I_tau, I_spkthr, I_dc separately; each
CAM slot's weight factor (the AMPA probe averages ``SLOTS`` slots); each CAM entry's own delay factor (the delay
probe averages it out); a delay offset common to every delayed entry (the model has none: a constant added to every
level would enter the fit as a change of C_dly0). Their mismatch still moves the measured intervals a little; the
stated uncertainty includes that.
"""
