"""Every fact about the Dynap-SE2 chip, in one place that every stage imports and that imports no stage.

- :mod:`.profile` — the device profile (geometry, analog constants, bias parameters, chip-level
  parameter groups) and the host-route convention;
- :mod:`.chip_parameters` — the chip-level parameter groups (global, shared, sADC group);
- :mod:`.bias` — the bias generator: (coarse, fine) codes ↔ currents through the measured table;
- :mod:`.physics` — the DPI circuit relations (time constants, pulse widths, delays), without jax;
- :mod:`.dendrites` — the four synapse types and their signs;
- :mod:`.masks` — weight masks, core masks and the weight alphabet of a synapse class;
- :mod:`.parameter_sets` — which parameters matter to a neuron, and how many cores a network needs;
- :mod:`.synapses` — the synapse columns of a network and the fan-in rule (keep the largest);
- :mod:`.delays` — the delay grid of a core (three stages, two bits per CAM entry).

Dependencies point one way: commands → stages → sim → device → basics (errors, fileio, ...).
"""
