"""Training on the chip's physics: surrogate-gradient BPTT through :mod:`neurodeploy.sim`.

- :mod:`.structure` — a NetworkSpec as trainable arrays (every synapse slot, zeros included) and back
- :mod:`.architecture` — a task's default network (populations, projections, initial weights)
- :mod:`.losses` — cross-entropy on spike counts / synaptic current, rate MSE, rate regulariser
- :mod:`.constraints` — hardware-aware constraints: fan-in mask, bias range, quantization-aware training
- :mod:`.loop` — the optimiser loop (optax, one jit-compiled step, mismatch draws, checkpoints)
- :mod:`.run` — task → trained model.json (+ report); :mod:`.report` — the training report
- :mod:`.task` — the task interface and the built-in tasks (``tasks`` branch)

Dependency direction: cli → train → sim/quantize/spec, never back.
"""
